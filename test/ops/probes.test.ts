/**
 * `/healthz`, `/readyz`, `/metrics`, `/metrics-json` on a real database, and readiness through a
 * real PostgreSQL outage (its own embedded server, stopped and started again).
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/database.js';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrateUp } from '../../src/db/migrate.js';
import { buildApp } from '../../src/app.js';
import { bearer, deliverInbound } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  createTestNumber, createTestOrg, signedHeaders, silentLogger, TEST_APP_SECRET, TEST_VERIFY_TOKEN, testCipher, textWebhook, uniqueDigits,
} from '../helpers/factories.js';

const SERIES = [
  'wahub_webhook_requests_total', 'wahub_inbound_messages_total', 'wahub_statuses_total', 'wahub_outbox_rows', 'wahub_outbox_lag_seconds',
  'wahub_outbox_claim_duration_seconds', 'wahub_provider_send_duration_seconds', 'wahub_provider_errors_total', 'wahub_governor_throttles_total',
  'wahub_lease_expiries_total', 'wahub_event_relay_lag_seconds', 'wahub_db_pool_connections', 'wahub_http_request_duration_seconds',
  'wahub_process_cpu_user_seconds_total',
];

describe('operations endpoints', () => {
  let t: TestDatabase;
  let app: FastifyInstance;
  let shuttingDown = false;
  let tick: number | undefined = Date.now();

  beforeAll(async () => {
    t = await createTestDatabase(4);
    app = await buildApp({
      db: t.db, logger: silentLogger, cipher: testCipher, meta: { appSecret: TEST_APP_SECRET, verifyToken: TEST_VERIFY_TOKEN },
      isShuttingDown: () => shuttingDown, loops: [{ name: 'dispatcher', lastTickAt: () => tick, maxSilenceMs: 5_000 }],
    });
  });
  afterAll(async () => {
    await app?.close();
    await t?.drop();
  });

  it('answers /healthz without touching dependencies', async () => {
    const response = await app.inject({ method: 'GET', url: '/healthz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ status: 'ok' });
  });

  it('is ready with the database up, migrations applied and the dispatcher ticking', async () => {
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ status: 'ready', failing: [] });
    expect(response.json().checks.map((c: { name: string }) => c.name)).toEqual(['lifecycle', 'database', 'migrations', 'dispatcher']);
  });

  it('names a silent dispatcher and a shutdown as failing readiness checks', async () => {
    tick = Date.now() - 60_000;
    const stuck = await app.inject({ method: 'GET', url: '/readyz' });
    expect(stuck.statusCode).toBe(503);
    expect(stuck.json().failing).toEqual(['dispatcher']);
    tick = Date.now();
    shuttingDown = true;
    const closing = await app.inject({ method: 'GET', url: '/readyz' });
    shuttingDown = false;
    expect(closing.statusCode).toBe(503);
    expect(closing.json().failing).toEqual(['lifecycle']);
  });

  it('exposes every named series in Prometheus format', async () => {
    const org = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, org.orgId);
    await deliverInbound(app, t.db, number);
    const response = await app.inject({ method: 'GET', url: '/metrics' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain('text/plain');
    for (const series of SERIES) expect(response.body, series).toContain(`# TYPE ${series}`);
    expect(response.body).toMatch(/wahub_webhook_requests_total\{provider="meta",result="stored"\} [1-9]/);
    expect(response.body).toMatch(/wahub_inbound_messages_total\{type="text"\} [1-9]/);
    expect(response.body).toMatch(/wahub_http_request_duration_seconds_count\{method="POST",route="\/webhooks\/whatsapp",status="200"\} [1-9]/);
  });

  it('reports /metrics-json figures that match the database after a scripted scenario', async () => {
    const before = (await app.inject({ method: 'GET', url: '/metrics-json' })).json();
    const org = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, org.orgId);
    const { threadId } = await deliverInbound(app, t.db, number);
    for (let i = 0; i < 3; i++) {
      const sent = await app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey), payload: { thread_id: threadId, type: 'text', text: { body: `m${i}` } } });
      expect(sent.statusCode).toBe(202);
    }
    await t.db.updateTable('phone_numbers').set({ status: 'reauth_required' }).where('id', '=', (await createTestNumber(t.db, org.orgId)).id).execute();
    const after = (await app.inject({ method: 'GET', url: '/metrics-json' })).json();
    const pending = await t.db.selectFrom('message_outbox').select((eb) => eb.fn.countAll<string>().as('n')).where('state', '=', 'pending').executeTakeFirstOrThrow();
    expect(after.queuedCount).toBe(Number(pending.n));
    expect(after.queuedCount - before.queuedCount).toBe(3);
    expect(after.activeAccounts - before.activeAccounts).toBe(1);
    expect(after.reconnectCount - before.reconnectCount).toBe(1);
    expect(after).toMatchObject({ processingCount: 0, sentLast5m: 0, failedLast5m: 0 });
    expect(after.outboxLagSeconds).toBeGreaterThanOrEqual(0);
  });
});

describe('readiness through a PostgreSQL outage', () => {
  let dataDir: string;
  let stop: () => Promise<void>;
  let app: FastifyInstance;
  let db: ReturnType<typeof createDb>;

  beforeAll(async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'wahub-outage-'));
    await chmod(dataDir, 0o755);
    const embedded = await startEmbeddedPostgres(dataDir);
    stop = embedded.stop;
    db = createDb(embedded.url, 4);
    await migrateUp(db);
    app = await buildApp({ db, logger: silentLogger, cipher: testCipher, meta: { appSecret: TEST_APP_SECRET, verifyToken: TEST_VERIFY_TOKEN } });
  });
  afterAll(async () => {
    await app?.close();
    await db?.destroy();
    await stop?.();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('turns 503 while the database is down (webhooks too, so Meta retries) and recovers, losing nothing acknowledged', async () => {
    const org = await createTestOrg(db);
    const number = await createTestNumber(db, org.orgId);
    const webhook = (wamid: string) => textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from: `1415${uniqueDigits(7)}`, wamid });
    const post = (body: string) => app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(body), payload: body });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
    expect((await post(webhook('wamid.before'))).statusCode).toBe(200);

    await stop();
    const down = await app.inject({ method: 'GET', url: '/readyz' });
    expect(down.statusCode).toBe(503);
    expect(down.json().failing).toContain('database');
    const refused = await post(webhook('wamid.during'));
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error.code).toBe('database_unavailable');

    stop = (await startEmbeddedPostgres(dataDir)).stop;
    let ready = 503;
    for (let i = 0; i < 50 && ready !== 200; i++) {
      ready = (await app.inject({ method: 'GET', url: '/readyz' })).statusCode;
      if (ready !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(ready).toBe(200);
    // Meta retries the refused webhook; it is stored now, and the acknowledged one survived.
    expect((await post(webhook('wamid.during'))).statusCode).toBe(200);
    const stored = await db.selectFrom('messages').select('provider_message_id').orderBy('provider_message_id').execute();
    expect(stored.map((m) => m.provider_message_id)).toEqual(['wamid.before', 'wamid.during']);
  });
});
