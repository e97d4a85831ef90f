/**
 * Route schemas from zod, and the OpenAPI 3.1 document built from them.
 *
 * Every route declares `schema: describeRoute({...})`: its params, query string, headers, body
 * and every response, errors included, derived from the same zod schemas the handlers validate
 * with (`parseInput`, validation.ts), so documentation and validation cannot drift apart.
 *
 * Fastify itself validates and serialises nothing with these schemas (see `useSchemasForDocsOnly`):
 * the handlers keep validating with zod, so error codes and messages stay exactly what they were
 * (`validation_failed` with one `details` entry per problem), and answers are serialised as they are
 * (a response schema would otherwise make fast-json-stringify drop undeclared fields).
 *
 * Error responses: each code of `errors` becomes a response under its HTTP status
 * (`ERROR_STATUS`, shared/errors.ts) with the shape `{"error":{"code","message","details"?}}` and
 * `code` restricted to the codes of that status. Codes every route of a kind can return are added
 * by `auth`/`body` (see `IMPLIED_ERRORS`).
 */
import type { FastifyInstance, FastifySchema } from 'fastify';
import { z } from 'zod';
import { ERROR_STATUS, type ErrorCode } from '../shared/errors.js';

/** Who may call a route, as the document's security requirement says. */
export type RouteAuth =
  /** `/v1`: `Authorization: Bearer <api key>`, or the web inbox's session cookie (+ CSRF token on writes). */
  | 'api'
  /** No credentials (probes, login, Meta's verify handshake). */
  | 'none'
  /** Meta's `X-Hub-Signature-256` over the raw body (HMAC-SHA256 with the app secret). */
  | 'meta_signature'
  /** Twilio's `X-Twilio-Signature` (HMAC-SHA1 over the URL and sorted form parameters). */
  | 'twilio_signature';

/** A success response: a zod schema of its JSON body, `null` for no body, or another media type. */
export type SuccessResponse =
  | z.ZodType
  | null
  | { description: string; contentType: string; schema?: Record<string, unknown> };

export interface RouteDoc {
  /** One line, shown in the reference's list. */
  summary: string;
  /** Longer prose: behaviour, units, protocol sources. */
  description?: string;
  /** Grouping in the reference (the domain: `threads`, `messages`, `numbers`, …). */
  tags: string[];
  /** Default `api`. */
  auth?: RouteAuth;
  params?: z.ZodType;
  querystring?: z.ZodType;
  /** Headers that matter (`Idempotency-Key`, signatures); lower-case names. */
  headers?: z.ZodType;
  /** JSON body (media type `application/json` unless `consumes` says otherwise). */
  body?: z.ZodType;
  /** Media types of the body when not JSON (`application/x-www-form-urlencoded` for Twilio). */
  consumes?: string[];
  /** Success answers by HTTP status. */
  responses: Record<number, SuccessResponse>;
  /** Every error code the route itself can answer with; the implied ones are added. */
  errors?: ErrorCode[];
  /**
   * The body-parsing codes this route can answer (default: `invalid_json`, `payload_too_large`,
   * `unsupported_media_type`, `validation_failed`); webhooks that take any bytes say fewer.
   */
  bodyErrors?: ErrorCode[];
  /** Left out of the document (sandbox-only simulator routes, the web inbox's files). */
  hide?: boolean;
}

/**
 * Codes any route of a kind can return without its handler saying so: authentication and rate
 * limiting on `/v1`, the input guard (`rejectUnstorableInput`: NUL characters, nesting), body
 * parsing (every method but GET and HEAD, a body declared or not), and the error handler's 500/503.
 */
const IMPLIED_ERRORS = {
  any: ['internal_error', 'database_unavailable'] as ErrorCode[],
  api: ['unauthorized', 'rate_limited', 'validation_failed'] as ErrorCode[],
  apiWrite: ['invalid_csrf_token'] as ErrorCode[],
  body: ['invalid_json', 'payload_too_large', 'unsupported_media_type', 'validation_failed'] as ErrorCode[],
};

/** JSON Schema of a zod schema as the caller sends it (`io: 'input'`), without `$schema`. */
export function toJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/** JSON Schema of an answer (`io: 'output'`: defaults applied, transforms' results). */
function toOutputJsonSchema(schema: z.ZodType): Record<string, unknown> {
  const json = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'output', unrepresentable: 'any' }) as Record<string, unknown>;
  delete json.$schema;
  return json;
}

/** The error body of one HTTP status, `code` restricted to that status's codes. */
export function errorBodySchema(codes: ErrorCode[]): Record<string, unknown> {
  return {
    type: 'object',
    required: ['error'],
    properties: {
      error: {
        type: 'object',
        required: ['code', 'message'],
        properties: {
          code: { type: 'string', enum: codes },
          message: { type: 'string', description: 'for people; may change' },
          details: { description: 'validation_failed: one `{path, message}` per problem' },
        },
      },
    },
  };
}

/** The error codes a route can answer with: its own and the implied ones, sorted, unique. */
export function routeErrorCodes(doc: Pick<RouteDoc, 'auth' | 'errors' | 'body' | 'consumes' | 'bodyErrors'>, method: string): ErrorCode[] {
  const codes = new Set<ErrorCode>([...(doc.errors ?? []), ...IMPLIED_ERRORS.any]);
  const auth = doc.auth ?? 'api';
  if (auth === 'api') {
    for (const code of IMPLIED_ERRORS.api) codes.add(code);
    if (!['GET', 'HEAD', 'OPTIONS'].includes(method)) for (const code of IMPLIED_ERRORS.apiWrite) codes.add(code);
  }
  // Fastify parses a body sent to any method but GET and HEAD, declared or not: a bodiless POST or
  // DELETE sent bad JSON or another media type is refused too.
  if (doc.body || doc.consumes || !['GET', 'HEAD'].includes(method)) for (const code of doc.bodyErrors ?? IMPLIED_ERRORS.body) codes.add(code);
  return [...codes].sort();
}

function successResponse(response: SuccessResponse, status: number): Record<string, unknown> {
  if (response === null) return { description: status === 204 ? 'No Content' : 'No body', type: 'null' };
  if (response instanceof z.ZodType) {
    const json = toOutputJsonSchema(response);
    return { description: typeof json.description === 'string' ? json.description : 'OK', ...json };
  }
  return { description: response.description, content: { [response.contentType]: { schema: response.schema ?? { type: 'string' } } } };
}

/**
 * A status that answers both a declared body and error codes (`/readyz` answers 503 with its
 * checks; the error handler's `database_unavailable` is 503 too): either JSON body. A declared
 * non-JSON answer is kept as it is.
 */
function eitherResponse(declared: Record<string, unknown>, error: Record<string, unknown>): Record<string, unknown> {
  if ('content' in declared) return declared;
  const { description: declaredDescription, ...declaredSchema } = declared;
  const { description: errorDescription, ...errorSchema } = error;
  return { description: `${String(declaredDescription)}; or ${String(errorDescription)}`, anyOf: [declaredSchema, errorSchema] };
}

/**
 * The Fastify route schema of a route: JSON Schemas for the OpenAPI document, converted from zod.
 * @param method the route's HTTP method (writes on `/v1` may also answer `invalid_csrf_token`)
 */
export function describeRoute(method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', doc: RouteDoc): FastifySchema {
  const response: Record<string, unknown> = {};
  for (const [status, body] of Object.entries(doc.responses)) response[status] = successResponse(body, Number(status));
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of routeErrorCodes(doc, method)) byStatus.set(ERROR_STATUS[code], [...(byStatus.get(ERROR_STATUS[code]) ?? []), code]);
  for (const [status, codes] of byStatus) {
    const error = { description: codes.join(', '), ...errorBodySchema(codes) };
    response[status] = response[status] ? eitherResponse(response[status] as Record<string, unknown>, error) : error;
  }
  const auth = doc.auth ?? 'api';
  const schema: FastifySchema & Record<string, unknown> = {
    summary: doc.summary,
    tags: doc.tags,
    response,
    security: auth === 'none' ? [] : auth === 'api' ? [{ apiKey: [] }, { session: [] }] : [{ [auth]: [] }],
  };
  if (doc.description) schema.description = doc.description;
  if (doc.params) schema.params = toJsonSchema(doc.params);
  if (doc.querystring) schema.querystring = toJsonSchema(doc.querystring);
  if (doc.headers) schema.headers = toJsonSchema(doc.headers);
  if (doc.body) schema.body = toJsonSchema(doc.body);
  if (doc.consumes) schema.consumes = doc.consumes;
  if (doc.hide) schema.hide = true;
  return schema;
}

/**
 * Route schemas document; they do not validate or serialise (the handlers' zod parse does, see
 * the module docstring). Call before any route is registered.
 */
export function useSchemasForDocsOnly(app: FastifyInstance): void {
  app.setValidatorCompiler(() => () => true);
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
}

/** A path parameter `id` (a uuid; anything else answers 404 `not_found`, as an unknown id would). */
export const idParams = z.object({ id: z.string().describe('uuid') });
