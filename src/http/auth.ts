/**
 * The authentication hooks of `/v1/*`: an authenticator given by the app (`../sessions/
 * request-auth.ts`: a bearer API key, or an operator session cookie plus CSRF token) resolves the
 * request's principal, which scopes every query to its organization, so another organization's
 * ids simply are not found (404).
 */
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import { AppError } from '../shared/errors.js';
import type { Principal } from '../shared/principal.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** The authenticated principal of a `/v1` request. @throws AppError unauthorized (should not happen behind the hook) */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError('unauthorized', 'authentication required');
  return request.principal;
}

/** Why a request has no principal, kept until the rejecting hook runs (after rate limiting). */
const authFailures = new WeakMap<FastifyRequest, AppError>();

/** Refusals that wait for the rejecting hook; anything else (database errors → 503) propagates. */
const DEFERRED_REFUSALS = new Set(['unauthorized', 'invalid_csrf_token']);

/** Resolves the principal of a request. @throws AppError unauthorized / invalid_csrf_token (deferred), anything else propagates */
export type Authenticator = (request: FastifyRequest) => Promise<Principal>;

/**
 * Adds the hooks that require `Authorization: Bearer <api key>` (or an operator session cookie) on
 * every route of `app`: the principal is resolved first, then `beforeReject` runs (rate limiting,
 * which needs to know the key), then a request without a principal is refused with 401
 * `unauthorized` (403 `invalid_csrf_token` for a cookie-authenticated write without its CSRF
 * token). Database errors propagate (503).
 */
export function requireApiKey(app: FastifyInstance, authenticate: Authenticator, beforeReject?: onRequestAsyncHookHandler): void {
  app.addHook('onRequest', async (request) => {
    try {
      request.principal = await authenticate(request);
    } catch (error) {
      if (!(error instanceof AppError) || !DEFERRED_REFUSALS.has(error.code)) throw error;
      authFailures.set(request, error);
    }
  });
  if (beforeReject) app.addHook('onRequest', beforeReject);
  app.addHook('onRequest', async (request) => {
    if (!request.principal) throw authFailures.get(request) ?? new AppError('unauthorized', 'authentication required');
  });
}
