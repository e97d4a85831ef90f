/**
 * What the OpenAPI tests need besides the app: every route as Fastify registered it (collected
 * with an `onRoute` hook while the app is built), which of them the document must show, and a
 * check of a real answer against the response the document declares for its status (Ajv with
 * JSON Schema 2020-12, the dialect of OpenAPI 3.1).
 */
import diagnostics from 'node:diagnostics_channel';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { FastifyInstance } from 'fastify';
import { DEFAULT_WEB_ROOT } from '../../src/http/web-ui.js';
import type { ProbeRequest, ProbeResponse } from '../hostile/routes.js';

// ajv-formats is CommonJS: imported from ESM, its default export is `module.exports`, whose `default` is the function.
const { default: addFormats } = addFormatsModule;

/** A route as Fastify registered it: one method, the full URL (`/v1/threads/:id`), its schema. */
export interface RegisteredRoute {
  method: string;
  url: string;
  schema: Record<string, any> | undefined;
}

/** `METHOD /path`, the key the probes of test/hostile/routes.ts use. */
export const routeKey = (route: Pick<RegisteredRoute, 'method' | 'url'>): string => `${route.method} ${route.url}`;

/**
 * Builds an app and collects every route it registers, through an `onRoute` hook added to each
 * Fastify instance as it is created (Fastify publishes new instances on the `fastify.initialization`
 * diagnostics channel, before any plugin or route is registered).
 */
export async function collectRoutes(build: () => Promise<FastifyInstance>): Promise<{ app: FastifyInstance; routes: RegisteredRoute[] }> {
  const routes = new Map<string, RegisteredRoute>();
  const onInitialization = (message: unknown) => {
    (message as { fastify: FastifyInstance }).fastify.addHook('onRoute', (options) => {
      for (const method of [options.method].flat()) {
        const route = { method, url: options.url, schema: options.schema as Record<string, any> | undefined };
        routes.set(routeKey(route), route);
      }
    });
  };
  diagnostics.subscribe('fastify.initialization', onInitialization);
  try {
    const app = await build();
    return { app, routes: [...routes.values()].sort((x, y) => routeKey(x).localeCompare(routeKey(y))) };
  } finally {
    diagnostics.unsubscribe('fastify.initialization', onInitialization);
  }
}

/** URL paths of the built web inbox's files (`/index.html`, `/assets/…`); none when it is not built. */
function webInboxFiles(root = DEFAULT_WEB_ROOT): Set<string> {
  const files = new Set<string>();
  const walk = (folder: string) => {
    let entries;
    try {
      entries = readdirSync(folder, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = path.join(folder, entry.name);
      if (entry.isDirectory()) walk(full);
      else files.add(`/${path.relative(root, full).split(path.sep).join('/')}`);
    }
  };
  walk(root);
  return files;
}

/**
 * Why a route is not part of the API reference, or undefined when the document must show it:
 * HEAD routes (Fastify adds one per GET), the sandbox simulators, the reference itself, and the
 * web inbox (its files, `/` and the catch-all that answers `index.html`).
 */
export function whyUndocumented(route: Pick<RegisteredRoute, 'method' | 'url'>, inboxFiles = webInboxFiles()): string | undefined {
  if (route.method === 'HEAD') return 'HEAD';
  if (/^\/simulator(\/|$)/.test(route.url)) return 'sandbox simulator';
  if (/^\/docs(\/|$)/.test(route.url)) return 'the API reference';
  if (route.method === 'GET' && (route.url === '/' || route.url === '/*' || inboxFiles.has(route.url))) return 'web inbox';
  return undefined;
}

/** The OpenAPI path of a Fastify URL as @fastify/swagger writes it: `/v1/threads/:id` → `/v1/threads/{id}`, `/*` → `/{*}`. */
export const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace('*', '{*}');

/** The document's operation of a route, if any. */
export function operationOf(document: any, route: string): any {
  const [method, url] = route.split(' ') as [string, string];
  return document.paths?.[openApiPath(url)]?.[method.toLowerCase()];
}

/** Every operation of the document as `METHOD /path` in Fastify's syntax (`{id}` → `:id`). */
export function documentedRoutes(document: any): string[] {
  return Object.entries(document.paths ?? {}).flatMap(([url, item]) =>
    Object.keys(item as object)
      .filter((method) => ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'].includes(method))
      .map((method) => `${method.toUpperCase()} ${url.replace('{*}', '*').replace(/\{([^}]+)\}/g, ':$1')}`));
}

/** A real request, who sends it (an API key, or none) and the answer it must get. */
export interface AnswerCase {
  what: string;
  request: ProbeRequest;
  apiKey: string | null;
  status: number;
  /** The error code, for statuses ≥ 400. */
  code?: string;
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats(ajv);
const compiled = new Map<string, ValidateFunction>();

/** The compiled validator of a JSON Schema (cached by its text). */
function validatorOf(schema: unknown): ValidateFunction {
  const text = JSON.stringify(schema);
  const known = compiled.get(text);
  if (known) return known;
  const validate = ajv.compile(schema as object);
  compiled.set(text, validate);
  return validate;
}

/** The body's media type without parameters (`application/json; charset=utf-8` → `application/json`). */
const mediaTypeOf = (response: ProbeResponse): string => String(response.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();

/**
 * What is wrong with a real answer to `answerCase` of `route`: a status other than expected, a
 * status the document does not declare, a media type it does not declare, or a JSON body its
 * schema refuses (Ajv's errors, at most five). Empty when the answer is what the document says.
 */
export function answerProblems(document: any, route: string, answerCase: AnswerCase, response: ProbeResponse): string[] {
  const where = `${route} (${answerCase.what}) answered ${response.statusCode}`;
  const problems: string[] = [];
  if (response.statusCode !== answerCase.status) problems.push(`${where}, expected ${answerCase.status}: ${response.body.slice(0, 200)}`);
  if (answerCase.code !== undefined && response.statusCode >= 400) {
    let code: unknown;
    try {
      code = response.json()?.error?.code;
    } catch {
      code = undefined;
    }
    if (code !== answerCase.code) problems.push(`${where} with code ${String(code)}, expected ${answerCase.code}`);
  }
  const operation = operationOf(document, route);
  if (!operation) return [...problems, `${route} is not in the document`];
  const declared = operation.responses?.[String(response.statusCode)];
  if (!declared) {
    return [...problems, `${where}, a status its schema does not declare (declared: ${Object.keys(operation.responses ?? {}).join(', ')})`];
  }
  const content: Record<string, { schema?: unknown }> | undefined = declared.content;
  if (response.body.length === 0) {
    if (content && Object.keys(content).length > 0) problems.push(`${where} with no body; its schema declares ${Object.keys(content).join(', ')}`);
    return problems;
  }
  const mediaType = mediaTypeOf(response);
  // OpenAPI media type ranges: the exact type, then `type/*`, then `*/*`.
  const media = content?.[mediaType] ?? content?.[`${mediaType.split('/')[0]}/*`] ?? content?.['*/*'];
  if (!media) return [...problems, `${where} with ${mediaType || 'no content-type'}; its schema declares ${content ? Object.keys(content).join(', ') : 'no body'}`];
  if (mediaType !== 'application/json' || media.schema === undefined) return problems;
  let body: unknown;
  try {
    body = response.json();
  } catch {
    return [...problems, `${where} with a body that is not JSON: ${response.body.slice(0, 200)}`];
  }
  const validate = validatorOf(media.schema);
  if (!validate(body)) {
    const errors = (validate.errors ?? []).slice(0, 5).map((error) => `${error.instancePath || '/'} ${error.message ?? ''}${error.params ? ` ${JSON.stringify(error.params)}` : ''}`);
    problems.push(`${where} with a body its schema refuses: ${errors.join('; ')}; body: ${response.body.slice(0, 300)}`);
  }
  return problems;
}
