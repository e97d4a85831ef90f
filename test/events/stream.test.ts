import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { bearer } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { publishEvent } from '../helpers/events.js';
import { openStream, type SseStream } from '../helpers/sse.js';
import { createTestOrg, silentLogger, TEST_APP_SECRET, TEST_VERIFY_TOKEN, testCipher } from '../helpers/factories.js';

describe('GET /v1/stream (Server-Sent Events)', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let base: string;
  const streams: SseStream[] = [];

  beforeAll(async () => {
    t = await createTestDatabase(4);
    // A poll period far beyond the test timeouts: live delivery must come from LISTEN/NOTIFY.
    app = await buildApp({
      db: t.db, logger: silentLogger, cipher: testCipher, meta: { appSecret: TEST_APP_SECRET, verifyToken: TEST_VERIFY_TOKEN },
      databaseUrl: t.url, streamPollIntervalMs: 600_000, webRoot: false,
    });
    base = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(async () => {
    for (const stream of streams) stream.close();
    await app?.close();
    await t.drop();
  });

  async function open(apiKey: string, headers: Record<string, string> = {}) {
    const stream = await openStream(`${base}/v1/stream`, { ...bearer(apiKey), ...headers });
    streams.push(stream);
    return stream;
  }

  it('refuses an unauthenticated client', async () => {
    const response = await fetch(`${base}/v1/stream`);
    expect(response.status).toBe(401);
  });

  it('replays the organization\'s events after Last-Event-ID, in stream order, and never another organization\'s', async () => {
    const a = await createTestOrg(t.db, 'A');
    const b = await createTestOrg(t.db, 'B');
    const threadId = randomUUID();
    const first = await publishEvent(t.db, { orgId: a.orgId, eventType: 'message.received', aggregateId: randomUUID(), payload: { thread_id: threadId } });
    await publishEvent(t.db, { orgId: b.orgId, eventType: 'message.received', aggregateId: randomUUID() });
    const third = await publishEvent(t.db, { orgId: a.orgId, eventType: 'message.status_changed', aggregateId: randomUUID(), payload: { status: 'delivered' } });

    const stream = await open(a.apiKey, { 'last-event-id': '0' });
    expect(stream.status).toBe(200);
    const one = await stream.next();
    expect(one).toMatchObject({ id: first, event: 'message.received', data: { event_type: 'message.received', payload: { thread_id: threadId } } });
    const two = await stream.next();
    expect(two).toMatchObject({ id: third, event: 'message.status_changed', data: { payload: { status: 'delivered' } } });

    const resumed = await open(a.apiKey, { 'last-event-id': first });
    expect((await resumed.next()).id).toBe(third);
  });

  it('pushes a new event to connected clients as soon as it is NOTIFYed', async () => {
    const org = await createTestOrg(t.db, 'Live');
    const clients = await Promise.all([open(org.apiKey), open(org.apiKey)]);
    // Without Last-Event-ID a client starts at the newest event: nothing old is replayed.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const position = await publishEvent(t.db, { orgId: org.orgId, eventType: 'message.failed', aggregateId: randomUUID(), payload: { error_code: 131026 } });
    for (const client of clients) {
      const frame = await client.next(undefined, 3_000);
      expect(frame).toMatchObject({ id: position, event: 'message.failed', data: { payload: { error_code: 131026 } } });
    }
  });

  it('catches up on events whose NOTIFY was lost at the next wake-up', async () => {
    const org = await createTestOrg(t.db, 'Lost notify');
    const client = await open(org.apiKey);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const silent = await publishEvent(t.db, { orgId: org.orgId, eventType: 'conversation.started', aggregateId: randomUUID(), notify: false });
    const loud = await publishEvent(t.db, { orgId: org.orgId, eventType: 'contact.blocked', aggregateId: randomUUID() });
    expect((await client.next()).id).toBe(silent);
    expect((await client.next()).id).toBe(loud);
  });

  it('ends open streams when the server closes, so shutdown does not hang', async () => {
    const other = await buildApp({
      db: t.db, logger: silentLogger, cipher: testCipher, meta: { appSecret: TEST_APP_SECRET, verifyToken: TEST_VERIFY_TOKEN },
      databaseUrl: t.url, webRoot: false,
    });
    const url = await other.listen({ port: 0, host: '127.0.0.1' });
    const org = await createTestOrg(t.db, 'Closing');
    const response = await fetch(`${url}/v1/stream`, { headers: bearer(org.apiKey) });
    expect(response.status).toBe(200);
    const started = Date.now();
    await other.close();
    expect(Date.now() - started).toBeLessThan(5_000);
    // The body ends (no hanging reader).
    await response.text();
  });

  it('answers 400 to a malformed Last-Event-ID', async () => {
    const org = await createTestOrg(t.db, 'Bad cursor');
    const response = await fetch(`${base}/v1/stream`, { headers: { ...bearer(org.apiKey), 'last-event-id': 'abc' } });
    expect(response.status).toBe(400);
    expect(((await response.json()) as any).error.code).toBe('validation_failed');
  });
});
