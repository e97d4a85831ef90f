/**
 * How the dispatcher reacts to Meta's errors (PROTOCOL.md §3.4, SPEC §4): permanent codes fail at
 * once, retryable ones back off and then deliver (or fail after `maxAttempts`), 130429 slows the
 * number's governor without counting the attempt, 131056 holds back only that recipient (without
 * counting the attempt either), and 190
 * parks the number's rows until `wahub number set-token` replaces the token.
 *
 * One in-process Dispatcher runs its real loop (LISTEN/NOTIFY + polling) for the whole file over
 * real HTTP to the simulator; each case has its own number, so the cases do not interact.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dispatcher } from '../../../src/outbound/dispatcher.js';
import { pairRateLimitDelayMs } from '../../../src/outbound/failure-policy.js';
import { GraphApiClient } from '../../../src/providers/meta/graph.client.js';
import type { SimulatorServer } from '../../../src/simulator/server.js';
import type { Principal } from '../../../src/tenancy/tenancy.service.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createTestOrg, silentLogger, testCipher, type TestOrg } from '../../helpers/factories.js';
import {
  connectNumber, makeDataDir, pollUntil, principalOf, queueTemplates, recipient, startSendOnlySimulator, type ThroughputNumber, wahubEnv,
} from './helpers.js';

const MAX_ATTEMPTS = 3;

let t: TestDatabase;
let sim: SimulatorServer;
let graph: GraphApiClient;
let dispatcher: Dispatcher;
let dataDir: Awaited<ReturnType<typeof makeDataDir>>;
let org: TestOrg;
let principal: Principal;
let nextRecipient = 0;

beforeAll(async () => {
  t = await createTestDatabase(10);
  sim = await startSendOnlySimulator();
  dataDir = await makeDataDir();
  graph = new GraphApiClient({ baseUrl: sim.url, version: 'v24.0', timeoutMs: 5_000 });
  dispatcher = new Dispatcher({
    db: t.db, cipher: testCipher, graph, logger: silentLogger, listenUrl: t.url,
    leaseTtlMs: 10_000, leaseRefreshMs: 2_000, batchSize: 10, pollIntervalMs: 20, maxAttempts: MAX_ATTEMPTS, retryBaseMs: 20,
  });
  dispatcher.start();
  org = await createTestOrg(t.db);
  principal = await principalOf(t.db, org.apiKey);
});

afterAll(async () => {
  await dispatcher?.stop();
  await graph?.close();
  await sim?.close();
  await t?.drop();
  await dataDir?.remove();
});

async function queueOne(number: ThroughputNumber, to = recipient(nextRecipient++)): Promise<{ messageId: string; to: string }> {
  const [queued] = await queueTemplates(t.db, principal, [{ phoneNumberId: number.phoneNumberId, to }]);
  return { messageId: queued!.messageId, to };
}

async function outboxRow(messageId: string) {
  return t.db.selectFrom('message_outbox').selectAll().where('message_id', '=', messageId).executeTakeFirstOrThrow();
}

async function messageRow(messageId: string) {
  return t.db.selectFrom('messages').selectAll().where('id', '=', messageId).executeTakeFirstOrThrow();
}

function sendsTo(number: ThroughputNumber, to: string) {
  return sim.simulator.sends().filter((send) => send.phone_number_id === number.phoneNumberId && send.to === to);
}

async function waitForOutbox(messageId: string, state: string, timeoutMs = 10_000) {
  return pollUntil(async () => {
    const row = await outboxRow(messageId);
    return row.state === state && row;
  }, `outbox row of ${messageId} ${state}`, timeoutMs, 10);
}

/** Runs the real CLI in its own process: `wahub <args> --json`; resolves with its exit code and JSON. */
function runCli(args: string[]): Promise<{ code: number | null; json: Record<string, unknown> | undefined; output: string }> {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
  const child = spawn(process.execPath, [path.join(root, 'bin/wahub.js'), ...args, '--json'], {
    cwd: root, env: wahubEnv({ databaseUrl: t.url, dataDir: dataDir.dir }), stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve) => {
    child.once('exit', (code) => {
      let json: Record<string, unknown> | undefined;
      try {
        json = JSON.parse(stdout.trim()) as Record<string, unknown>;
      } catch {
        json = undefined;
      }
      resolve({ code, json, output: `${stdout}${stderr}` });
    });
  });
}

describe('dispatcher error handling', () => {
  it('fails a message at once on 131047 (re-engagement), after one attempt', async () => {
    const number = await connectNumber(t.db, sim, org.orgId, 80);
    sim.simulator.injectFailure({ phone_number_id: number.phoneNumberId, code: 131047, mode: 'sync' });
    const { messageId, to } = await queueOne(number);

    const row = await waitForOutbox(messageId, 'failed');

    expect(row).toMatchObject({ attempts: 1, lease_token: null, last_error: { code: 131047, class: 'permanent' } });
    expect(await messageRow(messageId)).toMatchObject({ status: 'failed', error_code: 131047, provider_message_id: null });
    expect(sendsTo(number, to)).toEqual([]);
  });

  it('on 130429 pauses the number\'s governor for a second, retries without counting the attempt, then delivers', async () => {
    const number = await connectNumber(t.db, sim, org.orgId, 80);
    sim.simulator.injectFailure({ phone_number_id: number.phoneNumberId, code: 130429, mode: 'sync' });
    const queuedAt = Date.now();
    const { messageId, to } = await queueOne(number);

    const row = await waitForOutbox(messageId, 'done');

    expect(row).toMatchObject({ attempts: 1, last_error: { code: 130429, class: 'retryable' } });
    const governor = await t.db.selectFrom('send_governors').selectAll().where('phone_number_ref', '=', number.id).executeTakeFirstOrThrow();
    expect(governor.throttled_until).not.toBeNull();
    const throttledUntil = governor.throttled_until!.getTime();
    // Throttled for THROTTLE_PAUSE_MS (1 s) from the moment of the failure, which came after queueing.
    expect(throttledUntil - queuedAt).toBeGreaterThanOrEqual(1_000);
    const sends = sendsTo(number, to);
    expect(sends).toHaveLength(1);
    // Nothing of this number went out before the pause ended.
    expect(sends[0]!.at).toBeGreaterThanOrEqual(throttledUntil - 5);
    expect(await messageRow(messageId)).toMatchObject({ status: 'sent', provider_message_id: sends[0]!.wamid });
  });

  it('retries a plain HTTP 503 and then delivers, with one accepted send', async () => {
    const number = await connectNumber(t.db, sim, org.orgId, 80);
    sim.simulator.injectFailure({ phone_number_id: number.phoneNumberId, http_status: 503, mode: 'sync' });
    const { messageId, to } = await queueOne(number);

    const row = await waitForOutbox(messageId, 'done');

    expect(row).toMatchObject({ attempts: 2, last_error: { class: 'retryable', httpStatus: 503, code: null } });
    expect(sendsTo(number, to)).toHaveLength(1);
    expect(await messageRow(messageId)).toMatchObject({ status: 'sent', provider_message_id: sendsTo(number, to)[0]!.wamid });
  });

  it(`fails a message with the last error once a retryable code has used all ${MAX_ATTEMPTS} attempts`, async () => {
    const number = await connectNumber(t.db, sim, org.orgId, 80);
    sim.simulator.injectFailure({ phone_number_id: number.phoneNumberId, code: 131000, mode: 'sync', count: MAX_ATTEMPTS });
    const { messageId, to } = await queueOne(number);

    const row = await waitForOutbox(messageId, 'failed');

    expect(row).toMatchObject({ attempts: MAX_ATTEMPTS, last_error: { code: 131000, class: 'retryable' } });
    expect(await messageRow(messageId)).toMatchObject({ status: 'failed', error_code: 131000, provider_message_id: null });
    expect(sendsTo(number, to)).toEqual([]);
  });

  it('on 131056 holds back only that recipient\'s thread (4^0 s = 1 s) while another recipient of the number is delivered', async () => {
    expect([1, 2, 3].map(pairRateLimitDelayMs)).toEqual([1_000, 4_000, 16_000]);
    const number = await connectNumber(t.db, sim, org.orgId, 80);
    const busy = recipient(nextRecipient++);
    const other = recipient(nextRecipient++);
    sim.simulator.injectFailure({ phone_number_id: number.phoneNumberId, to: busy, code: 131056, mode: 'sync' });
    const before = Date.now();
    const [first, second, meanwhile] = await queueTemplates(t.db, principal, [
      { phoneNumberId: number.phoneNumberId, to: busy },
      { phoneNumberId: number.phoneNumberId, to: busy },
      { phoneNumberId: number.phoneNumberId, to: other },
    ], 1);

    // The first message to the busy recipient waits; the other recipient is served in the meantime.
    const waiting = await pollUntil(async () => {
      const row = await outboxRow(first!.messageId);
      return row.state === 'pending' && row.last_error !== null && row;
    }, 'the pair-rate-limited row back to pending', 5_000, 10);
    const observed = Date.now();
    // A pair rate limit is the recipient's, not the message's: it uses up no attempt.
    expect(waiting).toMatchObject({ attempts: 0, last_error: { code: 131056, class: 'retryable', backoff: 'pair_rate_limit' } });
    // Failed between `before` and `observed`: next attempt 1 s after that (4^0 s, Meta's pair-rate backoff).
    expect(waiting.next_attempt_at.getTime()).toBeGreaterThanOrEqual(before + 1_000 - 5);
    expect(waiting.next_attempt_at.getTime()).toBeLessThanOrEqual(observed + 1_000 + 5);
    await waitForOutbox(meanwhile!.messageId, 'done');
    expect(await outboxRow(first!.messageId)).toMatchObject({ state: 'pending' });
    expect(await outboxRow(second!.messageId)).toMatchObject({ state: 'pending', attempts: 0 });
    expect(sendsTo(number, busy)).toEqual([]);

    // Then both messages to the busy recipient go out, in order, after the backoff.
    await waitForOutbox(second!.messageId, 'done');
    const busySends = sendsTo(number, busy);
    expect(busySends.map((send) => send.wamid)).toEqual([
      (await messageRow(first!.messageId)).provider_message_id, (await messageRow(second!.messageId)).provider_message_id,
    ]);
    expect(busySends[0]!.at).toBeGreaterThanOrEqual(waiting.next_attempt_at.getTime() - 5);
    expect(busySends[0]!.at).toBeGreaterThan(sendsTo(number, other)[0]!.at);
    expect(await outboxRow(first!.messageId)).toMatchObject({ state: 'done', attempts: 1 });
  });

  it('on 190 parks the row and marks the number reauth_required; `wahub number set-token` resumes it and it is delivered', async () => {
    // The simulator (Meta) only accepts the new token; the number still has the old one.
    const number = await connectNumber(t.db, sim, org.orgId, 80, 'the-new-token');
    const { messageId, to } = await queueOne(number);

    await pollUntil(async () => {
      const phone = await t.db.selectFrom('phone_numbers').select('status').where('id', '=', number.id).executeTakeFirstOrThrow();
      return phone.status === 'reauth_required';
    }, 'number reauth_required', 5_000, 10);
    const parked = await waitForOutbox(messageId, 'parked');
    expect(parked).toMatchObject({ attempts: 0, lease_owner: null, lease_token: null, last_error: { code: 190, class: 'reauth' } });
    expect(sendsTo(number, to)).toEqual([]);
    // Parked rows stay parked while the number waits: the dispatcher keeps working (it delivers a
    // message of another number queued after the park) and leaves the parked row alone.
    const control = await connectNumber(t.db, sim, org.orgId, 80);
    await waitForOutbox((await queueOne(control)).messageId, 'done');
    expect(await outboxRow(messageId)).toMatchObject({ state: 'parked', attempts: 0 });

    const cli = await runCli(['number', 'set-token', '--org', org.orgId, '--phone-number-id', number.phoneNumberId, '--access-token', 'the-new-token']);
    expect(cli.code, cli.output).toBe(0);
    expect(cli.json).toEqual({ id: number.id, status: 'active', resumed: 1 });

    const done = await waitForOutbox(messageId, 'done');
    expect(done).toMatchObject({ attempts: 1 });
    const sends = sendsTo(number, to);
    expect(sends).toHaveLength(1);
    expect(await messageRow(messageId)).toMatchObject({ status: 'sent', provider_message_id: sends[0]!.wamid });
  });
});
