/**
 * Serves the operator web inbox (the Vite build in `web/dist`) at `/`. Built files are served as
 * they are (hashed assets cached for a year); any other GET outside the API answers `index.html`
 * so the single-page app handles its own routes. Paths of the API and the probes
 * (`/v1`, `/webhooks`, `/healthz`, `/readyz`, `/metrics*`, `/simulator`, `/docs`) are never
 * shadowed: unknown ones still answer the JSON 404.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** The default location of the built UI, relative to the repository root. */
export const DEFAULT_WEB_ROOT = path.resolve(import.meta.dirname, '../../web/dist');

const RESERVED = /^\/(v1|webhooks|healthz|readyz|metrics|metrics-json|simulator|docs)(\/|$|\?|-)/;

// The inbox loads only its own files; the Facebook SDK is allowed for Embedded Signup in production.
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self' https://connect.facebook.net",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob: https:",
  "media-src 'self' blob: https:",
  "connect-src 'self' https://*.facebook.com",
  'frame-src https://www.facebook.com https://web.facebook.com',
  "frame-ancestors 'none'",
  "base-uri 'self'",
  "form-action 'self'",
].join('; ');

/** The inbox's pages are not API: left out of the OpenAPI document. */
const HIDDEN = { schema: { hide: true } };

function htmlHeaders(reply: FastifyReply): void {
  void reply.header('content-security-policy', CONTENT_SECURITY_POLICY);
  void reply.header('x-content-type-options', 'nosniff');
  void reply.header('referrer-policy', 'same-origin');
  void reply.header('cache-control', 'no-cache');
}

/**
 * Registers the UI when `root` holds a build (`index.html`); otherwise `/` explains how to build it.
 * @returns whether a build was found
 */
export async function registerWebUi(app: FastifyInstance, root: string = DEFAULT_WEB_ROOT): Promise<boolean> {
  const built = existsSync(path.join(root, 'index.html'));
  if (!built) {
    app.get('/', HIDDEN, async (_request, reply) =>
      reply.type('text/plain; charset=utf-8').send('The web inbox is not built: run `npm run build` (npm install does it), then restart.\n'));
    return false;
  }
  await app.register(fastifyStatic, {
    root,
    // Only the files that exist at start-up get routes; the catch-all below handles the rest.
    wildcard: false,
    index: false,
    // Cache headers are set below (the plugin's own would override them).
    cacheControl: false,
    setHeaders: (res, filePath) => {
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('cache-control', filePath.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  const sendIndex = (reply: FastifyReply) => {
    htmlHeaders(reply);
    return reply.sendFile('index.html', { cacheControl: false });
  };
  app.get('/', HIDDEN, async (_request, reply) => sendIndex(reply));
  app.get('/*', HIDDEN, async (request, reply) => (RESERVED.test(request.url) ? reply.callNotFound() : sendIndex(reply)));
  return true;
}
