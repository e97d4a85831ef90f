/**
 * Helpers of the inbound group-commit tests (group-commit.test.ts, group-commit-contacts.test.ts):
 * a hub app with its own batching settings, parsed webhook items, readings of the batch-size
 * histogram and of PostgreSQL's deadlock and lock-wait counters, and row counts per organization.
 */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { createDb, type Db } from '../../src/db/database.js';
import { buildApp } from '../../src/app.js';
import type { InboundBatcherOptions } from '../../src/inbound/ingest-batcher.js';
import type { IngestSummary } from '../../src/inbound/inbound.service.js';
import { metrics } from '../../src/ops/metrics.js';
import type { InboundMessageType, ParsedInboundMessage } from '../../src/providers/types.js';
import {
  silentLogger, TEST_APP_ID, TEST_APP_SECRET, TEST_VERIFY_TOKEN, testCipher, uniqueDigits, type TestNumber,
} from '../helpers/factories.js';

/** T0 of the shared fixtures: 2026-01-01T12:00:00Z, unix seconds. */
export const T0 = 1767268800;

export type EventType = 'contact.created' | 'conversation.started' | 'message.received' | 'message.status_changed';

/** The HTTP app with its own group-commit settings (createTestApp does not take them). */
export function createBatchingApp(db: Db, inboundBatch: InboundBatcherOptions): Promise<FastifyInstance> {
  return buildApp({
    db,
    logger: silentLogger,
    cipher: testCipher,
    meta: { appSecret: TEST_APP_SECRET, verifyToken: TEST_VERIFY_TOKEN, appId: TEST_APP_ID, embeddedSignupConfigId: 'test-config' },
    inboundBatch,
  });
}

/** wa_ids of distinct new UK mobile customers (+44 7700 9xxxxx); five random digits alone collide within a test now and then. */
export function newCustomers(count: number): string[] {
  const customers = new Set<string>();
  while (customers.size < count) customers.add(`4477009${uniqueDigits(5)}`);
  return [...customers];
}

/** The wa_id of one new UK mobile customer (see newCustomers). */
export function newCustomer(): string {
  return newCustomers(1)[0]!;
}

/** One customer text message as parseMetaWebhook yields it; `type` may be forced to a value the database refuses. */
export function messageItem(number: TestNumber, values: { from: string; wamid: string; timestamp: number; name?: string | null; type?: string }): ParsedInboundMessage {
  const type = (values.type ?? 'text') as InboundMessageType;
  return {
    kind: 'message',
    provider: 'meta',
    wabaId: number.wabaId,
    phoneNumberId: number.phoneNumberId,
    displayPhoneNumber: number.displayPhoneNumber,
    waId: values.from,
    bsuid: null,
    parentBsuid: null,
    username: null,
    profileName: values.name === undefined ? `Customer ${values.from}` : values.name,
    providerMessageId: values.wamid,
    timestamp: new Date(values.timestamp * 1000),
    type,
    content: { body: `message ${values.wamid}` },
    raw: { from: values.from, id: values.wamid, timestamp: String(values.timestamp), type, text: { body: `message ${values.wamid}` } },
  };
}

/** Batches and webhooks the batch-size histogram has seen so far (process-global: compare deltas). */
export async function batchHistogram(): Promise<{ batches: number; webhooks: number; singles: number }> {
  const { values } = await metrics.inboundBatchSize.get();
  const value = (name: string, le?: number) =>
    values.find((v) => v.metricName === name && (le === undefined || v.labels.le === le))?.value ?? 0;
  return {
    batches: value('wahub_inbound_batch_webhooks_count'),
    webhooks: value('wahub_inbound_batch_webhooks_sum'),
    singles: value('wahub_inbound_batch_webhooks_bucket', 1),
  };
}

/** What the batch-size histogram saw since `before` (a batchHistogram() reading). */
export async function histogramDelta(before: { batches: number; webhooks: number; singles: number }) {
  const after = await batchHistogram();
  return { batches: after.batches - before.batches, webhooks: after.webhooks - before.webhooks, singles: after.singles - before.singles };
}

/** Deadlocks PostgreSQL detected in this test database so far (pg_stat_database). */
export async function deadlockCount(db: Db): Promise<number> {
  const result = await sql<{ deadlocks: string }>`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`.execute(db);
  return Number(result.rows[0]!.deadlocks);
}

/**
 * Runs work on a pool of its own (one hub process) and closes it. PostgreSQL 15 reports a backend's
 * deadlocks to pg_stat_database lazily (up to 10 s later when idle) but always before the backend
 * exits, so counting deadlocks after closing the pool cannot miss one.
 */
export async function withOwnPool<T>(url: string, work: (db: Db) => Promise<T>): Promise<T> {
  const db = createDb(url, 8);
  try {
    return await work(db);
  } finally {
    await db.destroy();
  }
}

/** Aggregate ids of an organization's events of one type (one per event, duplicates kept). */
export async function eventAggregates(db: Db, orgId: string, type: EventType): Promise<string[]> {
  const rows = await db.selectFrom('outbox_events').select('aggregate_id').where('org_id', '=', orgId).where('event_type', '=', type).execute();
  return rows.map((row) => row.aggregate_id).sort();
}

/** Ids of an organization's rows of one table, sorted (to compare with eventAggregates). */
export async function ids(db: Db, table: 'contacts' | 'threads' | 'messages', orgId: string): Promise<string[]> {
  const rows = await db.selectFrom(table).select('id').where('org_id', '=', orgId).execute();
  return rows.map((row) => row.id).sort();
}

/** Clients without a contact: what a race-losing contact insert leaves behind when it forgets to clean up. */
export async function orphanClients(db: Db, orgId: string): Promise<number> {
  const result = await sql<{ n: string }>`
    SELECT count(*) AS n FROM clients cl WHERE cl.org_id = ${orgId}
      AND NOT EXISTS (SELECT 1 FROM contacts co WHERE co.org_id = cl.org_id AND co.client_id = cl.id)`.execute(db);
  return Number(result.rows[0]!.n);
}

/** Rows of client_preferences of an organization (one per client). */
export async function clientPreferencesCount(db: Db, orgId: string): Promise<number> {
  const result = await sql<{ n: string }>`SELECT count(*) AS n FROM client_preferences WHERE org_id = ${orgId}`.execute(db);
  return Number(result.rows[0]!.n);
}

/** Transactions that wrote the organization's inbound messages (rows committed together share xmin). */
export async function messageTransactions(db: Db, orgId: string): Promise<number> {
  const result = await sql<{ n: string }>`SELECT count(DISTINCT xmin::text) AS n FROM messages WHERE org_id = ${orgId}`.execute(db);
  return Number(result.rows[0]!.n);
}

/** The contact of a wa_id in an organization, or undefined: id, profile_name and last_active_at. */
export async function contactByWaId(db: Db, orgId: string, waId: string) {
  return db.selectFrom('contacts').select(['id', 'profile_name', 'last_active_at']).where('org_id', '=', orgId).where('wa_id', '=', waId).executeTakeFirst();
}

/** Waits (bounded) until `count` backends of the test database wait for a lock: the schedule of the next step depends on it. */
export async function untilLockWaiters(db: Db, count: number): Promise<void> {
  for (let attempt = 0; attempt < 500; attempt++) {
    const result = await sql<{ n: string }>`
      SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`.execute(db);
    if (Number(result.rows[0]!.n) >= count) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`fewer than ${count} backends ever waited for a lock`);
}

/** Messages stored and duplicates counted over several ingest summaries. */
export function sumSummaries(summaries: IngestSummary[]): { stored: number; duplicates: number } {
  return summaries.reduce((total, s) => ({ stored: total.stored + s.messagesStored, duplicates: total.duplicates + s.duplicateMessages }), { stored: 0, duplicates: 0 });
}
