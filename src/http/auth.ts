/**
 * Bearer API key authentication for `/v1/*`. The resolved principal scopes every query to its
 * organization, so another organization's ids simply are not found (404).
 */
import type { FastifyInstance, FastifyRequest, onRequestAsyncHookHandler } from 'fastify';
import type { Db } from '../db/database.js';
import { AppError } from '../shared/errors.js';
import { authenticateApiKey, type Principal } from '../tenancy/tenancy.service.js';

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

/**
 * Adds the hooks that require `Authorization: Bearer <api key>` on every route of `app`: the key is
 * resolved first, then `beforeReject` runs (rate limiting, which needs to know the key), then a
 * request without a valid key is refused with 401 `unauthorized`. Database errors propagate (503).
 */
export function requireApiKey(app: FastifyInstance, db: Db, beforeReject?: onRequestAsyncHookHandler): void {
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) {
      authFailures.set(request, new AppError('unauthorized', 'missing "Authorization: Bearer <api key>" header'));
      return;
    }
    try {
      request.principal = await authenticateApiKey(db, match[1]!);
    } catch (error) {
      if (!(error instanceof AppError) || error.code !== 'unauthorized') throw error;
      authFailures.set(request, error);
    }
  });
  if (beforeReject) app.addHook('onRequest', beforeReject);
  app.addHook('onRequest', async (request) => {
    if (!request.principal) throw authFailures.get(request) ?? new AppError('unauthorized', 'authentication required');
  });
}
