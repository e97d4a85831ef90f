/**
 * HTTP fuzzing of every `/v1` route (discovered from the app, see routes.ts): missing and bad API
 * keys, hostile path ids, bad cursors and limits, bodies that are not JSON, of the wrong type,
 * oversized or nested absurdly deep, and random mutations of a valid body (wrong types, SQL and
 * script payloads, NUL, lone surrogates, huge strings). Every answer is < 500, every 4xx carries
 * the error shape with a known code, and a refused request writes nothing (no partial write).
 * Probes may add refusals the generic fuzzing cannot make (e.g. hostile `Last-Event-ID` headers).
 */
import fc from 'fast-check';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestOperator } from '../helpers/factories.js';
import { hostileJson, hostileString, mutate, mutationsOf, pathsOf } from './arbitraries.js';
import {
  createProbedApp, createTenant, expectErrorShape, fingerprint, HOSTILE_IDS, probedV1Routes, send, type ProbeRequest, type ProbeResponse, type RouteProbe, type Tenant,
} from './routes.js';

let t: TestDatabase;
let app: FastifyInstance;
let tenant: Tenant;
let routes: Array<[string, RouteProbe]>;
let revokedKey: string;
let disabledKey: string;

beforeAll(async () => {
  t = await createTestDatabase(6);
  app = await createProbedApp(t.db);
  routes = probedV1Routes(app);
  tenant = await createTenant(app, t.db, 'Fuzzed');
  const revoked = await createTestOperator(t.db, tenant.org.orgId, 'admin');
  await t.db.updateTable('api_keys').set({ revoked_at: new Date() }).where('operator_id', '=', revoked.operatorId).execute();
  revokedKey = revoked.apiKey;
  const disabled = await createTestOperator(t.db, tenant.org.orgId, 'admin');
  await t.db.updateTable('operators').set({ disabled_at: new Date() }).where('id', '=', disabled.operatorId).execute();
  disabledKey = disabled.apiKey;
});

afterAll(async () => {
  await app?.close();
  await t?.drop();
});

/**
 * Sends `request` with the tenant's key (or `apiKey`) and checks the invariants: never 5xx; a 4xx
 * has the error shape and wrote nothing. @returns the response for further checks
 */
async function probe(what: string, request: ProbeRequest, apiKey: string | null = tenant.org.apiKey): Promise<ProbeResponse> {
  const before = await fingerprint(t.db);
  const response = await send(app, apiKey, request);
  expect(response.statusCode, `${what}: ${response.body.slice(0, 300)}`).toBeLessThan(500);
  if (response.statusCode >= 400) {
    expectErrorShape(response, what);
    expect(await fingerprint(t.db), `${what}: a refused request wrote something`).toEqual(before);
  }
  return response;
}

/** Routes that read a JSON body. */
const withBody = (route: string) => /^(POST|PUT|PATCH) /.test(route);

/** `url` with its n-th path segment replaced. */
function withSegment(url: string, index: number, value: string): string {
  const segments = url.split('/');
  segments[index] = value;
  return segments.join('/');
}

// Each test sweeps every /v1 route (and the login probes hash passwords): the time grows with the
// route count, so the limit is per sweep rather than vitest's per-test default.
describe('/v1 routes under hostile input', { timeout: 120_000 }, () => {
  it('has a probe for every /v1 route, and each probe\'s well-formed request answers as declared', async () => {
    expect(routes.length).toBeGreaterThan(0);
    for (const [route, definition] of routes) {
      const { status, ...request } = definition.base(tenant);
      const response = await probe(route, request);
      expect(response.statusCode, `${route}: ${response.body.slice(0, 300)}`).toBe(status);
    }
  });

  it('answers 401 unauthorized to a missing, malformed, unknown or revoked key and to a disabled operator', async () => {
    const keys: Array<[string, string | null, Record<string, string>?]> = [
      ['no Authorization header', null],
      ['Basic scheme', null, { authorization: 'Basic dXNlcjpwYXNz' }],
      ['Bearer without a key', null, { authorization: 'Bearer ' }],
      ['garbage key', 'garbage'],
      ['SQL in the key', "wah_' OR 1=1 --"],
      ['well-formed unknown key', `wah_${'0'.repeat(12)}_${'A'.repeat(43)}`],
      ['known prefix, wrong secret', tenant.org.apiKey.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))],
      ['revoked key', ''],
      ['disabled operator', ''],
    ];
    for (const [route, definition] of routes) {
      // The public login route reads no key: a request its own check refuses stays refused whatever key comes with it.
      const { status: _status, ...request } = definition.unauthenticated ? { ...definition.unauthenticated.refused(tenant), status: 401 } : definition.base(tenant);
      for (const [what, key, headers] of keys) {
        const apiKey = what === 'revoked key' ? revokedKey : what === 'disabled operator' ? disabledKey : key;
        const response = await probe(`${route} with ${what}`, { ...request, headers }, apiKey);
        expect(response.statusCode, `${route} with ${what}`).toBe(401);
        expect(response.json().error.code).toBe('unauthorized');
      }
    }
  });

  it('answers 4xx to hostile path ids (malformed, injected, oversized, unknown), 404 to well-formed unknown ones', async () => {
    for (const [route, definition] of routes) {
      const { status, ...request } = definition.base(tenant);
      const segments = route.split(' ')[1]!.split('/');
      const params = segments.flatMap((segment, index) => (segment.startsWith(':') ? [index] : []));
      for (const index of params) {
        const idempotent = definition.idempotentParams?.[segments[index]!.slice(1)];
        for (const id of HOSTILE_IDS) {
          const what = `${route} with id ${id.slice(0, 40)}`;
          const before = await fingerprint(t.db);
          const response = await probe(what, { ...request, url: withSegment(request.url, index, id) });
          const wellFormed = /^[0-9a-f-]{36}$/i.test(id);
          if (idempotent && wellFormed && response.statusCode < 400) {
            // Removing what is not there (definition.idempotentParams says why): the base answer, and nothing written.
            expect(response.statusCode, what).toBe(status);
            expect(await fingerprint(t.db), `${what} wrote something`).toEqual(before);
            continue;
          }
          expect(response.statusCode, what).toBeGreaterThanOrEqual(400);
          if (wellFormed) expect(response.statusCode, what).toBe(404);
        }
      }
    }
  });

  it('refuses each probe\'s own hostile requests as declared (Last-Event-ID, limits, ids of a known format), and they end', async () => {
    let count = 0;
    for (const [route, definition] of routes) {
      for (const { what, status, code, ...request } of definition.refusals?.(tenant) ?? []) {
        const response = await probe(`${route} ${what}`, request);
        expect(response.statusCode, `${route} ${what}: ${response.body.slice(0, 200)}`).toBe(status);
        expect(response.json().error.code, `${route} ${what}`).toBe(code);
        count++;
      }
    }
    expect(count).toBeGreaterThan(0);
  });

  it('answers 400 to bad cursors and limits on paginated lists', async () => {
    const encode = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const cursors = [
      'garbage', "' OR 1=1 --", '%00', 'x'.repeat(201), encode({}), encode({ at: 'yesterday', id: 'x' }), encode([1, 2]), encode(null),
      encode({ at: '2026-13-45T99:99:99.000000Z', id: '00000000-0000-0000-0000-000000000000' }),
      encode({ at: '0000-01-01T00:00:00.000000Z', id: '00000000-0000-0000-0000-000000000000' }),
      encode({ at: '2026-02-30T10:00:00.000000Z', id: '00000000-0000-0000-0000-000000000000' }),
      encode({ at: '2026-01-01T00:00:00.000000Z', id: "'; DROP TABLE threads; --" }),
    ];
    const limits = ['0', '-1', '101', 'abc', '1.5', '1e9', '', '9'.repeat(400)];
    for (const [route, definition] of routes.filter(([, d]) => d.paginated)) {
      const { url, ...rest } = definition.base(tenant);
      for (const cursor of cursors) {
        const response = await probe(`${route} cursor ${cursor.slice(0, 30)}`, { ...rest, url: `${url}?cursor=${encodeURIComponent(cursor)}` });
        expect(response.statusCode, `${route} cursor ${cursor.slice(0, 30)}: ${response.body}`).toBe(400);
      }
      for (const limit of limits) {
        const response = await probe(`${route} limit ${limit.slice(0, 10)}`, { ...rest, url: `${url}?limit=${limit}` });
        expect(response.statusCode, `${route} limit ${limit.slice(0, 10)}`).toBe(400);
      }
      const repeated = await probe(`${route} limit twice`, { ...rest, url: `${url}?limit=1&limit=2` });
      expect(repeated.statusCode).toBe(400);
    }
  });

  it('answers 4xx to bodies that are not JSON objects, oversized or nested absurdly deep', async () => {
    const json = { 'content-type': 'application/json' };
    const bodies: Array<[string, string | Buffer, Record<string, string>, number?]> = [
      ['text/plain', 'hello', { 'content-type': 'text/plain' }],
      ['unknown media type', '<a/>', { 'content-type': 'application/xml' }, 415],
      ['invalid JSON', '{"a":', json, 400],
      ['empty JSON body', '', json, 400],
      ['JSON null', 'null', json, 400],
      ['JSON number', '42', json, 400],
      ['JSON string', '"x"', json, 400],
      ['JSON array', '[{"type":"text"}]', json, 400],
      ['proto poisoning', '{"__proto__":{"role":"owner"},"constructor":{"prototype":{"x":1}}}', json],
      ['NUL byte', Buffer.from('{"a":"\u0000"}'), json],
      ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), json],
      ['over 1 MB', JSON.stringify({ pad: 'x'.repeat(1024 * 1024) }), json, 413],
      ['nested 100,000 deep', `{"a":${'['.repeat(100_000)}${']'.repeat(100_000)}}`, json],
    ];
    for (const [route, definition] of routes.filter(([r]) => withBody(r))) {
      const { status: _status, ...request } = definition.base(tenant);
      // A route that reads no body (signup/start) may ignore one that parses; it is still never 5xx.
      const readsBody = request.payload !== undefined;
      for (const [what, payload, headers, status] of bodies) {
        const response = await probe(`${route} ${what}`, { ...request, payload, headers });
        if (!readsBody && status !== 413 && status !== 415) continue;
        // An optional body (definition.nullBody says why) may be JSON null: absent. Still never 5xx, nothing written on refusal.
        if (definition.nullBody && what === 'JSON null') continue;
        expect(response.statusCode, `${route} ${what}: ${response.body.slice(0, 200)}`).toBeGreaterThanOrEqual(400);
        if (status) expect(response.statusCode, `${route} ${what}`).toBe(status);
      }
    }
  });

  it('answers 4xx to a value nested 20,000 deep in place of any field of a valid body', async () => {
    const deep = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
    for (const [route, definition] of routes.filter(([r]) => withBody(r))) {
      const base = definition.base(tenant);
      if (base.payload === undefined) continue;
      for (const path of pathsOf(base.payload)) {
        const fresh = definition.base(tenant);
        const payload = JSON.stringify(mutate(fresh.payload, [{ kind: 'replace', path, value: '__deep__' }])).replace('"__deep__"', deep);
        const response = await probe(`${route} deep ${path.join('.')}`, { method: fresh.method, url: fresh.url, payload, headers: { 'content-type': 'application/json' } });
        expect(response.statusCode, `${route} deep ${path.join('.')}`).toBeGreaterThanOrEqual(400);
      }
    }
  });

  it('never answers 5xx or writes on refusal for random mutations of a valid body (wrong types, injections, NUL, huge strings)', async () => {
    for (const [route, definition] of routes.filter(([r]) => withBody(r))) {
      const base = definition.base(tenant);
      if (base.payload === undefined) continue;
      await fc.assert(fc.asyncProperty(mutationsOf(base.payload), async (mutations) => {
        const fresh = definition.base(tenant);
        await probe(`${route} mutated ${JSON.stringify(mutations).slice(0, 200)}`, { method: fresh.method, url: fresh.url, payload: mutate(fresh.payload, mutations) as object });
      }), { numRuns: 60 });
    }
  });

  it('answers 4xx with the error shape to random JSON bodies and random query strings', async () => {
    for (const [route, definition] of routes) {
      const { status: _status, ...request } = definition.base(tenant);
      await fc.assert(fc.asyncProperty(hostileJson, fc.dictionary(fc.constantFrom('limit', 'cursor', 'id', 'q', '__proto__'), hostileString, { maxKeys: 3 }), async (body, query) => {
        const search = new URLSearchParams(Object.entries(query)).toString();
        const url = search ? `${request.url}?${search}` : request.url;
        const payload = withBody(route) ? JSON.stringify(body) ?? 'null' : undefined;
        await probe(`${route} random`, { ...request, url, payload, headers: payload === undefined ? undefined : { 'content-type': 'application/json' } });
      }), { numRuns: 30 });
    }
  });
});
