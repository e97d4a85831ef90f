/**
 * Authentication for `/v1/*`: a bearer API key (machines) or, without an Authorization header, an
 * operator session cookie (the web inbox; writes need the CSRF token, see session-auth.ts). The
 * resolved principal scopes every query to its organization, so another organization's ids simply
 * are not found (404).
 */
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Db } from '../db/database.js';
import { AppError } from '../shared/errors.js';
import { authenticateApiKey, type Principal } from '../tenancy/tenancy.service.js';
import { authenticateSessionRequest, sessionTokenOf } from './session-auth.js';

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

async function resolvePrincipal(db: Db, request: FastifyRequest): Promise<Principal> {
  const header = request.headers.authorization;
  if (header === undefined && sessionTokenOf(request)) return authenticateSessionRequest(db, request);
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match) throw new AppError('unauthorized', 'missing "Authorization: Bearer <api key>" header');
  return authenticateApiKey(db, match[1]!);
}

/**
 * Adds the hooks that require `Authorization: Bearer <api key>` (or an operator session cookie) on
 * every route of `app`: the principal is resolved first, then `beforeReject` runs (rate limiting,
 * which needs to know the key), then a request without a principal is refused with 401
 * `unauthorized` (403 `invalid_csrf_token` for a cookie-authenticated write without its CSRF
 * token). Database errors propagate (503).
 */
export function requireApiKey(app: FastifyInstance, db: Db, beforeReject?: onRequestAsyncHookHandler): void {
  app.addHook('onRequest', async (request) => {
    try {
      request.principal = await resolvePrincipal(db, request);
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
