/**
 * What the request log may show of a request (SPEC §2.4: logs never contain tokens or secrets).
 * Fastify logs each request's URL; Meta's verify handshake carries the verify token in it
 * (`GET /webhooks/whatsapp?hub.verify_token=…`), and an OAuth-style callback could carry a code.
 */
import type { FastifyRequest } from 'fastify';
import type { Logger } from 'pino';

/** Query parameters whose values never reach a log line. */
const SECRET_QUERY_PARAMETERS = new Set(['hub.verify_token', 'access_token', 'code', 'state', 'token', 'api_key']);

/** `/webhooks/whatsapp?hub.verify_token=s3cret&hub.challenge=1` → `…?hub.verify_token=[redacted]&hub.challenge=1`. */
export function redactUrl(url: string): string {
  const start = url.indexOf('?');
  if (start < 0) return url;
  const query = url.slice(start + 1).split('&').map((pair) => {
    const separator = pair.indexOf('=');
    if (separator < 0) return pair;
    let name: string;
    try {
      name = decodeURIComponent(pair.slice(0, separator).replace(/\+/g, ' '));
    } catch {
      return `${pair.slice(0, separator)}=[redacted]`;
    }
    return SECRET_QUERY_PARAMETERS.has(name.toLowerCase()) ? `${pair.slice(0, separator)}=[redacted]` : pair;
  });
  return `${url.slice(0, start)}?${query.join('&')}`;
}

/** Fastify's request serializer, with the URL's secret parameters redacted. */
function serializeRequest(request: FastifyRequest) {
  return {
    method: request.method,
    url: redactUrl(request.url),
    host: request.host,
    remoteAddress: request.ip,
    remotePort: request.socket?.remotePort,
  };
}

/** The logger the app logs requests with: the process logger whose `req` serializer redacts. */
export function requestLogger(logger: Logger): Logger {
  return logger.child({}, { serializers: { req: serializeRequest } });
}
