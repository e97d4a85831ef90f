/**
 * Who a `/v1` request is: a bearer API key (machines) or, without an Authorization header, an
 * operator session cookie (the web inbox), whose state-changing requests also need the CSRF token
 * (see `../http/session-auth.ts` for the cookies). `../app.ts` hands `authenticateRequest` to the
 * HTTP toolkit's `requireApiKey` hook, so `http/` depends on no domain module.
 */
import type { FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';
import { CSRF_HEADER, sessionTokenOf } from '../http/session-auth.js';
import { AppError } from '../shared/errors.js';
import type { Principal } from '../shared/principal.js';
import { authenticateApiKey } from '../tenancy/tenancy.service.js';
import { authenticateSession, csrfTokenMatches } from './sessions.service.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Authenticates a request by its session cookie; state-changing methods also need the CSRF token.
 * @throws AppError unauthorized (no or dead session), invalid_csrf_token
 */
async function authenticateSessionRequest(db: Db, request: FastifyRequest): Promise<Principal> {
  const token = sessionTokenOf(request);
  if (!token) throw new AppError('unauthorized', 'not signed in');
  const session = await authenticateSession(db, token);
  if (!SAFE_METHODS.has(request.method)) {
    const header = request.headers[CSRF_HEADER];
    if (!csrfTokenMatches(session, typeof header === 'string' ? header : undefined)) {
      throw new AppError('invalid_csrf_token', `missing or wrong ${CSRF_HEADER} header for a cookie-authenticated ${request.method}`);
    }
  }
  return session.principal;
}

/**
 * The principal of a request: its session cookie when it has no Authorization header, else its
 * `Authorization: Bearer <api key>`.
 * @throws AppError unauthorized, invalid_csrf_token; database errors propagate (503)
 */
export async function authenticateRequest(db: Db, request: FastifyRequest): Promise<Principal> {
  const header = request.headers.authorization;
  if (header === undefined && sessionTokenOf(request)) return authenticateSessionRequest(db, request);
  const match = typeof header === 'string' ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  if (!match) throw new AppError('unauthorized', 'missing "Authorization: Bearer <api key>" header');
  return authenticateApiKey(db, match[1]!);
}
