/**
 * Data of the outbound benchmark, all through the real services: an organization with an owner,
 * `numbers` phone numbers at `mps`, and template messages queued with `sendMessage` (the code
 * behind `POST /v1/messages`: message + outbox row in one transaction). Message i goes to thread
 * i mod `threads`; thread t belongs to number t mod `numbers`. A thread's first message addresses
 * `from_phone_number_id` + `to` (creating contact and thread), later ones its `thread_id`.
 * `queueMessagesBySql` is the fast setup: later messages are copied in one INSERT … SELECT from a
 * message the service wrote, and checked to equal it in every column but ids and times.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../src/db/database.js';
import { withTransaction } from '../src/db/database.js';
import { connectPhoneNumber } from '../src/numbers/numbers.service.js';
import { sendMessageBodySchema } from '../src/outbound/messages.schema.js';
import { sendMessage } from '../src/outbound/outbound.service.js';
import { TokenCipher } from '../src/shared/token-cipher.js';
import { createOperator, createOrganization, type Principal } from '../src/tenancy/tenancy.service.js';
import type { SimulatorConfig } from './outbound-simulator.js';

export interface BenchTenant {
  principal: Principal;
  numbers: SimulatorConfig['numbers'];
  /** Base64 token-encryption key (workers decrypt the numbers' tokens with it). */
  tokenKey: string;
  threads: number;
  /** thread index → thread id, once its first message was accepted. */
  threadIds: string[];
}

export async function createBenchTenant(db: Db, values: { numbers: number; mps: number; threads: number }): Promise<BenchTenant> {
  const key = randomBytes(32);
  const cipher = new TokenCipher([{ id: 'bench', key }]);
  const org = await createOrganization(db, 'Outbound bench org');
  const owner = await createOperator(db, { orgId: org.id, email: 'bench-owner@example.test', role: 'owner' });
  const numbers: BenchTenant['numbers'] = [];
  for (let i = 0; i < values.numbers; i++) {
    const number = {
      phoneNumberId: String(700000000000000 + i), wabaId: String(600000000000000 + i),
      display: `1555020${String(i).padStart(4, '0')}`, accessToken: `bench-token-${i}`,
    };
    await connectPhoneNumber(db, cipher, {
      orgId: org.id, wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, displayPhoneNumber: number.display,
      accessToken: number.accessToken, throughputMps: values.mps,
    });
    numbers.push(number);
  }
  return {
    principal: { orgId: org.id, operatorId: owner.id, role: 'owner', apiKeyId: '' },
    numbers, tokenKey: key.toString('base64'), threads: values.threads, threadIds: [],
  };
}

const TEMPLATE = { type: 'template', template: { name: 'bench_notice', language: { code: 'en' } } };

/** Queues message number `index` (see the module comment). @returns the message id */
export async function queueMessage(db: Db, tenant: BenchTenant, index: number): Promise<string> {
  const thread = index % tenant.threads;
  const threadId = tenant.threadIds[thread];
  const addressing = threadId
    ? { thread_id: threadId }
    : { from_phone_number_id: tenant.numbers[thread % tenant.numbers.length]!.phoneNumberId, to: `+1415${5_000_000 + thread}` };
  const body = sendMessageBodySchema.parse({ ...addressing, ...TEMPLATE });
  const { response } = await sendMessage(db, tenant.principal, body, undefined, null);
  tenant.threadIds[thread] = response.thread_id;
  return response.id;
}

/**
 * Queues messages `from` … `to - 1`, `concurrency` at a time; each thread's first message is
 * accepted before the thread's later ones are sent.
 */
export async function queueMessages(db: Db, tenant: BenchTenant, from: number, to: number, concurrency: number): Promise<void> {
  const firsts = Math.min(to, Math.max(from, tenant.threads));
  for (const [start, end] of [[from, firsts], [firsts, to]] as const) {
    let next = start;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < end) await queueMessage(db, tenant, next++);
    }));
  }
}

/**
 * Offers messages `from` … `from + count - 1` open loop at `rate` per second: message k is
 * submitted at k / rate s whether or not earlier ones were accepted. At most `concurrency` are
 * being written at once (like an API server's pool); the others wait their turn in order.
 * @returns the accepted message ids, the achieved submission rate and the acceptance rate
 *   (messages/s until the last was committed)
 */
export async function offerMessages(
  db: Db, tenant: BenchTenant, values: { from: number; count: number; rate: number; concurrency: number },
): Promise<{ ids: string[]; offeredRate: number; acceptedRate: number }> {
  const startedAt = performance.now();
  const waiting: Array<() => void> = [];
  let writing = 0;
  const accept = async (index: number) => {
    // A finished write hands its slot to the next waiting message.
    if (writing < values.concurrency) writing++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await queueMessage(db, tenant, index);
    } finally {
      const next = waiting.shift();
      if (next) next();
      else writing--;
    }
  };
  const accepted: Array<Promise<string>> = [];
  for (let k = 0; k < values.count; k++) {
    const wait = startedAt + (k * 1000) / values.rate - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    accepted.push(accept(values.from + k));
  }
  const offeredRate = values.count / ((performance.now() - startedAt) / 1000 + 1 / values.rate);
  const ids = await Promise.all(accepted);
  return { ids, offeredRate, acceptedRate: values.count / ((performance.now() - startedAt) / 1000) };
}

/**
 * Queues messages `from` … `to - 1` like queueMessages, but only each thread's first message goes
 * through sendMessage; the others are written in one transaction by SQL that copies a service-made
 * message: `messages` + `message_outbox` rows as `sendMessage` writes them (addressing by
 * `thread_id`, no Idempotency-Key, no correlation id), and the threads touched.
 */
export async function queueMessagesBySql(db: Db, tenant: BenchTenant, from: number, to: number, concurrency: number): Promise<void> {
  const firsts = Math.min(to, Math.max(from, tenant.threads));
  await queueMessages(db, tenant, from, firsts, concurrency);
  if (firsts >= to) return;
  const model = await queueMessage(db, tenant, firsts);
  await withTransaction(db, async (tx) => {
    await sql`
      WITH thread AS (
        SELECT t.ord - 1 AS index, th.id, th.phone_number_ref
        FROM unnest(${tenant.threadIds}::uuid[]) WITH ORDINALITY AS t(id, ord)
        JOIN threads th ON th.org_id = ${tenant.principal.orgId} AND th.id = t.id
      ), message AS (
        INSERT INTO messages (org_id, thread_id, phone_number_ref, direction, type, content, status, sent_by_operator_id)
        SELECT model.org_id, thread.id, thread.phone_number_ref, model.direction, model.type, model.content, model.status, model.sent_by_operator_id
        FROM generate_series(${firsts + 1}::int, ${to - 1}::int) AS i
        JOIN thread ON thread.index = i % ${tenant.threads}
        CROSS JOIN (SELECT * FROM messages WHERE id = ${model}) AS model
        ORDER BY i
        RETURNING id, org_id, thread_id, phone_number_ref, created_at
      )
      INSERT INTO message_outbox (org_id, message_id, thread_id, phone_number_ref)
      SELECT org_id, id, thread_id, phone_number_ref FROM message ORDER BY created_at, id`.execute(tx);
    await sql`UPDATE threads SET last_message_at = greatest(last_message_at, now())
              WHERE org_id = ${tenant.principal.orgId} AND id = ANY(${tenant.threadIds}::uuid[])`.execute(tx);
  });
  await assertServiceShape(db, model);
}

/** Throws unless the last queued message (SQL-made) equals the `sendMessage`-made `model` in every column but ids and times. */
async function assertServiceShape(db: Db, model: string): Promise<void> {
  const { rows } = await sql<{ same: boolean; service: unknown; copy: unknown }>`
    WITH shape AS (
      SELECT o.id AS seq, m.id,
             to_jsonb(m) - ARRAY['id', 'thread_id', 'phone_number_ref', 'created_at', 'status_updated_at'] AS message,
             to_jsonb(o) - ARRAY['id', 'message_id', 'thread_id', 'phone_number_ref', 'created_at', 'next_attempt_at'] AS outbox
      FROM message_outbox o JOIN messages m ON m.id = o.message_id
    ), service AS (SELECT * FROM shape WHERE id = ${model}),
       copy AS (SELECT * FROM shape ORDER BY seq DESC LIMIT 1)
    SELECT (service.message = copy.message AND service.outbox = copy.outbox) AS same,
           jsonb_build_array(service.message, service.outbox) AS service, jsonb_build_array(copy.message, copy.outbox) AS copy
    FROM service, copy`.execute(db);
  if (!rows[0]?.same) throw new Error(`SQL-queued rows differ from sendMessage rows: ${JSON.stringify(rows[0])}`);
}
