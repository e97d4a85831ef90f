/**
 * Per-API-key rate limiting of `/v1` (@fastify/rate-limit, in-memory store, fixed one-minute
 * window). Requests are counted per authenticated API key id; requests without a valid key are
 * counted per client IP, so guessing keys is throttled too. Over the limit: 429 `rate_limited`
 * with `Retry-After` (seconds) and the usual error shape.
 *
 * The store is per process: behind N API processes a key may make up to N × the limit.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { AppError } from '../shared/errors.js';

export interface RateLimitOptions {
  /** Requests per minute per API key (or per IP without a valid key); 0 disables. Default 6000. */
  perMinute: number;
}

export const DEFAULT_RATE_LIMIT_PER_MINUTE = 6_000;

/** Login attempts (`POST /v1/session`) per minute per IP; never more than the general limit. */
export const LOGIN_RATE_LIMIT_PER_MINUTE = 60;

/** The bucket of a request: its API key id once authenticated, else its IP. */
function bucketOf(request: FastifyRequest): string {
  return request.principal ? `key:${request.principal.apiKeyId}` : `ip:${request.ip}`;
}

/**
 * Registers the rate-limit plugin on `app` (an encapsulated scope) without global hooks.
 * @returns the onRequest hook that counts a request, to be run after the API key is resolved; undefined when disabled
 */
export async function createRateLimitHook(app: FastifyInstance, options: RateLimitOptions): Promise<onRequestAsyncHookHandler | undefined> {
  if (options.perMinute === 0) return undefined;
  await app.register(rateLimit, { global: false });
  const hook = app.rateLimit({
    max: options.perMinute,
    timeWindow: 60_000,
    keyGenerator: bucketOf,
    errorResponseBuilder: (_request, context) => new AppError('rate_limited', `rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`),
  });
  return hook as onRequestAsyncHookHandler;
}
