/**
 * Contacts, statuses and lock order under inbound group commit (src/inbound/ingest-batcher.ts),
 * against the real database (STYLE.md §8): a contact's profile name and last_active_at must follow
 * the newest message whatever order a batch or redelivery carries them in; statuses that concurrent
 * batches carry in opposite orders must move messages only forward; and batches must lock contacts
 * in E.164 order, so that a contact created while one waits never makes two of them deadlock.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboundBatcher } from '../../src/inbound/ingest-batcher.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countRows, createTestNumber, createTestOrg, uniqueDigits } from '../helpers/factories.js';
import {
  batchHistogram, contactByWaId, createBatchingApp, deadlockCount, histogramDelta, messageItem, newCustomer, newCustomers,
  sumSummaries, T0, untilLockWaiters, withOwnPool,
} from './group-commit.helpers.js';
import { insertOutboundMessage, insertThread, postWebhook, seededRandom, shuffled } from './helpers.js';

describe('inbound group commit: contacts, statuses and lock order', () => {
  let t: TestDatabase;

  beforeAll(async () => {
    t = await createTestDatabase(20);
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('takes the profile name and last_active_at of the newest message of a batch whatever order the batch holds them in', async () => {
    const { orgId } = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, orgId);
    const batcher = new InboundBatcher(t.db, { maxBatchSize: 50, maxConcurrentBatches: 1 });
    const [a, b, other] = newCustomers(3) as [string, string, string];
    const send = (from: string, seconds: number, name: string | null) =>
      batcher.submit([messageItem(number, { from, wamid: `wamid.name-${seconds}-${uniqueDigits(10)}`, timestamp: T0 + seconds, name })], null);
    const before = await batchHistogram();
    const warmUp = send(other, 0, 'Someone else');
    // Customer A: newest message in the middle of the batch; customer B: newest first, and a newer message without a name last.
    const batch = [
      send(a, 60, 'Maya'), send(a, 180, 'Maya Chen'), send(a, 120, 'maya c'),
      send(b, 300, 'Sam Lee'), send(b, 200, 'sam'), send(b, 240, 'Sam'), send(b, 320, null),
    ];
    await Promise.all([warmUp, ...batch]);
    expect(await histogramDelta(before)).toEqual({ batches: 2, webhooks: 8, singles: 1 });

    const contactA = await contactByWaId(t.db, orgId, a);
    expect(contactA?.profile_name).toBe('Maya Chen');
    expect(contactA?.last_active_at?.getTime()).toBe((T0 + 180) * 1000);
    const contactB = await contactByWaId(t.db, orgId, b);
    expect(contactB?.profile_name).toBe('Sam Lee');
    expect(contactB?.last_active_at?.getTime()).toBe((T0 + 320) * 1000);
    expect(await countRows(t.db, 'contacts', orgId)).toBe(3);
  });

  it('moves last_active_at for a message 60 s ahead of it but not for one 30 s ahead, while the thread keeps the exact time', async () => {
    const { orgId } = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, orgId);
    const batcher = new InboundBatcher(t.db, { maxConcurrentBatches: 1 });
    const from = newCustomer();
    const send = (seconds: number) => batcher.submit([messageItem(number, { from, wamid: `wamid.active-${seconds}-${uniqueDigits(10)}`, timestamp: T0 + seconds })], null);
    const activity = async () => {
      const contact = await contactByWaId(t.db, orgId, from);
      const thread = await t.db.selectFrom('threads').select('last_inbound_at').where('org_id', '=', orgId).executeTakeFirstOrThrow();
      return { contact: contact?.last_active_at?.getTime(), thread: thread.last_inbound_at?.getTime() };
    };

    await send(0);
    expect(await activity()).toEqual({ contact: T0 * 1000, thread: T0 * 1000 });
    await send(30);
    expect(await activity()).toEqual({ contact: T0 * 1000, thread: (T0 + 30) * 1000 });
    await send(60);
    expect(await activity()).toEqual({ contact: (T0 + 60) * 1000, thread: (T0 + 60) * 1000 });
  });

  it('keeps the newer profile name when an older message arrives within last_active_at precision of it', async () => {
    const { orgId } = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, orgId);
    const batcher = new InboundBatcher(t.db, { maxConcurrentBatches: 1 });
    const from = newCustomer();
    const send = (seconds: number, name: string) =>
      batcher.submit([messageItem(number, { from, wamid: `wamid.precision-${seconds}-${uniqueDigits(10)}`, timestamp: T0 + seconds, name })], null);

    await send(0, 'maya');
    await send(30, 'Maya Chen');
    expect((await contactByWaId(t.db, orgId, from))?.profile_name).toBe('Maya Chen');
    // Redelivered late: older than the 'Maya Chen' message, so it must not bring back its older name.
    await send(10, 'maya');
    expect((await contactByWaId(t.db, orgId, from))?.profile_name).toBe('Maya Chen');
  });

  it('moves outbound messages only forward when concurrent batched webhooks carry their statuses in opposite orders', async () => {
    const { orgId } = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, orgId);
    const customer = newCustomer();
    const { threadId } = await insertThread(t.db, { orgId, phoneNumberRef: number.id, e164: `+${customer}` });
    const outbound = await Promise.all(Array.from({ length: 10 }, async () => {
      const wamid = `wamid.out-${uniqueDigits(12)}`;
      return { wamid, id: await insertOutboundMessage(t.db, { orgId, threadId, phoneNumberRef: number.id, wamid, status: 'sent' }) };
    }));
    const random = seededRandom(42);
    // Each webhook: an inbound message of the customer, then 'delivered' or 'read' for all ten messages, in a shuffled order.
    const bodies = Array.from({ length: 30 }, (_, w) => JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{
        id: number.wabaId,
        changes: [{
          field: 'messages',
          value: {
            messaging_product: 'whatsapp',
            metadata: { display_phone_number: number.displayPhoneNumber, phone_number_id: number.phoneNumberId },
            contacts: [{ profile: { name: 'Customer' }, wa_id: customer }],
            messages: [{ from: customer, id: `wamid.in-${w}-${uniqueDigits(8)}`, timestamp: String(T0 + w), type: 'text', text: { body: `reply ${w}` } }],
            statuses: (w % 2 === 0 ? shuffled(outbound, random) : [...outbound].reverse()).map((m) => ({
              id: m.wamid, status: w % 3 === 0 ? 'read' : 'delivered', timestamp: String(T0 + w), recipient_id: customer,
            })),
          },
        }],
      }],
    }));
    const deadlocksBefore = await deadlockCount(t.db);
    const responses = await withOwnPool(t.url, async (db) => {
      const hub = await createBatchingApp(db, { maxBatchSize: 4, maxConcurrentBatches: 4 });
      try {
        return await Promise.all(bodies.map((body) => postWebhook(hub, body)));
      } finally {
        await hub.close();
      }
    });
    for (const response of responses) expect(response.statusCode, response.body).toBe(200);

    const statuses = await t.db.selectFrom('messages').select(['id', 'status']).where('org_id', '=', orgId).where('direction', '=', 'outbound').execute();
    expect(statuses.map((m) => m.status)).toEqual(Array(10).fill('read'));
    // One status event per step forward: delivered then read, or read directly; never read then delivered.
    const events = await sql<{ aggregate_id: string; status: string }>`
      SELECT aggregate_id, payload->>'status' AS status FROM outbox_events
      WHERE org_id = ${orgId} AND event_type = 'message.status_changed' ORDER BY seq`.execute(t.db);
    for (const message of outbound) {
      const steps = events.rows.filter((e) => e.aggregate_id === message.id).map((e) => e.status);
      expect([['read'], ['delivered', 'read']]).toContainEqual(steps);
    }
    expect(await countRows(t.db, 'messages', orgId)).toBe(40);
    expect(await countRows(t.db, 'threads', orgId)).toBe(1);
    expect(await countRows(t.db, 'contacts', orgId)).toBe(1);
    expect(await countRows(t.db, 'pending_statuses', orgId)).toBe(0);
    expect(await deadlockCount(t.db)).toBe(deadlocksBefore);
  });

  it('locks an existing contact and a contact created meanwhile in E.164 order, so two batches never deadlock on them', async () => {
    const { orgId } = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, orgId);
    // A sorts before B in (org, E.164) order, the order every batch must lock contacts in.
    const [a, b] = newCustomers(2).sort() as [string, string];
    const message = (from: string, seconds: number) => messageItem(number, { from, wamid: `wamid.order-${seconds}-${uniqueDigits(10)}`, timestamp: T0 + seconds });
    const deadlocksBefore = await deadlockCount(t.db);

    await withOwnPool(t.url, async (db) => {
      const batcher = new InboundBatcher(db, { maxBatchSize: 1, maxConcurrentBatches: 3 });
      await batcher.submit([message(b, 0)], 'b exists');
      // Another client holds B for a moment, so that each batch stops at B with its statement snapshot taken.
      let release!: () => void;
      const released = new Promise<void>((resolve) => { release = resolve; });
      let holding!: () => void;
      const held = new Promise<void>((resolve) => { holding = resolve; });
      const blocker = t.db.transaction().execute(async (tx) => {
        await sql`SELECT id FROM contacts WHERE org_id = ${orgId} AND e164 = ${`+${b}`} FOR NO KEY UPDATE`.execute(tx);
        holding();
        await released;
      });
      await held;
      // X: B exists, A does not yet (in X's snapshot); X waits for B.
      const x = batcher.submit([message(a, 600), message(b, 600)], 'x');
      await untilLockWaiters(t.db, 1);
      // A is created and committed while X waits.
      await batcher.submit([message(a, 1)], 'a created');
      // Y: both exist; Y locks A, then waits for B.
      const y = batcher.submit([message(a, 1200), message(b, 1200)], 'y');
      await untilLockWaiters(t.db, 2);
      release();
      await blocker;
      expect(sumSummaries(await Promise.all([x, y]))).toEqual({ stored: 4, duplicates: 0 });
    });

    expect(await countRows(t.db, 'contacts', orgId)).toBe(2);
    expect(await countRows(t.db, 'clients', orgId)).toBe(2);
    expect(await countRows(t.db, 'messages', orgId)).toBe(6);
    expect(await deadlockCount(t.db)).toBe(deadlocksBefore);
  });
});
