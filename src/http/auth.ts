/**
 * Authentication for `/v1/*`: a bearer API key (machines) or, without an Authorization header, an
 * operator session cookie (the web inbox; writes need the CSRF token, see session-auth.ts). The
 * resolved principal scopes every query to its organization, so another organization's ids simply
 * are not found (404).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
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

/** Adds the hook that requires `Authorization: Bearer <api key>` (or an operator session cookie) on every route of `app`. */
export function requireApiKey(app: FastifyInstance, db: Db): void {
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    if (header === undefined && sessionTokenOf(request)) {
      request.principal = await authenticateSessionRequest(db, request);
      return;
    }
    const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
    if (!match) throw new AppError('unauthorized', 'missing "Authorization: Bearer <api key>" header');
    request.principal = await authenticateApiKey(db, match[1]!);
  });
}
