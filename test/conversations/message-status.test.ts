/**
 * The one message-status path (src/conversations/message-status.ts): a status webhook can arrive
 * before the dispatcher has committed the wamid of the send. It must then wait in
 * pending_statuses and be applied exactly once when the send is recorded, whichever transaction
 * takes the wamid's lock first (STYLE.md §8: reproduced against the real database).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyStatus, recordSends, type ReportedStatus, type StatusOutcome } from '../../src/conversations/message-status.js';
import { openConversation } from '../../src/conversations/open-conversation.js';
import type { DeliveryStatus } from '../../src/conversations/messages.repository.js';
import { type Tx, withTransaction } from '../../src/db/database.js';
import { enqueueMessage } from '../../src/outbound/enqueue-message.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { countRows, createTestNumber, createTestOrg, uniqueDigits } from '../helpers/factories.js';
import { seededRandom, shuffled } from '../inbound/helpers.js';

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase(30);
});
afterAll(async () => {
  await t?.drop();
});

const WEBHOOK = { correlationId: 'req-status', source: 'webhook' } as const;
const RANK: Record<string, number> = { queued: 0, sent: 1, delivered: 2, read: 3 };

interface Sends {
  orgId: string;
  phoneNumberRef: string;
  /** Queued outbound messages (no wamid yet) and the wamid each will get. */
  messages: Array<{ id: string; wamid: string }>;
}

/** An isolated organization with `count` messages queued in one new thread (as POST /v1/messages leaves them). */
async function queueMessages(count: number): Promise<Sends> {
  const org = await createTestOrg(t.db);
  const number = await createTestNumber(t.db, org.orgId);
  const api = { correlationId: null, source: 'api' } as const;
  const messages = await withTransaction(t.db, async (tx) => {
    const { thread } = await openConversation(tx, api, { orgId: org.orgId, phoneNumberRef: number.id, customer: { e164: `+4477009${uniqueDigits(5)}` } });
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      ids.push((await enqueueMessage(tx, api, {
        orgId: org.orgId, threadId: thread.id, phoneNumberRef: number.id, type: 'text', content: { body: `message ${i}` },
        sentByOperatorId: org.operatorId, idempotencyKey: null, requestHash: null,
      }))!);
    }
    return ids;
  });
  return { orgId: org.orgId, phoneNumberRef: number.id, messages: messages.map((id) => ({ id, wamid: `wamid.status-${id}` })) };
}

function reported(sends: Sends, wamid: string, status: DeliveryStatus): ReportedStatus {
  return {
    orgId: sends.orgId, phoneNumberRef: sends.phoneNumberRef, wamid, status, providerTimestamp: new Date(), errorCode: null, errorTitle: null,
    payload: { id: wamid, status },
  };
}

/** What the dispatcher's completion batch does for these messages. */
function recordSendsOf(tx: Tx, sends: Sends, messages: Sends['messages']): Promise<void> {
  return recordSends(tx, messages.map(({ id, wamid }) => ({
    orgId: sends.orgId, messageId: id, phoneNumberRef: sends.phoneNumberRef, wamid, correlationId: 'req-send',
  })));
}

async function statusOf(messageId: string): Promise<string> {
  return (await t.db.selectFrom('messages').select('status').where('id', '=', messageId).executeTakeFirstOrThrow()).status;
}

/** The status events of a message, oldest first: [event type, payload status]. */
async function statusEvents(messageId: string): Promise<Array<[string, string]>> {
  const rows = await t.db.selectFrom('outbox_events').select(['event_type', sql<string>`payload->>'status'`.as('status')])
    .where('aggregate_id', '=', messageId).where('event_type', '<>', 'message.queued').orderBy('seq').execute();
  return rows.map((row) => [row.event_type, row.status]);
}

/** Resolves once some transaction waits for an advisory lock (a wamid lock). */
async function someoneWaitsForAWamidLock(): Promise<void> {
  for (let i = 0; i < 500; i++) {
    const waiting = await sql<{ n: number }>`SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`.execute(t.db);
    if (waiting.rows[0]!.n > 0) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error('no transaction waited for a wamid lock');
}

/** A transaction held open after `work` until `release()` is called; `worked` fails when the work fails. */
function heldTransaction<T>(work: (tx: Tx) => Promise<T>): { worked: Promise<T>; committed: Promise<void>; release: () => void } {
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let done!: (value: T) => void;
  const result = new Promise<T>((resolve) => {
    done = resolve;
  });
  const committed = t.db.transaction().execute(async (tx) => {
    done(await work(tx));
    await released;
  });
  const worked = Promise.race([result, committed.then((): never => {
    throw new Error('committed before the work returned');
  })]);
  return { worked, committed, release };
}

describe('applyStatus and recordSends', () => {
  it('parks a status that arrives before its wamid and applies it once when the send is recorded', async () => {
    const sends = await queueMessages(1);
    const [message] = sends.messages;
    for (let i = 0; i < 2; i++) {
      expect(await withTransaction(t.db, (tx) => applyStatus(tx, WEBHOOK, reported(sends, message!.wamid, 'delivered')))).toBe('pending');
    }
    expect(await countRows(t.db, 'pending_statuses', sends.orgId)).toBe(1);

    await withTransaction(t.db, (tx) => recordSendsOf(tx, sends, sends.messages));
    expect(await statusOf(message!.id)).toBe('delivered');
    expect(await countRows(t.db, 'pending_statuses', sends.orgId)).toBe(0);
    expect(await statusEvents(message!.id)).toEqual([['message.status_changed', 'sent'], ['message.status_changed', 'delivered']]);

    // Meta redelivers the status: nothing moves, no second event.
    expect(await withTransaction(t.db, (tx) => applyStatus(tx, WEBHOOK, reported(sends, message!.wamid, 'delivered')))).toBe('ignored');
    expect(await statusEvents(message!.id)).toHaveLength(2);
  });

  it('applies a status directly when it waited for the wamid lock of a send being recorded', async () => {
    const sends = await queueMessages(1);
    const [message] = sends.messages;
    const send = heldTransaction((tx) => recordSendsOf(tx, sends, sends.messages));
    await send.worked;
    const status = withTransaction(t.db, (tx) => applyStatus(tx, WEBHOOK, reported(sends, message!.wamid, 'read')));
    await someoneWaitsForAWamidLock();
    send.release();
    await send.committed;
    expect(await status).toBe('applied');
    expect(await countRows(t.db, 'pending_statuses', sends.orgId)).toBe(0);
    expect(await statusOf(message!.id)).toBe('read');
    expect(await statusEvents(message!.id)).toEqual([['message.status_changed', 'sent'], ['message.status_changed', 'read']]);
  });

  it('replays a status parked by a transaction that held the wamid lock while the send was recorded', async () => {
    const sends = await queueMessages(1);
    const [message] = sends.messages;
    const status = heldTransaction((tx) => applyStatus(tx, WEBHOOK, reported(sends, message!.wamid, 'read')));
    expect(await status.worked).toBe('pending');
    const send = withTransaction(t.db, (tx) => recordSendsOf(tx, sends, sends.messages));
    await someoneWaitsForAWamidLock();
    status.release();
    await status.committed;
    await send;
    expect(await countRows(t.db, 'pending_statuses', sends.orgId)).toBe(0);
    expect(await statusOf(message!.id)).toBe('read');
    expect(await statusEvents(message!.id)).toEqual([['message.status_changed', 'sent'], ['message.status_changed', 'read']]);
  });

  it('moves 40 messages forward exactly once while their statuses race their sends in 125 parallel transactions', async () => {
    const sends = await queueMessages(40);
    const random = seededRandom(20260101);
    const work: Array<() => Promise<StatusOutcome | void>> = [];
    for (const { wamid } of sends.messages) {
      for (const status of ['delivered', 'read', 'delivered'] as const) {
        work.push(() => withTransaction(t.db, (tx) => applyStatus(tx, WEBHOOK, reported(sends, wamid, status))));
      }
    }
    for (let i = 0; i < sends.messages.length; i += 8) {
      const batch = sends.messages.slice(i, i + 8);
      work.push(() => withTransaction(t.db, (tx) => recordSendsOf(tx, sends, batch)));
    }
    const outcomes = await Promise.all(shuffled(work, random).map((start) => start()));
    // The race did park statuses (their wamids were not committed yet), and applied others directly.
    expect(outcomes).toContain('pending');

    expect(await countRows(t.db, 'pending_statuses', sends.orgId)).toBe(0);
    for (const { id } of sends.messages) {
      expect(await statusOf(id)).toBe('read');
      const events = await statusEvents(id);
      // One `sent`, then only forward steps, each once, ending at `read`.
      expect(events[0]).toEqual(['message.status_changed', 'sent']);
      expect(events.every(([type]) => type === 'message.status_changed')).toBe(true);
      const ranks = events.map(([, status]) => RANK[status]!);
      expect(ranks.every((rank, index) => index === 0 || rank > ranks[index - 1]!)).toBe(true);
      expect(events.at(-1)).toEqual(['message.status_changed', 'read']);
    }
  });
});
