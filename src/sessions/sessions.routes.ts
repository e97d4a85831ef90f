/**
 * Operator sessions: `POST /v1/session` (log in, public), `GET /v1/session` (who am I),
 * `DELETE /v1/session` (log out), and `GET /v1/operators` (the organization's operators, for
 * assignment pickers).
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute } from '../http/openapi.js';
import { clearSessionCookies, setSessionCookies } from '../http/session-auth.js';
import { parseInput } from '../http/validation.js';
import { currentSessionSchema, loginSchema, newSessionSchema, operatorListSchema } from './sessions.schema.js';
import { listEnabledOperators, login, logout, operatorProfile, SESSION_MAX_AGE_MS } from './sessions.service.js';

/** `POST /v1/session`: outside the authentication hook. */
export async function loginRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  app.post('/v1/session', {
    schema: describeRoute('POST', {
      summary: 'Log in an operator (web inbox)', tags: ['sessions'], auth: 'none',
      description: 'Sets the `wahub_session` cookie (HttpOnly, SameSite=Lax) and the `wahub_csrf` cookie (SameSite=Strict). '
        + 'A wrong email or password, or a disabled operator, is `unauthorized` (one message for all); an email and password that open '
        + 'several organizations without `org_id` is `validation_failed`. At most 60 attempts per minute per client IP.',
      body: loginSchema, responses: { 201: newSessionSchema }, errors: ['unauthorized', 'validation_failed', 'rate_limited'],
    }),
  }, async (request, reply) => {
    const body = parseInput(loginSchema, request.body);
    const session = await login(options.db, { email: body.email, password: body.password, orgId: body.org_id });
    setSessionCookies(request, reply, { token: session.token, csrfToken: session.csrfToken, maxAgeSeconds: SESSION_MAX_AGE_MS / 1000 });
    return reply.status(201).send({ operator: session.operator, csrf_token: session.csrfToken, expires_at: session.expiresAt.toISOString() });
  });
}

/** Routes behind the authentication hook (API key or session). */
export async function sessionRoutes(app: FastifyInstance, options: { db: Db; sandbox: boolean }): Promise<void> {
  app.get('/v1/session', {
    schema: describeRoute('GET', {
      summary: 'The calling operator, and how the request was authenticated', tags: ['sessions'],
      responses: { 200: currentSessionSchema }, errors: ['not_found'],
    }),
  }, async (request) => {
    const principal = principalOf(request);
    return { operator: await operatorProfile(options.db, principal), via: principal.sessionId ? 'session' : 'api_key', sandbox: options.sandbox };
  });

  app.delete('/v1/session', {
    schema: describeRoute('DELETE', {
      summary: 'Log out: end the session and clear both cookies', tags: ['sessions'],
      description: 'With an API key there is no session to end; the answer is 204 all the same.',
      responses: { 204: null },
    }),
  }, async (request, reply) => {
    const principal = principalOf(request);
    if (principal.sessionId) await logout(options.db, principal.sessionId);
    clearSessionCookies(request, reply);
    return reply.status(204).send();
  });

  app.get('/v1/operators', {
    schema: describeRoute('GET', {
      summary: "The organization's enabled operators (assignment pickers)", tags: ['sessions'],
      responses: { 200: operatorListSchema },
    }),
  }, async (request) => ({ data: await listEnabledOperators(options.db, principalOf(request).orgId) }));
}
