/**
 * Tenant isolation on every `/v1` route (discovered from the app; routes.ts holds one probe per
 * route, so a new endpoint fails here until it declares how it isolates): organization A's key
 * naming organization B's ids answers 404 — B's ids are not even confirmed to exist — and writes
 * nothing; lists never show B's rows. The few documented exceptions name their reason in the probe.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createProbedApp, createTenant, expectErrorShape, fingerprint, probedV1Routes, send, sessionCookie, type Tenant } from './routes.js';

let t: TestDatabase;
let app: FastifyInstance;
let a: Tenant;
let b: Tenant;
const numberRow = (phoneNumberId: string) => t.db.selectFrom('phone_numbers').selectAll().where('phone_number_id', '=', phoneNumberId).execute();
let bNumberBefore: Awaited<ReturnType<typeof numberRow>>;

beforeAll(async () => {
  t = await createTestDatabase(6);
  app = await createProbedApp(t.db);
  a = await createTenant(app, t.db, 'A');
  b = await createTenant(app, t.db, 'B');
  bNumberBefore = await numberRow(b.number.phoneNumberId);
});

afterAll(async () => {
  await app?.close();
  await t?.drop();
});

describe('tenant isolation on every /v1 route', () => {
  it('answers A\'s requests for B\'s ids with 404 (or the documented refusal) and writes nothing', async () => {
    for (const [route, probe] of probedV1Routes(app)) {
      const cases = probe.isolation(a, b);
      expect(cases.length, `${route} declares no isolation case`).toBeGreaterThan(0);
      for (const isolationCase of cases) {
        const what = `${route} with ${isolationCase.what}`;
        const before = await fingerprint(t.db);
        const response = await send(app, a.org.apiKey, isolationCase.request);
        if ('excludes' in isolationCase) {
          expect(response.statusCode, what).toBe(200);
          for (const id of isolationCase.excludes) expect(response.body, `${what} shows B's ${id}`).not.toContain(id);
          // B's own key lists them: the check above is isolation, not an empty list.
          const own = await send(app, b.org.apiKey, isolationCase.request);
          for (const id of isolationCase.excludes) expect(own.body, `${what}: B's key`).toContain(id);
          continue;
        }
        expect(response.statusCode, `${what}: ${response.body.slice(0, 300)}`).toBe(isolationCase.status);
        if (isolationCase.status >= 400) {
          expectErrorShape(response, what);
          expect(response.json().error.code, what).toBe(isolationCase.code);
          expect(await fingerprint(t.db), `${what} wrote something`).toEqual(before);
        }
        if (isolationCase.status === 404 && !isolationCase.mixed) {
          // The same request with B's key finds the ids: the 404 above is isolation, not a bad id
          // (unless the request mixes A's and B's ids; `mixed` says why B's key cannot succeed either).
          const own = await send(app, b.org.apiKey, isolationCase.request);
          expect(own.statusCode, `${what}: B's key`).toBeLessThan(300);
        }
        for (const id of [b.threadId, b.inboundId, b.outboundId, b.inboundWamid]) {
          expect(response.body, `${what} leaks B's ${id}`).not.toContain(id);
        }
      }
    }
  });

  it('leaves B\'s session valid after A\'s DELETE /v1/session came with B\'s cookie', async () => {
    const response = await send(app, null, { method: 'GET', url: '/v1/session', headers: sessionCookie(b.sessionToken) });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toMatchObject({ via: 'session', operator: { id: b.org.operatorId, org_id: b.org.orgId } });
  });

  it('leaves B\'s number and token untouched after A tried to connect them', async () => {
    const after = await numberRow(b.number.phoneNumberId);
    expect(after).toEqual(bNumberBefore);
    expect(after[0]).toMatchObject({ org_id: b.org.orgId, status: 'active' });
  });
});
