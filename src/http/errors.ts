/**
 * The one error handler: AppError → its status and code; Fastify's own errors (body too large,
 * bad JSON, unsupported media type) → the matching code; database outages → 503; anything else →
 * 500 `internal_error`, logged with the cause and never returned to the caller.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
import { isDatabaseUnavailableError } from '../db/errors.js';
import { AppError, ERROR_STATUS, type ErrorCode, toError } from '../shared/errors.js';

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_BODY_TOO_LARGE: 'payload_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_JSON_BODY: 'invalid_json',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'validation_failed',
  FST_ERR_VALIDATION: 'validation_failed',
  // Router errors (frameworkErrors in app.ts): a malformed URL, or a path id longer than any id.
  FST_ERR_BAD_URL: 'validation_failed',
  FST_ERR_MAX_PARAM_LENGTH: 'not_found',
};

/** Maps any thrown value to the status and body wahub answers with. */
export function toErrorResponse(thrown: unknown): { status: number; body: ErrorBody; log: boolean } {
  const error = toError(thrown);
  if (error instanceof AppError) {
    const body: ErrorBody = { error: { code: error.code, message: error.message } };
    if (error.details !== undefined) body.error.details = error.details;
    return { status: error.status, body, log: error.status >= 500 };
  }
  const fastifyCode = (error as FastifyError).code;
  const mapped = fastifyCode ? FASTIFY_CODES[fastifyCode] : undefined;
  if (mapped) return { status: ERROR_STATUS[mapped], body: { error: { code: mapped, message: error.message } }, log: false };
  if (error instanceof SyntaxError) return { status: 400, body: { error: { code: 'invalid_json', message: 'request body is not valid JSON' } }, log: false };
  if (isDatabaseUnavailableError(error)) {
    return { status: 503, body: { error: { code: 'database_unavailable', message: 'the database is unavailable; retry later' } }, log: true };
  }
  return { status: 500, body: { error: { code: 'internal_error', message: 'internal error' } }, log: true };
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((thrown, request, reply) => {
    const { status, body, log } = toErrorResponse(thrown);
    if (log) request.log.error({ err: thrown }, 'request failed');
    void reply.status(status).send(body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: { code: 'not_found', message: `route ${request.method} ${request.url.split('?')[0]} not found` } });
  });
}
