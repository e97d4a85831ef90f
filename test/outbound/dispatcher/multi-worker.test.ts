/**
 * Several worker processes (`wahub serve --role worker`) drain one outbox: every message is sent
 * exactly once, as counted by the simulator, and recorded with its wamid.
 */
import { describe, expect, it } from 'vitest';
import { createTestOrg } from '../../helpers/factories.js';
import {
  connectNumbers, FAST_OUTBOX, holdNumbers, outboxStates, pollUntil, principalOf, queueTemplates, recipient, releaseNumbers, sendCounts, sendKey, startWorkers, useWorkerBed, wahubEnv, workerWarnings,
} from './helpers.js';

const WORKERS = 4;
const NUMBERS = 10;
const MESSAGES = 5_000;

const bed = useWorkerBed(10);

describe('wahub serve --role worker × 4', () => {
  it('sends 5,000 messages over 10 numbers at 1,000 mps exactly once each, records every wamid and leaves no row unfinished', async () => {
    const org = await createTestOrg(bed.t.db);
    const principal = await principalOf(bed.t.db, org.apiKey);
    const numbers = await connectNumbers(bed.t.db, bed.sim, org.orgId, Array(NUMBERS).fill(1000));
    // The backlog waits (numbers awaiting re-authorisation) until every worker runs; then it is offered at once.
    // (Queueing before the workers start: idle workers woken by each insert would slow it down.)
    await holdNumbers(bed.t.db, numbers);
    // Production lease settings (TTL 60 s): the normal case, where no lease runs out. Batches of 250:
    // each claim reads the whole due backlog (its cost grows with it), so fewer, larger claims drain faster.
    const env = wahubEnv({
      databaseUrl: bed.t.url, dataDir: bed.dataDir.dir, graphUrl: bed.sim.url,
      extra: { OUTBOX_POLL_INTERVAL_MS: FAST_OUTBOX.OUTBOX_POLL_INTERVAL_MS, OUTBOX_BATCH_SIZE: '250', OUTBOX_MAX_IN_FLIGHT: '500' },
    });
    const items = Array.from({ length: MESSAGES }, (_, i) => ({ phoneNumberId: numbers[i % NUMBERS]!.phoneNumberId, to: recipient(i) }));
    const queued = await queueTemplates(bed.t.db, principal, items);
    await startWorkers(Array(WORKERS).fill(env), bed.workers);
    await releaseNumbers(bed.t.db, numbers);

    // While they drain, note which workers hold leases (lease_owner is cleared on completion).
    const owners = new Set<string>();
    await pollUntil(async () => {
      const leased = await bed.t.db.selectFrom('message_outbox').select('lease_owner').distinct().where('state', '=', 'leased').execute();
      for (const row of leased) owners.add(row.lease_owner!);
      return (await outboxStates(bed.t.db)).done === MESSAGES;
    }, `${MESSAGES} outbox rows done`, 60_000, 50, async () => ({ outbox: await outboxStates(bed.t.db), workers: workerWarnings(bed.workers) }));

    expect(await outboxStates(bed.t.db)).toEqual({ done: MESSAGES });
    const sends = bed.sim.simulator.sends();
    const counts = sendCounts(sends);
    expect(queued.filter((q) => counts.get(sendKey(q)) !== 1), JSON.stringify(workerWarnings(bed.workers))).toEqual([]);
    expect(sends).toHaveLength(MESSAGES);
    const wamidByKey = new Map(sends.map((send) => [`${send.phone_number_id}|${send.to}`, send.wamid]));
    const rows = await bed.t.db.selectFrom('messages').select(['id', 'status', 'provider_message_id']).where('org_id', '=', org.orgId).execute();
    const rowById = new Map(rows.map((row) => [row.id, row]));
    const wrong = queued.filter((q) => {
      const row = rowById.get(q.messageId);
      return row?.status !== 'sent' || row.provider_message_id === null || row.provider_message_id !== wamidByKey.get(sendKey(q));
    });
    expect(wrong).toEqual([]);
    expect(bed.workers.every((worker) => worker.running())).toBe(true);
    expect(owners.size).toBe(WORKERS);

    const at = sends.map((send) => send.at);
    const seconds = (Math.max(...at) - Math.min(...at)) / 1000;
    console.log(`[multi-worker] ${MESSAGES} messages by ${WORKERS} workers (${owners.size} seen holding leases) in ${seconds.toFixed(2)} s of sends: ${Math.round(MESSAGES / seconds)} msg/s; worker warnings ${JSON.stringify(workerWarnings(bed.workers))}`);

    for (const worker of bed.workers) worker.child.kill('SIGTERM');
    const exits = await Promise.all(bed.workers.map((worker) => worker.exited));
    expect(exits.map((exit) => exit.code)).toEqual(Array(WORKERS).fill(0));
  }, 120_000);
});
