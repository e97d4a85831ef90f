/**
 * Claiming outbox rows under a lease (SPEC §4 "Delivery"): many concurrent claimers never take the
 * same row while it is leased, and a lease that expired passes to another worker with a new token
 * that fences the old holder out of every write.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { withTransaction } from '../../../src/db/database.js';
import { Dispatcher } from '../../../src/outbound/dispatcher.js';
import {
  claimOutboxBatch, type ClaimedOutboxRow, completeOutboxRows, failOutboxRow, parkOutboxRow, refreshLeases, releaseOutboxRows, retryOutboxRow,
} from '../../../src/outbound/outbox.repository.js';
import { GraphApiClient } from '../../../src/providers/meta/graph.client.js';
import type { SimulatorServer } from '../../../src/simulator/server.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { createTestOrg, silentLogger, testCipher } from '../../helpers/factories.js';
import { connectNumbers, outboxStates, pollUntil, principalOf, queueTemplates, recipient, startSendOnlySimulator } from './helpers.js';

const CLIENTS = 6;
const ROUNDS = 200;

let t: TestDatabase;
let sim: SimulatorServer;

beforeEach(async () => {
  // One connection per claimer (and two spare), so the claims really run at the same time.
  t = await createTestDatabase(CLIENTS + 2);
  sim = await startSendOnlySimulator();
});

afterEach(async () => {
  await sim?.close();
  await t?.drop();
});

/** Queues `count` templates over `numbers` numbers at `mps`, one recipient (so one thread) each. */
async function queueMessages(count: number, numbers: number, mps = 1000): Promise<void> {
  const org = await createTestOrg(t.db);
  const principal = await principalOf(t.db, org.apiKey);
  const connected = await connectNumbers(t.db, sim, org.orgId, Array(numbers).fill(mps));
  await queueTemplates(t.db, principal, Array.from({ length: count }, (_, i) => ({ phoneNumberId: connected[i % numbers]!.phoneNumberId, to: recipient(i) })));
}

function claim(workerId: string, limit: number, leaseTtlMs = 60_000): Promise<ClaimedOutboxRow[]> {
  return claimOutboxBatch(t.db, { workerId, limit, leaseTtlMs, horizonMs: 2_000, secondsPerNumber: 2 });
}

const lease = (row: ClaimedOutboxRow) => ({ id: row.id, leaseToken: row.lease_token });

describe('claimOutboxBatch', () => {
  it(`never hands a leased row to a second claimer: ${CLIENTS} concurrent claimers, ${ROUNDS} rounds of random batch sizes`, async () => {
    await queueMessages(600, 4);
    const clients = Array.from({ length: CLIENTS }, (_, i) => `claimer-${i}`);
    // Rows leased right now (their lease lasts the whole test): id → claimer and token.
    const held = new Map<string, { owner: string; token: string }>();
    const violations: string[] = [];
    let contendedRounds = 0;
    let claims = 0;

    for (let round = 0; round < ROUNDS; round++) {
      const limits = clients.map(() => 1 + Math.floor(Math.random() * 40));
      const results = await Promise.all(clients.map((client, i) => claim(client, limits[i]!)));
      const claimedThisRound = new Map<string, string>();
      results.forEach((rows, i) => {
        if (rows.length > limits[i]!) violations.push(`round ${round}: ${clients[i]} got ${rows.length} rows for limit ${limits[i]}`);
        for (const row of rows) {
          const other = claimedThisRound.get(row.id) ?? held.get(row.id)?.owner;
          if (other) violations.push(`round ${round}: row ${row.id} claimed by ${clients[i]} while leased to ${other}`);
          claimedThisRound.set(row.id, clients[i]!);
          held.set(row.id, { owner: clients[i]!, token: row.lease_token });
          claims++;
        }
      });
      if (results.filter((rows) => rows.length > 0).length > 1) contendedRounds++;

      // Settle a random part of what is held: complete a few rows (gone for good), release many
      // (pending again, so later rounds claim them anew), keep the rest leased.
      const toComplete: Array<{ id: string; leaseToken: string }> = [];
      const toRelease: Array<{ id: string; leaseToken: string }> = [];
      for (const [id, { token }] of held) {
        const dice = Math.random();
        if (dice < 0.02) toComplete.push({ id, leaseToken: token });
        else if (dice < 0.52) toRelease.push({ id, leaseToken: token });
      }
      const completed = await withTransaction(t.db, (tx) => completeOutboxRows(tx, toComplete));
      const released = await releaseOutboxRows(t.db, toRelease);
      if (completed.length !== toComplete.length || released !== toRelease.length) {
        violations.push(`round ${round}: a holder's lease was not honoured (completed ${completed.length}/${toComplete.length}, released ${released}/${toRelease.length})`);
      }
      for (const row of [...toComplete, ...toRelease]) held.delete(row.id);
    }

    console.log(`[claim] ${claims} claims in ${ROUNDS} rounds, ${contendedRounds} rounds with several claimers served`);
    expect(violations).toEqual([]);
    // The property was exercised: thousands of claims, most rounds with several winners.
    expect(claims).toBeGreaterThan(5_000);
    expect(contendedRounds).toBeGreaterThan(ROUNDS / 2);
    // The database agrees with what each claimer believes it holds.
    const leased = await t.db.selectFrom('message_outbox').select(['id', 'lease_owner', 'lease_token']).where('state', '=', 'leased').execute();
    expect(new Map(leased.map((row) => [row.id, { owner: row.lease_owner, token: row.lease_token }]))).toEqual(held);
  }, 60_000);

  it('gives a row whose lease expired to another worker, and refuses every write of the old holder', async () => {
    await queueMessages(1, 1);
    const [first] = await claim('worker-old', 10, 300);
    expect(first).toMatchObject({ attempts: 1 });
    // While the lease runs, nobody else gets the row.
    expect(await claim('worker-new', 10)).toEqual([]);

    const [second] = await pollUntil(async () => {
      const rows = await claim('worker-new', 10);
      return rows.length > 0 && rows;
    }, 'the expired lease to be claimable', 5_000, 20);
    expect(second).toMatchObject({ id: first!.id, attempts: 2 });
    expect(second!.lease_token).not.toBe(first!.lease_token);

    // The old holder (lease token of the first claim) changes nothing any more.
    const old = lease(first!);
    expect(await withTransaction(t.db, (tx) => completeOutboxRows(tx, [old]))).toEqual([]);
    expect(await retryOutboxRow(t.db, { ...old, delayMs: 0, lastError: { code: 131000 }, countAttempt: true })).toBe(false);
    expect(await withTransaction(t.db, (tx) => failOutboxRow(tx, old.id, old.leaseToken, { code: 131026 }))).toBe(false);
    expect(await withTransaction(t.db, (tx) => parkOutboxRow(tx, old.id, old.leaseToken, { code: 190 }))).toBe(false);
    expect(await refreshLeases(t.db, [old], 60_000)).toEqual([]);
    expect(await releaseOutboxRows(t.db, [old])).toBe(0);
    expect(await t.db.selectFrom('message_outbox').selectAll().where('id', '=', first!.id).executeTakeFirstOrThrow()).toMatchObject({
      state: 'leased', lease_owner: 'worker-new', lease_token: second!.lease_token, attempts: 2, last_error: null,
    });

    // The new holder completes it.
    expect(await withTransaction(t.db, (tx) => completeOutboxRows(tx, [lease(second!)]))).toMatchObject([{ id: first!.id }]);
    expect(await outboxStates(t.db)).toEqual({ done: 1 });
  });

  it('keeps a dispatcher whose lease ran out (no refresh in time) from sending rows another worker has claimed since', async () => {
    // 2 mps: the four rows get slots 0, 0.5, 1 and 1.5 s ahead; the lease lasts 0.8 s and is not
    // refreshed (as when a stalled event loop or database holds the refresh back).
    await queueMessages(4, 1, 2);
    const graph = new GraphApiClient({ baseUrl: sim.url, version: 'v24.0', timeoutMs: 5_000 });
    const stalled = new Dispatcher({
      db: t.db, cipher: testCipher, graph, logger: silentLogger, workerId: 'worker-stalled',
      leaseTtlMs: 800, leaseRefreshMs: 60_000, batchSize: 10, pollIntervalMs: 20, maxAttempts: 3, retryBaseMs: 10,
    });
    try {
      const round = stalled.runOnce();
      await pollUntil(async () => (await outboxStates(t.db)).pending === undefined, 'the stalled worker to claim all four rows', 5_000, 5);
      const taken = await pollUntil(async () => {
        const rows = await claim('worker-new', 10);
        return rows.length > 0 && rows;
      }, 'the stalled worker\'s expired leases to be claimable', 5_000, 20);
      expect(await round).toBe(4);

      // The rows whose slots came after the lease ran out were left alone: only the new holder may send them.
      const sent = sim.simulator.sends().length;
      expect(sent + taken.length).toBe(4);
      expect(taken.length).toBeGreaterThan(0);
      const rows = await t.db.selectFrom('message_outbox').select(['id', 'state', 'lease_owner']).orderBy('id').execute();
      expect(rows.map((row) => row.state)).toEqual([...Array(sent).fill('done'), ...Array(taken.length).fill('leased')]);
      expect(rows.filter((row) => row.state === 'leased').every((row) => row.lease_owner === 'worker-new')).toBe(true);
    } finally {
      await graph.close();
    }
  });
});
