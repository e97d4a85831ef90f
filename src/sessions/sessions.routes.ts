/**
 * Operator sessions: `POST /v1/session` (log in, public), `GET /v1/session` (who am I),
 * `DELETE /v1/session` (log out), and `GET /v1/operators` (the organization's operators, for
 * assignment pickers).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { clearSessionCookies, setSessionCookies } from '../http/session-auth.js';
import { parseInput } from '../http/validation.js';
import { MAX_PASSWORD_LENGTH } from './passwords.js';
import { listOperators } from './sessions.repository.js';
import { login, logout, operatorProfile, SESSION_MAX_AGE_MS } from './sessions.service.js';

const loginSchema = z.strictObject({
  email: z.string().min(3).max(320),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
  org_id: z.uuid().optional(),
});

/** `POST /v1/session`: outside the authentication hook. */
export async function loginRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  app.post('/v1/session', async (request, reply) => {
    const body = parseInput(loginSchema, request.body);
    const session = await login(options.db, { email: body.email, password: body.password, orgId: body.org_id });
    setSessionCookies(request, reply, { token: session.token, csrfToken: session.csrfToken, maxAgeSeconds: SESSION_MAX_AGE_MS / 1000 });
    return reply.status(201).send({ operator: session.operator, csrf_token: session.csrfToken, expires_at: session.expiresAt.toISOString() });
  });
}

/** Routes behind the authentication hook (API key or session). */
export async function sessionRoutes(app: FastifyInstance, options: { db: Db; sandbox: boolean }): Promise<void> {
  app.get('/v1/session', async (request) => {
    const principal = principalOf(request);
    return { operator: await operatorProfile(options.db, principal), via: principal.sessionId ? 'session' : 'api_key', sandbox: options.sandbox };
  });

  app.delete('/v1/session', async (request, reply) => {
    const principal = principalOf(request);
    if (principal.sessionId) await logout(options.db, principal.sessionId);
    clearSessionCookies(request, reply);
    return reply.status(204).send();
  });

  app.get('/v1/operators', async (request) => ({ data: await listOperators(options.db, principalOf(request).orgId) }));
}
