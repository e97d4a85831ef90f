/**
 * Authentication and abuse limits of `/v1`: revoked and malformed keys, constant-time comparison of
 * key hashes and webhook signatures (checked by behaviour: crypto.timingSafeEqual is what decides),
 * per-key rate limiting (429 `rate_limited` with Retry-After; unauthenticated callers counted per
 * IP), request body limits, and the route catalogue the fuzz and isolation tests rely on.
 */
import * as crypto from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { authenticateApiKey } from '../../src/tenancy/tenancy.service.js';
import { bearer, deliverInbound } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countRows, createTestApp, createTestNumber, createTestOperator, createTestOrg, signedHeaders, textWebhook, type TestNumber, type TestOrg } from '../helpers/factories.js';
import { listRoutes, probedV1Routes } from './routes.js';

vi.mock('node:crypto', async (importOriginal) => {
  const original = await importOriginal<typeof import('node:crypto')>();
  return { ...original, timingSafeEqual: vi.fn(original.timingSafeEqual) };
});

let t: TestDatabase;
let org: TestOrg;
let number: TestNumber;

beforeAll(async () => {
  t = await createTestDatabase(4);
  org = await createTestOrg(t.db);
  number = await createTestNumber(t.db, org.orgId);
});

afterAll(async () => {
  await t?.drop();
});

describe('API key authentication', () => {
  const timingSafeEqual = vi.mocked(crypto.timingSafeEqual);
  beforeEach(() => {
    timingSafeEqual.mockClear();
  });

  it('decides a key with a known prefix by a constant-time comparison of 32-byte hashes', async () => {
    await expect(authenticateApiKey(t.db, org.apiKey)).resolves.toMatchObject({ orgId: org.orgId });
    const wrongSecret = org.apiKey.slice(0, -1) + (org.apiKey.endsWith('A') ? 'B' : 'A');
    await expect(authenticateApiKey(t.db, wrongSecret)).rejects.toMatchObject({ code: 'unauthorized' });
    expect(timingSafeEqual).toHaveBeenCalledTimes(2);
    for (const [x, y] of timingSafeEqual.mock.calls) {
      expect([(x as Buffer).length, (y as Buffer).length]).toEqual([32, 32]);
    }
    // The comparison, not a string equality, is what refuses: forcing it to "equal" admits the wrong secret.
    timingSafeEqual.mockReturnValueOnce(true);
    await expect(authenticateApiKey(t.db, wrongSecret)).resolves.toMatchObject({ orgId: org.orgId });
  });

  it('verifies webhook signatures with a constant-time comparison of the HMAC', async () => {
    const app = await createTestApp(t.db);
    try {
      const body = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from: '14155550123', wamid: `wamid.ts-${Date.now()}` });
      const headers = signedHeaders(body, 'another_secret');
      timingSafeEqual.mockClear();
      expect((await app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers, payload: body })).statusCode).toBe(401);
      expect(timingSafeEqual).toHaveBeenCalledTimes(1);
      timingSafeEqual.mockReturnValueOnce(true);
      expect((await app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers, payload: body })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it('refuses a revoked key and a disabled operator\'s key, and keeps the organization\'s other keys working', async () => {
    const app = await createTestApp(t.db);
    try {
      const revoked = await createTestOperator(t.db, org.orgId, 'agent');
      const disabled = await createTestOperator(t.db, org.orgId, 'agent');
      expect((await app.inject({ method: 'GET', url: '/v1/threads', headers: bearer(revoked.apiKey) })).statusCode).toBe(200);
      await t.db.updateTable('api_keys').set({ revoked_at: new Date() }).where('operator_id', '=', revoked.operatorId).execute();
      await t.db.updateTable('operators').set({ disabled_at: new Date() }).where('id', '=', disabled.operatorId).execute();
      for (const key of [revoked.apiKey, disabled.apiKey]) {
        const response = await app.inject({ method: 'GET', url: '/v1/threads', headers: bearer(key) });
        expect(response.statusCode).toBe(401);
        expect(response.json()).toEqual({ error: { code: 'unauthorized', message: 'invalid or revoked API key' } });
      }
      expect((await app.inject({ method: 'GET', url: '/v1/threads', headers: bearer(org.apiKey) })).statusCode).toBe(200);
    } finally {
      await app.close();
    }
  });

  it.each([
    ['no header', undefined],
    ['another scheme', 'Token abc'],
    ['two keys', `Bearer ${'a'} ${'b'}`],
    ['a key with a newline', 'Bearer wah_000000000000_x\nX-Admin: 1'],
    ['a 10 kB key', `Bearer wah_${'f'.repeat(10_000)}`],
    ['a key whose prefix is SQL', "Bearer wah_' OR 1=1 --_x"],
  ])('answers 401 with the error shape to %s', async (_what, authorization) => {
    const app = await createTestApp(t.db);
    try {
      const response = await app.inject({ method: 'GET', url: '/v1/threads', headers: authorization === undefined ? {} : { authorization } });
      expect(response.statusCode).toBe(401);
      expect(response.json().error.code).toBe('unauthorized');
    } finally {
      await app.close();
    }
  });
});

describe('/v1 rate limiting per API key', () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await createTestApp(t.db, { rateLimit: { perMinute: 5 } });
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers 429 rate_limited with Retry-After once a key used its requests of the minute, and writes nothing', async () => {
    const key = (await createTestOperator(t.db, org.orgId, 'owner')).apiKey;
    const inbound = await deliverInbound(app, t.db, number);
    for (let i = 0; i < 5; i++) {
      expect((await app.inject({ method: 'GET', url: '/v1/threads', headers: bearer(key) })).statusCode).toBe(200);
    }
    const before = await countRows(t.db, 'messages', org.orgId);
    const limited = await app.inject({
      method: 'POST', url: '/v1/messages', headers: bearer(key), payload: { thread_id: inbound.threadId, type: 'text', text: { body: 'over the limit' } },
    });
    expect(limited.statusCode).toBe(429);
    expect(limited.json()).toEqual({ error: { code: 'rate_limited', message: expect.stringMatching(/^rate limit of 5 requests per minute exceeded/) } });
    const retryAfter = Number(limited.headers['retry-after']);
    expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true);
    expect(limited.headers['x-ratelimit-limit']).toBe('5');
    expect(await countRows(t.db, 'messages', org.orgId)).toBe(before);
  });

  it('counts each key apart: another key of the same organization is not limited', async () => {
    const first = (await createTestOperator(t.db, org.orgId, 'agent')).apiKey;
    const second = (await createTestOperator(t.db, org.orgId, 'agent')).apiKey;
    for (let i = 0; i < 6; i++) await app.inject({ method: 'GET', url: '/v1/threads', headers: bearer(first) });
    expect((await app.inject({ method: 'GET', url: '/v1/threads', headers: bearer(first) })).statusCode).toBe(429);
    expect((await app.inject({ method: 'GET', url: '/v1/threads', headers: bearer(second) })).statusCode).toBe(200);
  });

  it('counts requests without a valid key per client IP, so guessing keys is throttled too', async () => {
    const guess = (ip: string) => app.inject({ method: 'GET', url: '/v1/threads', remoteAddress: ip, headers: bearer(`wah_${crypto.randomBytes(6).toString('hex')}_${'A'.repeat(43)}`) });
    for (let i = 0; i < 5; i++) expect((await guess('203.0.113.7')).statusCode).toBe(401);
    const limited = await guess('203.0.113.7');
    expect(limited.statusCode).toBe(429);
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await guess('203.0.113.8')).statusCode).toBe(401);
  });

  it('does not limit webhooks or probes', async () => {
    for (let i = 0; i < 8; i++) await deliverInbound(app, t.db, number);
    for (let i = 0; i < 8; i++) expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
  });

  it('is configured by RATE_LIMIT_PER_MINUTE (default 6000, 0 disables)', () => {
    expect(loadConfig({}).rateLimitPerMinute).toBe(6_000);
    expect(loadConfig({ RATE_LIMIT_PER_MINUTE: '0' }).rateLimitPerMinute).toBe(0);
    expect(() => loadConfig({ RATE_LIMIT_PER_MINUTE: '-1' })).toThrow(/RATE_LIMIT_PER_MINUTE/);
  });
});

describe('request body limits', () => {
  it('answers 413 payload_too_large to a /v1 body over 1 MB and writes nothing', async () => {
    const app = await createTestApp(t.db);
    try {
      const inbound = await deliverInbound(app, t.db, number);
      const before = await countRows(t.db, 'messages', org.orgId);
      const response = await app.inject({
        method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey, { 'content-type': 'application/json' }),
        payload: JSON.stringify({ thread_id: inbound.threadId, type: 'text', text: { body: 'x'.repeat(1024 * 1024) } }),
      });
      expect(response.statusCode).toBe(413);
      expect(response.json().error.code).toBe('payload_too_large');
      expect(await countRows(t.db, 'messages', org.orgId)).toBe(before);
    } finally {
      await app.close();
    }
  });
});

describe('route catalogue of the hostile-input tests', () => {
  it('lists every method and path of an app, nested parameters included, without HEAD', async () => {
    const app = Fastify();
    for (const url of ['/v1/a', '/v1/a/:id', '/v1/a/:id/b', '/v1/a/:id/c', '/healthz']) app.get(url, async () => ({}));
    app.post('/v1/a', async () => ({}));
    app.delete('/v1/a/:id', async () => ({}));
    await app.ready();
    expect(listRoutes(app)).toEqual(['DELETE /v1/a/:id', 'GET /healthz', 'GET /v1/a', 'GET /v1/a/:id', 'GET /v1/a/:id/b', 'GET /v1/a/:id/c', 'POST /v1/a']);
    await app.close();
  });

  it('fails by name for a /v1 route without a probe, so a new endpoint cannot skip the fuzz and isolation tests', async () => {
    const app = Fastify();
    app.post('/v1/unprobed/:id', async () => ({}));
    await app.ready();
    expect(() => probedV1Routes(app)).toThrow(/add a probe for POST \/v1\/unprobed\/:id to test\/hostile\/routes.ts/);
    await app.close();
  });
});
