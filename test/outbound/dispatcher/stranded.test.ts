/**
 * Nothing stranded, nothing doubled (issue "Delivery engine", part one): a free-form message whose
 * customer service window closed while it waited fails without a call to Meta; an unknown Meta
 * code on a 5xx is retried; a failed write of accepted sends is retried while the leases hold, so
 * Meta never gets the same message twice; a pair-rate-limited recipient fails once it has waited
 * the configured total time. One Dispatcher driven round by round (`runOnce`) over real HTTP to the
 * simulator and real PostgreSQL.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTSIDE_WINDOW_TITLE } from '../../../src/outbound/deliver.js';
import { Dispatcher } from '../../../src/outbound/dispatcher.js';
import { GraphApiClient } from '../../../src/providers/meta/graph.client.js';
import type { SimulatorServer } from '../../../src/simulator/server.js';
import type { Principal } from '../../../src/tenancy/tenancy.service.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createTestOrg, silentLogger, testCipher } from '../../helpers/factories.js';
import { connectNumber, principalOf, queueTemplates, recipient, startSendOnlySimulator, type ThroughputNumber } from './helpers.js';

let t: TestDatabase;
let sim: SimulatorServer;
let graph: GraphApiClient;
let principal: Principal;
let orgId: string;
let nextRecipient = 7000;

function dispatcher(options: { pairRateLimitMaxMs?: number } = {}): Dispatcher {
  return new Dispatcher({
    db: t.db, cipher: testCipher, graph, logger: silentLogger,
    leaseTtlMs: 10_000, leaseRefreshMs: 2_000, batchSize: 10, pollIntervalMs: 20, maxAttempts: 3, retryBaseMs: 20, ...options,
  });
}

async function queueOne(number: ThroughputNumber): Promise<{ messageId: string; to: string }> {
  const to = recipient(nextRecipient++);
  const [queued] = await queueTemplates(t.db, principal, [{ phoneNumberId: number.phoneNumberId, to }]);
  return { messageId: queued!.messageId, to };
}

const outboxOf = (messageId: string) => t.db.selectFrom('message_outbox').selectAll().where('message_id', '=', messageId).executeTakeFirstOrThrow();
const messageOf = (messageId: string) => t.db.selectFrom('messages').selectAll().where('id', '=', messageId).executeTakeFirstOrThrow();
const sendsTo = (number: ThroughputNumber, to: string) => sim.simulator.sends().filter((send) => send.phone_number_id === number.phoneNumberId && send.to === to);

beforeAll(async () => {
  t = await createTestDatabase(6);
  sim = await startSendOnlySimulator();
  graph = new GraphApiClient({ baseUrl: sim.url, version: 'v24.0', timeoutMs: 5_000 });
  const org = await createTestOrg(t.db);
  orgId = org.orgId;
  principal = await principalOf(t.db, org.apiKey);
});

afterAll(async () => {
  await graph?.close();
  await sim?.close();
  await t?.drop();
});

describe('Dispatcher: nothing stranded, nothing doubled', () => {
  it('fails a free-form message whose 24-hour window closed while it waited, without calling Meta', async () => {
    const number = await connectNumber(t.db, sim, orgId, 80);
    const { messageId, to } = await queueOne(number);
    // The message became a text reply queued in a window that has since closed (25 h ago).
    await sql`UPDATE messages SET type = 'text', content = '{"body":"late reply"}'::jsonb WHERE id = ${messageId}`.execute(t.db);
    await sql`UPDATE threads SET last_inbound_at = now() - interval '25 hours'
              WHERE id = (SELECT thread_id FROM messages WHERE id = ${messageId})`.execute(t.db);

    expect(await dispatcher().runOnce()).toBe(1);

    expect(await outboxOf(messageId)).toMatchObject({ state: 'failed', attempts: 1 });
    expect(await messageOf(messageId)).toMatchObject({ status: 'failed', error_code: null, error_title: OUTSIDE_WINDOW_TITLE });
    expect(sendsTo(number, to)).toEqual([]);
  });

  it('retries an HTTP 5xx that carries a Meta code it does not know, then delivers once', async () => {
    const number = await connectNumber(t.db, sim, orgId, 80);
    sim.simulator.injectFailure({ phone_number_id: number.phoneNumberId, code: 987654, http_status: 500, mode: 'sync' });
    const { messageId, to } = await queueOne(number);
    const worker = dispatcher();

    await worker.runOnce();
    const retried = await outboxOf(messageId);
    expect(retried).toMatchObject({ state: 'pending', attempts: 1, last_error: { code: 987654, class: 'retryable', httpStatus: 500 } });
    await sql`UPDATE message_outbox SET next_attempt_at = now() WHERE id = ${retried.id}`.execute(t.db);
    await worker.runOnce();

    expect(await outboxOf(messageId)).toMatchObject({ state: 'done', attempts: 2 });
    expect(sendsTo(number, to)).toHaveLength(1);
  });

  it('retries a failed write of accepted sends while the leases hold, so each message reaches Meta once', async () => {
    const number = await connectNumber(t.db, sim, orgId, 80);
    const queued = await Promise.all([queueOne(number), queueOne(number), queueOne(number)]);
    // The first write that completes an outbox row fails, once, as a database restart would (a
    // sequence, unlike a table, keeps its count when the failing transaction rolls back).
    await sql`CREATE SEQUENCE completion_writes`.execute(t.db);
    await sql`CREATE FUNCTION fail_first_completion() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF NEW.state = 'done' AND nextval('completion_writes') = 1 THEN
          RAISE EXCEPTION 'simulated failure of the completion write';
        END IF;
        RETURN NEW;
      END $$`.execute(t.db);
    await sql`CREATE TRIGGER fail_first_completion BEFORE UPDATE ON message_outbox FOR EACH ROW EXECUTE FUNCTION fail_first_completion()`.execute(t.db);
    try {
      expect(await dispatcher().runOnce()).toBe(3);
      expect(Number((await sql<{ n: string }>`SELECT last_value AS n FROM completion_writes`.execute(t.db)).rows[0]!.n)).toBeGreaterThan(1);
    } finally {
      await sql`DROP TRIGGER fail_first_completion ON message_outbox`.execute(t.db);
      await sql`DROP FUNCTION fail_first_completion()`.execute(t.db);
      await sql`DROP SEQUENCE completion_writes`.execute(t.db);
    }

    for (const { messageId, to } of queued) {
      expect(await outboxOf(messageId)).toMatchObject({ state: 'done', attempts: 1 });
      const sends = sendsTo(number, to);
      expect(sends).toHaveLength(1);
      expect(await messageOf(messageId)).toMatchObject({ status: 'sent', provider_message_id: sends[0]!.wamid });
    }
  });

  it('backs off a pair-rate-limited recipient without using up attempts, and fails it once it has waited the total time', async () => {
    const number = await connectNumber(t.db, sim, orgId, 80);
    sim.simulator.injectFailure({ phone_number_id: number.phoneNumberId, code: 131056, mode: 'sync', count: 5 });
    const { messageId, to } = await queueOne(number);
    const worker = dispatcher({ pairRateLimitMaxMs: 60_000 });

    await worker.runOnce();
    const waiting = await outboxOf(messageId);
    expect(waiting).toMatchObject({ state: 'pending', attempts: 0, last_error: { code: 131056, backoff: 'pair_rate_limit' } });
    // The message has been waiting longer than the bound: the next refusal is final.
    await sql`UPDATE message_outbox SET next_attempt_at = now(), created_at = now() - interval '2 minutes' WHERE id = ${waiting.id}`.execute(t.db);
    await worker.runOnce();

    expect(await outboxOf(messageId)).toMatchObject({ state: 'failed', attempts: 1 });
    expect(await messageOf(messageId)).toMatchObject({ status: 'failed', error_code: 131056 });
    expect(sendsTo(number, to)).toEqual([]);
  });
});
