/**
 * Group commit of inbound webhooks (src/inbound/ingest-batcher.ts), attacked with real
 * concurrency against the real database (STYLE.md §8): webhooks that share one transaction must
 * still be stored exactly once each, with their events once each, without deadlocks; a webhook the
 * database refuses must fail alone; a wamid twice in one batch must be stored once; and drain()
 * must wait for every commit.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InboundBatcher } from '../../src/inbound/ingest-batcher.js';
import type { IngestSummary } from '../../src/inbound/inbound.service.js';
import type { ParsedWebhookItem } from '../../src/providers/types.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countRows, createTestNumber, createTestOrg, textWebhook, uniqueDigits } from '../helpers/factories.js';
import {
  batchHistogram, clientPreferencesCount, contactByWaId, createBatchingApp, deadlockCount, eventAggregates, histogramDelta, ids,
  messageItem, messageTransactions, newCustomer, newCustomers, orphanClients, sumSummaries, T0, withOwnPool,
} from './group-commit.helpers.js';
import { postWebhook, seededRandom, shuffled } from './helpers.js';

describe('inbound group commit', () => {
  let t: TestDatabase;
  let app: FastifyInstance;

  beforeAll(async () => {
    t = await createTestDatabase(20);
    // Small batches and two transactions at once, so that 200 requests make many multi-webhook batches.
    app = await createBatchingApp(t.db, { maxBatchSize: 16, maxConcurrentBatches: 2 });
  });
  afterAll(async () => {
    await app?.close();
    await t?.drop();
  });

  it('stores 200 concurrent webhooks of 50 customers on 3 numbers once each, with their events once each, in shared transactions', async () => {
    const { orgId } = await createTestOrg(t.db);
    const numbers = [await createTestNumber(t.db, orgId), await createTestNumber(t.db, orgId), await createTestNumber(t.db, orgId)];
    const customers = newCustomers(50);
    const sends = Array.from({ length: 200 }, (_, i) => ({ from: customers[i % 50]!, number: numbers[i % 3]!, wamid: `wamid.gc-${i}-${uniqueDigits(8)}`, timestamp: T0 + i }));
    const expectedThreads = new Set(sends.map((s) => `${s.from}:${s.number.id}`)).size;
    const before = await batchHistogram();

    const responses = await Promise.all(sends.map((s) =>
      postWebhook(app, textWebhook({ wabaId: s.number.wabaId, phoneNumberId: s.number.phoneNumberId, from: s.from, wamid: s.wamid, timestamp: s.timestamp }))));
    for (const response of responses) expect(response.statusCode, response.body).toBe(200);

    expect(await countRows(t.db, 'messages', orgId)).toBe(200);
    const stored = await t.db.selectFrom('messages').select('provider_message_id').where('org_id', '=', orgId).execute();
    expect(stored.map((m) => m.provider_message_id).sort()).toEqual(sends.map((s) => s.wamid).sort());
    expect(await countRows(t.db, 'contacts', orgId)).toBe(50);
    expect(await countRows(t.db, 'clients', orgId)).toBe(50);
    expect(await clientPreferencesCount(t.db, orgId)).toBe(50);
    expect(await orphanClients(t.db, orgId)).toBe(0);
    expect(await countRows(t.db, 'threads', orgId)).toBe(expectedThreads);
    expect(await eventAggregates(t.db, orgId, 'message.received')).toEqual(await ids(t.db, 'messages', orgId));
    expect(await eventAggregates(t.db, orgId, 'contact.created')).toEqual(await ids(t.db, 'contacts', orgId));
    expect(await eventAggregates(t.db, orgId, 'conversation.started')).toEqual(await ids(t.db, 'threads', orgId));

    // Every webhook went through exactly one batch, and batches held several of them.
    const delta = await histogramDelta(before);
    expect(delta.webhooks).toBe(200);
    expect(delta.batches).toBeLessThan(200);
    expect(delta.singles).toBeLessThan(delta.batches);
    expect(await messageTransactions(t.db, orgId)).toBeLessThan(200);
  });

  it('files 50 concurrent first messages of one customer under 1 contact, 1 client, 1 thread and one creation event each', async () => {
    const { orgId } = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, orgId);
    const from = newCustomer();
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) =>
      postWebhook(app, textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from, wamid: `wamid.one-${from}-${i}`, timestamp: T0 + i }))));
    for (const response of responses) expect(response.statusCode, response.body).toBe(200);

    expect(await countRows(t.db, 'contacts', orgId)).toBe(1);
    expect(await countRows(t.db, 'clients', orgId)).toBe(1);
    expect(await clientPreferencesCount(t.db, orgId)).toBe(1);
    expect(await countRows(t.db, 'threads', orgId)).toBe(1);
    expect(await countRows(t.db, 'messages', orgId)).toBe(50);
    expect(await eventAggregates(t.db, orgId, 'contact.created')).toEqual(await ids(t.db, 'contacts', orgId));
    expect(await eventAggregates(t.db, orgId, 'conversation.started')).toEqual(await ids(t.db, 'threads', orgId));
    expect(await eventAggregates(t.db, orgId, 'message.received')).toEqual(await ids(t.db, 'messages', orgId));
    const thread = await t.db.selectFrom('threads').select('last_inbound_at').where('org_id', '=', orgId).executeTakeFirstOrThrow();
    expect(thread.last_inbound_at?.getTime()).toBe((T0 + 49) * 1000);
  });

  it('rejects only the webhook the database refuses and stores the 20 it shared a batch with once each', async () => {
    const { orgId } = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, orgId);
    const batcher = new InboundBatcher(t.db, { maxBatchSize: 50, maxConcurrentBatches: 1 });
    const before = await batchHistogram();
    // The first submission starts its transaction at once; the 21 submitted in the same tick queue behind it and form one batch.
    const customers = newCustomers(23);
    const warmUp = batcher.submit([messageItem(number, { from: customers[22]!, wamid: `wamid.warm-${uniqueDigits(10)}`, timestamp: T0 })], 'warm-up');
    const goods = Array.from({ length: 20 }, (_, i) => [messageItem(number, { from: customers[i]!, wamid: `wamid.good-${i}-${uniqueDigits(8)}`, timestamp: T0 + 1 })]);
    const [onlyInPoison, poisonSender] = [customers[20]!, customers[21]!];
    // All or nothing: the valid message of the poison webhook must go with it.
    const poison: ParsedWebhookItem[] = [
      messageItem(number, { from: onlyInPoison, wamid: `wamid.poison-ok-${uniqueDigits(10)}`, timestamp: T0 + 1 }),
      messageItem(number, { from: poisonSender, wamid: `wamid.poison-${uniqueDigits(10)}`, timestamp: T0 + 1, type: 'NOT A TYPE' }),
    ];
    const submissions = [...goods.slice(0, 10), poison, ...goods.slice(10)];
    const results = await Promise.allSettled([warmUp, ...submissions.map((items, i) => batcher.submit(items, `webhook-${i}`))]);

    const poisonResult = results[11]!;
    expect(poisonResult.status).toBe('rejected');
    expect((poisonResult as PromiseRejectedResult).reason).toMatchObject({ code: '23514', constraint: 'messages_type_check' });
    const others = results.filter((_, i) => i !== 11);
    expect(others.map((r) => r.status)).toEqual(Array(21).fill('fulfilled'));
    for (const result of others) expect((result as PromiseFulfilledResult<IngestSummary>).value).toMatchObject({ messagesStored: 1, duplicateMessages: 0 });
    // The poison webhook was in the batch of 21 (the warm-up alone is the only batch of one).
    expect(await histogramDelta(before)).toEqual({ batches: 2, webhooks: 22, singles: 1 });

    expect(await countRows(t.db, 'messages', orgId)).toBe(21);
    expect(await countRows(t.db, 'contacts', orgId)).toBe(21);
    expect(await countRows(t.db, 'clients', orgId)).toBe(21);
    expect(await clientPreferencesCount(t.db, orgId)).toBe(21);
    expect(await countRows(t.db, 'threads', orgId)).toBe(21);
    expect(await contactByWaId(t.db, orgId, onlyInPoison)).toBeUndefined();
    expect(await contactByWaId(t.db, orgId, poisonSender)).toBeUndefined();
    expect(await countRows(t.db, 'webhook_dead_letters', orgId)).toBe(0);
    expect(await eventAggregates(t.db, orgId, 'message.received')).toEqual(await ids(t.db, 'messages', orgId));
    expect(await eventAggregates(t.db, orgId, 'contact.created')).toEqual(await ids(t.db, 'contacts', orgId));
    expect(await eventAggregates(t.db, orgId, 'conversation.started')).toEqual(await ids(t.db, 'threads', orgId));
  });

  it('stores a wamid that two webhooks of one batch carry once and counts the second as a duplicate', async () => {
    const { orgId } = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, orgId);
    const batcher = new InboundBatcher(t.db, { maxBatchSize: 50, maxConcurrentBatches: 1 });
    const [from, other] = newCustomers(2) as [string, string];
    const wamid = `wamid.twice-${uniqueDigits(10)}`;
    const before = await batchHistogram();
    const warmUp = batcher.submit([messageItem(number, { from: other, wamid: `wamid.warm-${uniqueDigits(10)}`, timestamp: T0 })], 'warm-up');
    const original = batcher.submit([messageItem(number, { from, wamid, timestamp: T0 + 1 })], 'original');
    const redelivery = batcher.submit([messageItem(number, { from, wamid, timestamp: T0 + 1 })], 'redelivery');
    const summaries = await Promise.all([warmUp, original, redelivery]);
    expect(await histogramDelta(before)).toEqual({ batches: 2, webhooks: 3, singles: 1 });

    expect(summaries[1]).toMatchObject({ messagesStored: 1, duplicateMessages: 0 });
    expect(summaries[2]).toMatchObject({ messagesStored: 0, duplicateMessages: 1 });
    const rows = await t.db.selectFrom('messages').select('id').where('org_id', '=', orgId).where('provider_message_id', '=', wamid).execute();
    expect(rows).toHaveLength(1);
    const received = await eventAggregates(t.db, orgId, 'message.received');
    expect(received.filter((id) => id === rows[0]!.id)).toHaveLength(1);
    expect(received).toHaveLength(2);
    expect(await eventAggregates(t.db, orgId, 'contact.created')).toHaveLength(2);
    expect(await eventAggregates(t.db, orgId, 'conversation.started')).toHaveLength(2);
  });

  it('counts a wamid with a lone surrogate as stored, and another that PostgreSQL stores alike as its duplicate, within one batch', async () => {
    const { orgId } = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, orgId);
    const batcher = new InboundBatcher(t.db, { maxBatchSize: 50, maxConcurrentBatches: 1 });
    const [from, other] = newCustomers(2) as [string, string];
    const stem = `wamid.surrogate-${uniqueDigits(10)}`;
    // Both ids reach PostgreSQL as `${stem}x\ufffdy`: jsonb and UTF-8 cannot hold a lone surrogate.
    const warmUp = batcher.submit([messageItem(number, { from: other, wamid: `wamid.warm-${uniqueDigits(10)}`, timestamp: T0 })], 'warm-up');
    const lone = batcher.submit([messageItem(number, { from, wamid: `${stem}x\udfffy`, timestamp: T0 + 1 })], 'lone');
    const alike = batcher.submit([messageItem(number, { from, wamid: `${stem}x\ud800y`, timestamp: T0 + 1 })], 'alike');
    const summaries = await Promise.all([warmUp, lone, alike]);

    expect(summaries[1]).toMatchObject({ messagesStored: 1, duplicateMessages: 0 });
    expect(summaries[2]).toMatchObject({ messagesStored: 0, duplicateMessages: 1 });
    const rows = await t.db.selectFrom('messages').select(['id', 'provider_message_id']).where('org_id', '=', orgId).where('provider_message_id', 'like', `${stem}%`).execute();
    expect(rows).toEqual([{ id: expect.any(String), provider_message_id: `${stem}x\ufffdy` }]);
    const received = await eventAggregates(t.db, orgId, 'message.received');
    expect(received.filter((id) => id === rows[0]!.id)).toHaveLength(1);
    expect(received).toHaveLength(2);
    // A redelivery in a later batch is a duplicate too.
    expect(await batcher.submit([messageItem(number, { from, wamid: `${stem}x\udfffy`, timestamp: T0 + 1 })], 'redelivery'))
      .toMatchObject({ messagesStored: 0, duplicateMessages: 1 });
  });

  it('stores 40 concurrent webhooks of the same 10 customers in shuffled orders on 2 numbers without a deadlock', async () => {
    const { orgId } = await createTestOrg(t.db);
    const numbers = [await createTestNumber(t.db, orgId), await createTestNumber(t.db, orgId)];
    const customers = newCustomers(10);
    const random = seededRandom(20260101);
    const webhooks = Array.from({ length: 40 }, (_, w) => shuffled(customers, random).map((from) => {
      const c = customers.indexOf(from);
      // 60 s between webhooks: every newer webhook moves last_active_at and renames, so contacts are locked and updated.
      return messageItem(numbers[(w + c) % 2]!, { from, wamid: `wamid.dl-${w}-${c}-${uniqueDigits(6)}`, timestamp: T0 + w * 60 + c, name: `Customer ${c} v${w}` });
    }));
    const deadlocksBefore = await deadlockCount(t.db);
    // Three hub processes, each with its own pool and batcher: up to six batch transactions at once.
    const summaries = (await Promise.all([0, 1, 2].map((p) => withOwnPool(t.url, (db) => {
      const batcher = new InboundBatcher(db, { maxBatchSize: 4, maxConcurrentBatches: 2 });
      return Promise.all(webhooks.filter((_, w) => w % 3 === p).map((items) => batcher.submit(items, null)));
    })))).flat();
    expect(sumSummaries(summaries)).toEqual({ stored: 400, duplicates: 0 });
    expect(await countRows(t.db, 'messages', orgId)).toBe(400);
    expect(await countRows(t.db, 'contacts', orgId)).toBe(10);
    expect(await countRows(t.db, 'clients', orgId)).toBe(10);
    expect(await orphanClients(t.db, orgId)).toBe(0);
    expect(await countRows(t.db, 'threads', orgId)).toBe(20);
    expect(await eventAggregates(t.db, orgId, 'message.received')).toEqual(await ids(t.db, 'messages', orgId));
    expect(await eventAggregates(t.db, orgId, 'contact.created')).toEqual(await ids(t.db, 'contacts', orgId));
    expect(await eventAggregates(t.db, orgId, 'conversation.started')).toEqual(await ids(t.db, 'threads', orgId));
    // Whatever order the batches committed in, the newest message (webhook 39) decides name and activity.
    for (const [c, from] of customers.entries()) {
      const contact = await contactByWaId(t.db, orgId, from);
      expect(contact?.profile_name).toBe(`Customer ${c} v39`);
      expect(contact?.last_active_at?.getTime()).toBe((T0 + 39 * 60 + c) * 1000);
    }
    // Retries on deadlock would hide a bad lock order (withTransaction retries them): there must be none.
    expect(await deadlockCount(t.db)).toBe(deadlocksBefore);
  });

  it('resolves drain() only after every submitted webhook is committed or refused', async () => {
    const { orgId } = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, orgId);
    const batcher = new InboundBatcher(t.db, { maxBatchSize: 5, maxConcurrentBatches: 1 });
    const customers = newCustomers(31);
    const settled: boolean[] = [];
    const promises = Array.from({ length: 30 }, (_, i) => {
      const type = i === 17 ? 'NOT A TYPE' : 'text';
      const promise = batcher.submit([messageItem(number, { from: customers[i]!, wamid: `wamid.drain-${i}-${uniqueDigits(8)}`, timestamp: T0 + i, type })], `webhook-${i}`);
      settled[i] = false;
      promise.then(() => { settled[i] = true; }, () => { settled[i] = true; });
      return promise;
    });
    await batcher.drain();
    expect(settled).toEqual(Array(30).fill(true));
    expect(await countRows(t.db, 'messages', orgId)).toBe(29);
    expect(await countRows(t.db, 'contacts', orgId)).toBe(29);
    const results = await Promise.allSettled(promises);
    expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
    // An idle batcher drains at once, and a later submission is stored as usual.
    await batcher.drain();
    await batcher.submit([messageItem(number, { from: customers[30]!, wamid: `wamid.drain-late-${uniqueDigits(8)}`, timestamp: T0 })], 'late');
    expect(await countRows(t.db, 'messages', orgId)).toBe(30);
  });
});
