import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { setOperatorPassword } from '../../src/sessions/sessions.service.js';
import { bearer, deliverInbound } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { createTestNumber, createTestOperator, createTestOrg } from '../helpers/factories.js';

const PASSWORD = 'correct horse battery';

/** Cookies of a login answer as a Cookie header, plus the CSRF token. */
function cookiesOf(setCookie: string | string[] | undefined): { cookie: string; csrf: string } {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  const pairs = list.map((c) => c.split(';')[0]!);
  const csrf = pairs.find((p) => p.startsWith('wahub_csrf='))!.slice('wahub_csrf='.length);
  return { cookie: pairs.join('; '), csrf };
}

describe('operator sessions (web inbox login)', () => {
  const bed = useAppBed(4);
  let org: Awaited<ReturnType<typeof createTestOrg>>;
  let email: string;

  beforeAll(async () => {
    org = await createTestOrg(bed.t.db);
    const row = await bed.t.db.selectFrom('operators').select('email').where('id', '=', org.operatorId).executeTakeFirstOrThrow();
    email = row.email;
    await setOperatorPassword(bed.t.db, org.orgId, org.operatorId, PASSWORD);
  });

  const login = (body: Record<string, unknown>) => bed.app.inject({ method: 'POST', url: '/v1/session', payload: body });

  it('stores the password as a salted scrypt hash, never in clear', async () => {
    const row = await bed.t.db.selectFrom('operators').select('password_hash').where('id', '=', org.operatorId).executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^scrypt\$32768\$8\$1\$[\w-]{22}\$[\w-]{43}$/);
    expect(row.password_hash).not.toContain(PASSWORD);
  });

  it('logs in with email and password and sets an httpOnly SameSite session cookie and a CSRF cookie', async () => {
    const response = await login({ email: email.toUpperCase(), password: PASSWORD });
    expect(response.statusCode, response.body).toBe(201);
    const setCookie = response.headers['set-cookie'] as string[];
    expect(setCookie.find((c) => c.startsWith('wahub_session='))).toMatch(/HttpOnly/);
    expect(setCookie.find((c) => c.startsWith('wahub_session='))).toMatch(/SameSite=Lax/);
    expect(setCookie.find((c) => c.startsWith('wahub_csrf='))).toMatch(/SameSite=Strict/);
    expect(setCookie.find((c) => c.startsWith('wahub_csrf='))).not.toMatch(/HttpOnly/);
    const body = response.json();
    expect(body.operator).toMatchObject({ id: org.operatorId, org_id: org.orgId, role: 'owner' });
    const { cookie, csrf } = cookiesOf(setCookie);
    expect(body.csrf_token).toBe(csrf);
    const me = await bed.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ via: 'session', operator: { id: org.operatorId } });
    // Only hashes are stored.
    const session = await bed.t.db.selectFrom('operator_sessions').selectAll().where('operator_id', '=', org.operatorId).executeTakeFirstOrThrow();
    expect(cookie).not.toContain(session.token_hash);
    expect(session.csrf_token_hash).not.toBe(csrf);
  });

  it('marks the cookies Secure behind an HTTPS proxy', async () => {
    const response = await bed.app.inject({ method: 'POST', url: '/v1/session', headers: { 'x-forwarded-proto': 'https' }, payload: { email, password: PASSWORD } });
    expect(response.statusCode).toBe(201);
    for (const cookie of response.headers['set-cookie'] as string[]) expect(cookie).toMatch(/; Secure/);
  });

  it('refuses a wrong password, an unknown email and a disabled operator alike (401)', async () => {
    expect((await login({ email, password: 'wrong password!' })).json().error.code).toBe('unauthorized');
    expect((await login({ email: 'nobody@example.test', password: PASSWORD })).statusCode).toBe(401);
    const agent = await createTestOperator(bed.t.db, org.orgId, 'agent');
    await setOperatorPassword(bed.t.db, org.orgId, agent.operatorId, PASSWORD);
    const agentEmail = (await bed.t.db.selectFrom('operators').select('email').where('id', '=', agent.operatorId).executeTakeFirstOrThrow()).email;
    expect((await login({ email: agentEmail, password: PASSWORD })).statusCode).toBe(201);
    await bed.t.db.updateTable('operators').set({ disabled_at: new Date() }).where('id', '=', agent.operatorId).execute();
    expect((await login({ email: agentEmail, password: PASSWORD })).statusCode).toBe(401);
  });

  it('requires the CSRF token on state-changing requests made with the cookie', async () => {
    const number = await createTestNumber(bed.t.db, org.orgId);
    const { threadId } = await deliverInbound(bed.app, bed.t.db, number);
    const { cookie, csrf } = cookiesOf((await login({ email, password: PASSWORD })).headers['set-cookie']);
    const url = `/v1/threads/${threadId}/read`;
    const without = await bed.app.inject({ method: 'POST', url, headers: { cookie } });
    expect(without.statusCode).toBe(403);
    expect(without.json().error.code).toBe('invalid_csrf_token');
    const wrong = await bed.app.inject({ method: 'POST', url, headers: { cookie, 'x-csrf-token': randomBytes(32).toString('base64url') } });
    expect(wrong.statusCode).toBe(403);
    const right = await bed.app.inject({ method: 'POST', url, headers: { cookie, 'x-csrf-token': csrf } });
    expect(right.statusCode, right.body).toBe(204);
    // Another session's CSRF token does not fit this session.
    const other = cookiesOf((await login({ email, password: PASSWORD })).headers['set-cookie']);
    expect((await bed.app.inject({ method: 'POST', url, headers: { cookie, 'x-csrf-token': other.csrf } })).statusCode).toBe(403);
    // Reads need no CSRF token; API keys need none either.
    expect((await bed.app.inject({ method: 'GET', url: `/v1/threads/${threadId}`, headers: { cookie } })).statusCode).toBe(200);
    expect((await bed.app.inject({ method: 'POST', url, headers: bearer(org.apiKey) })).statusCode).toBe(204);
  });

  it('ends the session on logout and when it expires', async () => {
    const first = cookiesOf((await login({ email, password: PASSWORD })).headers['set-cookie']);
    const logout = await bed.app.inject({ method: 'DELETE', url: '/v1/session', headers: { cookie: first.cookie, 'x-csrf-token': first.csrf } });
    expect(logout.statusCode).toBe(204);
    expect(String(logout.headers['set-cookie'])).toContain('Max-Age=0');
    expect((await bed.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: first.cookie } })).statusCode).toBe(401);

    const second = cookiesOf((await login({ email, password: PASSWORD })).headers['set-cookie']);
    await bed.t.db.updateTable('operator_sessions').set({ expires_at: new Date(Date.now() - 1000) }).where('operator_id', '=', org.operatorId).execute();
    const expired = await bed.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: second.cookie } });
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.code).toBe('unauthorized');
  });

  it('signs the operator out everywhere when the password changes', async () => {
    const { cookie } = cookiesOf((await login({ email, password: PASSWORD })).headers['set-cookie']);
    await setOperatorPassword(bed.t.db, org.orgId, org.operatorId, `${PASSWORD}!`);
    expect((await bed.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie } })).statusCode).toBe(401);
    expect((await login({ email, password: PASSWORD })).statusCode).toBe(401);
    await setOperatorPassword(bed.t.db, org.orgId, org.operatorId, PASSWORD);
  });

  it('asks for org_id when the same email and password open accounts in two organizations', async () => {
    const other = await createTestOrg(bed.t.db, 'Other org');
    await bed.t.db.updateTable('operators').set({ email }).where('id', '=', other.operatorId).execute();
    await setOperatorPassword(bed.t.db, other.orgId, other.operatorId, PASSWORD);
    const ambiguous = await login({ email, password: PASSWORD });
    expect(ambiguous.statusCode).toBe(400);
    const chosen = await login({ email, password: PASSWORD, org_id: other.orgId });
    expect(chosen.statusCode).toBe(201);
    expect(chosen.json().operator.org_id).toBe(other.orgId);
  });

  it('keeps API keys working and lists the organization\'s operators', async () => {
    const response = await bed.app.inject({ method: 'GET', url: '/v1/operators', headers: bearer(org.apiKey) });
    expect(response.statusCode).toBe(200);
    expect(response.json().data.map((o: { id: string }) => o.id)).toContain(org.operatorId);
    expect((await bed.app.inject({ method: 'GET', url: '/v1/session', headers: bearer(org.apiKey) })).json().via).toBe('api_key');
  });
});

describe('POST /v1/session rate limit', () => {
  const bed = useAppBed(2);

  it('refuses the 61st login attempt of an IP in a minute with 429 rate_limited and Retry-After, even with the general limit higher', async () => {
    const attempt = () => bed.app.inject({ method: 'POST', url: '/v1/session', payload: { email: 'nobody@example.com', password: 'wrong password' } });
    for (let i = 0; i < 60; i++) expect((await attempt()).statusCode).toBe(401);
    const refused = await attempt();
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ error: { code: 'rate_limited' } });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  });
});
