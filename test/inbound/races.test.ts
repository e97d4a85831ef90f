/**
 * Concurrency of inbound webhooks, reproduced with many parallel requests against the real
 * database (STYLE.md §8): Meta delivers concurrently and redelivers, so first messages of one
 * customer, duplicates and batches in opposite orders must all end with exact row counts.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { useAppBed } from '../helpers/bed.js';
import type { TestDatabase } from '../helpers/db.js';
import {
  countRows, createTestNumber, createTestOrg, textWebhook, uniqueDigits, type TestNumber,
} from '../helpers/factories.js';
import { postWebhook } from './helpers.js';

/** T0 of the shared fixtures: 2026-01-01T12:00:00Z, unix seconds. */
const T0 = 1767268800;

interface BatchMessage {
  from: string;
  wamid: string;
  timestamp: number;
}

/** One `messages` change carrying several customers' messages, in the order given (PROTOCOL.md §1.3 batching). */
function batchWebhook(number: TestNumber, messages: BatchMessage[]): string {
  const senders = [...new Set(messages.map((m) => m.from))];
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{
      id: number.wabaId,
      changes: [{
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: number.displayPhoneNumber, phone_number_id: number.phoneNumberId },
          contacts: senders.map((from) => ({ profile: { name: `Customer ${from}` }, wa_id: from })),
          messages: messages.map((m) => ({ from: m.from, id: m.wamid, timestamp: String(m.timestamp), type: 'text', text: { body: `message ${m.wamid}` } })),
        },
      }],
    }],
  });
}

/** One webhook with one entry per (number, message): a batch that spans WABAs and numbers. */
function multiEntryWebhook(items: [TestNumber, BatchMessage][]): string {
  const entries = items.map(([number, message]) => JSON.parse(batchWebhook(number, [message])).entry[0]);
  return JSON.stringify({ object: 'whatsapp_business_account', entry: entries });
}

/** A wa_id of a new UK mobile customer (+44 7700 9xxxxx). */
function newCustomer(): string {
  return `4477009${uniqueDigits(5)}`;
}

/** Deadlocks PostgreSQL detected in this test database so far (pg_stat_database). */
async function deadlockCount(db: TestDatabase['db']): Promise<number> {
  const result = await sql<{ deadlocks: string }>`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`.execute(db);
  return Number(result.rows[0]!.deadlocks);
}

async function newNumber(t: TestDatabase): Promise<{ orgId: string; number: TestNumber }> {
  const { orgId } = await createTestOrg(t.db);
  return { orgId, number: await createTestNumber(t.db, orgId) };
}

describe('POST /webhooks/whatsapp under concurrency', () => {
  const bed = useAppBed(20);

  it('files 50 parallel first messages of one new customer under 1 contact, 1 client and 1 thread', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const from = newCustomer();
    const bodies = Array.from({ length: 50 }, (_, i) =>
      textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from, wamid: `wamid.first-${from}-${i}`, timestamp: T0 + i }));
    const responses = await Promise.all(bodies.map((body) => postWebhook(bed.app, body)));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(50).fill(200));
    expect(await countRows(bed.t.db, 'contacts', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'clients', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'threads', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'messages', orgId)).toBe(50);
    const thread = await bed.t.db.selectFrom('threads').select('last_inbound_at').where('org_id', '=', orgId).executeTakeFirstOrThrow();
    expect(thread.last_inbound_at?.getTime()).toBe((T0 + 49) * 1000);
  });

  it('stores a webhook POSTed 20 times in parallel once', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const body = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from: newCustomer(), wamid: `wamid.dup-${uniqueDigits(10)}` });
    const responses = await Promise.all(Array.from({ length: 20 }, () => postWebhook(bed.app, body)));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    expect(await countRows(bed.t.db, 'messages', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'contacts', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'clients', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'threads', orgId)).toBe(1);
  });

  it('stores two customers batched in opposite orders by concurrent webhooks without losing any', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const deadlocksBefore = await deadlockCount(bed.t.db);
    const pairs = 15;
    const requests: Promise<{ statusCode: number; body: string }>[] = [];
    for (let i = 0; i < pairs; i++) {
      // New customers every round, so that each pair races on creating both contacts and threads.
      const [a, b] = [newCustomer(), newCustomer()];
      const forward = batchWebhook(number, [
        { from: a, wamid: `wamid.fwd-${a}`, timestamp: T0 + 1 },
        { from: b, wamid: `wamid.fwd-${b}`, timestamp: T0 + 1 },
      ]);
      const reverse = batchWebhook(number, [
        { from: b, wamid: `wamid.rev-${b}`, timestamp: T0 + 2 },
        { from: a, wamid: `wamid.rev-${a}`, timestamp: T0 + 2 },
      ]);
      requests.push(postWebhook(bed.app, forward), postWebhook(bed.app, reverse));
    }
    const responses = await Promise.all(requests);
    for (const response of responses) expect(response.statusCode, response.body).toBe(200);
    expect(await countRows(bed.t.db, 'contacts', orgId)).toBe(pairs * 2);
    expect(await countRows(bed.t.db, 'clients', orgId)).toBe(pairs * 2);
    expect(await countRows(bed.t.db, 'threads', orgId)).toBe(pairs * 2);
    expect(await countRows(bed.t.db, 'messages', orgId)).toBe(pairs * 4);
    expect(await deadlockCount(bed.t.db)).toBe(deadlocksBefore);
    // No orphan client was left behind by the losers of a contact race.
    const orphans = await sql<{ n: string }>`
      SELECT count(*) AS n FROM clients cl WHERE cl.org_id = ${orgId}
        AND NOT EXISTS (SELECT 1 FROM contacts co WHERE co.org_id = cl.org_id AND co.client_id = cl.id)`.execute(bed.t.db);
    expect(Number(orphans.rows[0]!.n)).toBe(0);
  });

  it('stores two customers on two numbers batched crosswise by concurrent webhooks without losing any', async () => {
    const { orgId } = await createTestOrg(bed.t.db);
    const [n1, n2] = [await createTestNumber(bed.t.db, orgId), await createTestNumber(bed.t.db, orgId)];
    const deadlocksBefore = await deadlockCount(bed.t.db);
    const pairs = 15;
    const requests: Promise<{ statusCode: number; body: string }>[] = [];
    for (let i = 0; i < pairs; i++) {
      const [a, b] = [newCustomer(), newCustomer()];
      // X: A on number 1, B on number 2. Y: B on number 1, A on number 2. Contacts belong to the
      // organization, so X and Y take the same two contact rows, from two different numbers.
      const x = multiEntryWebhook([[n1, { from: a, wamid: `wamid.x1-${a}`, timestamp: T0 }], [n2, { from: b, wamid: `wamid.x2-${b}`, timestamp: T0 }]]);
      const y = multiEntryWebhook([[n1, { from: b, wamid: `wamid.y1-${b}`, timestamp: T0 }], [n2, { from: a, wamid: `wamid.y2-${a}`, timestamp: T0 }]]);
      requests.push(postWebhook(bed.app, x), postWebhook(bed.app, y));
    }
    const responses = await Promise.all(requests);
    for (const response of responses) expect(response.statusCode, response.body).toBe(200);
    expect(await countRows(bed.t.db, 'contacts', orgId)).toBe(pairs * 2);
    expect(await countRows(bed.t.db, 'clients', orgId)).toBe(pairs * 2);
    expect(await countRows(bed.t.db, 'threads', orgId)).toBe(pairs * 4);
    // Retries on deadlock would hide a bad lock order (at 1 s of deadlock_timeout each): there must be none.
    expect(await deadlockCount(bed.t.db)).toBe(deadlocksBefore);
    expect(await countRows(bed.t.db, 'messages', orgId)).toBe(pairs * 4);
  });

  it('reopens a closed thread for a new inbound message but not for a redelivered one', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const from = newCustomer();
    const first = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from, wamid: `wamid.reopen-1-${from}`, timestamp: T0 });
    expect((await postWebhook(bed.app, first)).statusCode).toBe(200);
    const threadStatus = async () => (await bed.t.db.selectFrom('threads').select('status').where('org_id', '=', orgId).executeTakeFirstOrThrow()).status;
    expect(await threadStatus()).toBe('open');

    await sql`UPDATE threads SET status = 'closed' WHERE org_id = ${orgId}`.execute(bed.t.db);
    expect((await postWebhook(bed.app, first)).statusCode).toBe(200);
    expect(await threadStatus()).toBe('closed');

    const second = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from, wamid: `wamid.reopen-2-${from}`, timestamp: T0 + 60 });
    expect((await postWebhook(bed.app, second)).statusCode).toBe(200);
    expect(await threadStatus()).toBe('open');
    expect(await countRows(bed.t.db, 'threads', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'messages', orgId)).toBe(2);
  });

  it('only moves last_inbound_at and last_active_at forward when an older message arrives after a newer one', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const from = newCustomer();
    const newer = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from, wamid: `wamid.newer-${from}`, timestamp: T0 + 3600 });
    const older = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from, wamid: `wamid.older-${from}`, timestamp: T0 });
    expect((await postWebhook(bed.app, newer)).statusCode).toBe(200);
    expect((await postWebhook(bed.app, older)).statusCode).toBe(200);
    const thread = await bed.t.db.selectFrom('threads').select(['last_inbound_at', 'last_message_at']).where('org_id', '=', orgId).executeTakeFirstOrThrow();
    expect(thread.last_inbound_at?.getTime()).toBe((T0 + 3600) * 1000);
    expect(thread.last_message_at.getTime()).toBe((T0 + 3600) * 1000);
    const contact = await bed.t.db.selectFrom('contacts').select('last_active_at').where('org_id', '=', orgId).executeTakeFirstOrThrow();
    expect(contact.last_active_at?.getTime()).toBe((T0 + 3600) * 1000);
    expect(await countRows(bed.t.db, 'messages', orgId)).toBe(2);
  });

  it('keeps the newest profile name when an older message with an older name is redelivered late', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const from = newCustomer();
    const ids = { wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from };
    expect((await postWebhook(bed.app, textWebhook({ ...ids, wamid: `wamid.new-${from}`, name: 'Maya Chen', timestamp: T0 + 60 }))).statusCode).toBe(200);
    expect((await postWebhook(bed.app, textWebhook({ ...ids, wamid: `wamid.old-${from}`, name: 'maya', timestamp: T0 }))).statusCode).toBe(200);
    const contact = await bed.t.db.selectFrom('contacts').select('profile_name').where('org_id', '=', orgId).executeTakeFirstOrThrow();
    expect(contact.profile_name).toBe('Maya Chen');
    expect((await postWebhook(bed.app, textWebhook({ ...ids, wamid: `wamid.newest-${from}`, name: 'Maya C.', timestamp: T0 + 120 }))).statusCode).toBe(200);
    const renamed = await bed.t.db.selectFrom('contacts').select('profile_name').where('org_id', '=', orgId).executeTakeFirstOrThrow();
    expect(renamed.profile_name).toBe('Maya C.');
  });
});
