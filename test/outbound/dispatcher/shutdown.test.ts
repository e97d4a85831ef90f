/**
 * Graceful shutdown of a worker process (SPEC §4, issue "Delivery engine"): on SIGTERM it stops
 * claiming, releases the rows it holds for later slots (pending again, attempt not counted),
 * finishes the sends in flight and exits 0 within the lease TTL. Another worker then sends the
 * rest, and nothing is sent twice.
 */
import { describe, expect, it } from 'vitest';
import { createTestOrg } from '../../helpers/factories.js';
import {
  connectNumber, FAST_OUTBOX, outboxStates, pollUntil, principalOf, queueTemplates, recipient, sendCounts, sendKey, startWorker, useWorkerBed, wahubEnv,
} from './helpers.js';

const MPS = 10;
const MESSAGES = 40;
const LEASE_TTL_MS = Number(FAST_OUTBOX.OUTBOX_LEASE_TTL_MS);

const bed = useWorkerBed(5);

describe('wahub serve --role worker, SIGTERM', () => {
  it(`exits 0 within the lease TTL, puts the rows it held back to pending with attempts unchanged, and another worker sends them once`, async () => {
    const org = await createTestOrg(bed.t.db);
    const principal = await principalOf(bed.t.db, org.apiKey);
    // A slow number: the worker holds rows for slots up to 2 s ahead, so most of them are still waiting when it stops.
    const number = await connectNumber(bed.t.db, bed.sim, org.orgId, MPS);
    const queued = await queueTemplates(bed.t.db, principal, Array.from({ length: MESSAGES }, (_, i) => ({ phoneNumberId: number.phoneNumberId, to: recipient(i) })));
    const env = wahubEnv({ databaseUrl: bed.t.url, dataDir: bed.dataDir.dir, graphUrl: bed.sim.url, extra: FAST_OUTBOX });

    const first = await startWorker(env, bed.workers);
    await pollUntil(() => bed.sim.simulator.sends().length >= 5, 'the first worker to send 5 messages', 20_000, 10);
    const heldBefore = await bed.t.db.selectFrom('message_outbox').select('id').where('state', '=', 'leased').execute();
    const stoppingAt = Date.now();
    first.child.kill('SIGTERM');
    const exit = await first.exited;
    const stoppedInMs = Date.now() - stoppingAt;

    expect(exit, first.output()).toEqual({ code: 0, signal: null });
    expect(stoppedInMs).toBeLessThan(LEASE_TTL_MS);
    expect(heldBefore.length).toBeGreaterThan(0);
    const afterStop = await bed.t.db.selectFrom('message_outbox').selectAll().execute();
    const sentByFirst = bed.sim.simulator.sends().length;
    const done = afterStop.filter((row) => row.state === 'done');
    const pending = afterStop.filter((row) => row.state === 'pending');
    // Everything it sent is recorded; everything else is pending again, free and never counted as an attempt.
    expect(done).toHaveLength(sentByFirst);
    expect(done.every((row) => row.attempts === 1)).toBe(true);
    expect(pending).toHaveLength(MESSAGES - sentByFirst);
    expect(pending.filter((row) => row.attempts !== 0 || row.lease_owner !== null || row.lease_token !== null || row.lease_expires_at !== null)).toEqual([]);
    expect(pending.length).toBeGreaterThan(0);
    console.log(`[shutdown] stopped in ${stoppedInMs} ms after ${sentByFirst} sends; ${heldBefore.length} rows held at SIGTERM, ${pending.length} pending after`);

    const second = await startWorker(env, bed.workers);
    await pollUntil(async () => (await outboxStates(bed.t.db)).done === MESSAGES, 'the second worker to send the rest', 30_000, 50);

    const counts = sendCounts(bed.sim.simulator.sends());
    expect(queued.filter((q) => counts.get(sendKey(q)) !== 1)).toEqual([]);
    expect(bed.sim.simulator.sends()).toHaveLength(MESSAGES);
    second.child.kill('SIGTERM');
    expect(await second.exited).toEqual({ code: 0, signal: null });
  }, 90_000);
});
