/**
 * Several worker processes (`wahub serve --role worker`) drain one outbox: every message is sent
 * exactly once, as counted by the simulator, and recorded with its wamid.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SimulatorServer } from '../../src/simulator/server.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestOrg } from '../helpers/factories.js';
import {
  connectNumbers, FAST_OUTBOX, holdNumbers, killWorkers, makeDataDir, outboxStates, pollUntil, principalOf, queueTemplates, recipient, releaseNumbers, sendCounts,
  sendKey, startSendOnlySimulator, startWorkers, wahubEnv, workerWarnings, type WorkerProcess,
} from './helpers.js';

const WORKERS = 4;
const NUMBERS = 10;
const MESSAGES = 5_000;

let t: TestDatabase;
let sim: SimulatorServer;
let dataDir: Awaited<ReturnType<typeof makeDataDir>>;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  t = await createTestDatabase(10);
  sim = await startSendOnlySimulator();
  dataDir = await makeDataDir();
});

afterAll(async () => {
  await killWorkers(workers);
  await sim?.close();
  await t?.drop();
  await dataDir?.remove();
});

describe('wahub serve --role worker × 4', () => {
  it('sends 5,000 messages over 10 numbers at 1,000 mps exactly once each, records every wamid and leaves no row unfinished', async () => {
    const org = await createTestOrg(t.db);
    const principal = await principalOf(t.db, org.apiKey);
    const numbers = await connectNumbers(t.db, sim, org.orgId, Array(NUMBERS).fill(1000));
    // The backlog waits (numbers awaiting re-authorisation) until every worker runs; then it is offered at once.
    // (Queueing before the workers start: idle workers woken by each insert would slow it down.)
    await holdNumbers(t.db, numbers);
    // Production lease settings (TTL 60 s): the normal case, where no lease runs out. Batches of 250:
    // each claim reads the whole due backlog (its cost grows with it), so fewer, larger claims drain faster.
    const env = wahubEnv({
      databaseUrl: t.url, dataDir: dataDir.dir, graphUrl: sim.url,
      extra: { OUTBOX_POLL_INTERVAL_MS: FAST_OUTBOX.OUTBOX_POLL_INTERVAL_MS, OUTBOX_BATCH_SIZE: '250', OUTBOX_MAX_IN_FLIGHT: '500' },
    });
    const items = Array.from({ length: MESSAGES }, (_, i) => ({ phoneNumberId: numbers[i % NUMBERS]!.phoneNumberId, to: recipient(i) }));
    const queued = await queueTemplates(t.db, principal, items);
    await startWorkers(Array(WORKERS).fill(env), workers);
    await releaseNumbers(t.db, numbers);

    // While they drain, note which workers hold leases (lease_owner is cleared on completion).
    const owners = new Set<string>();
    await pollUntil(async () => {
      const leased = await t.db.selectFrom('message_outbox').select('lease_owner').distinct().where('state', '=', 'leased').execute();
      for (const row of leased) owners.add(row.lease_owner!);
      return (await outboxStates(t.db)).done === MESSAGES;
    }, `${MESSAGES} outbox rows done`, 60_000, 50, async () => ({ outbox: await outboxStates(t.db), workers: workerWarnings(workers) }));

    expect(await outboxStates(t.db)).toEqual({ done: MESSAGES });
    const sends = sim.simulator.sends();
    const counts = sendCounts(sends);
    expect(queued.filter((q) => counts.get(sendKey(q)) !== 1), JSON.stringify(workerWarnings(workers))).toEqual([]);
    expect(sends).toHaveLength(MESSAGES);
    const wamidByKey = new Map(sends.map((send) => [`${send.phone_number_id}|${send.to}`, send.wamid]));
    const rows = await t.db.selectFrom('messages').select(['id', 'status', 'provider_message_id']).where('org_id', '=', org.orgId).execute();
    const rowById = new Map(rows.map((row) => [row.id, row]));
    const wrong = queued.filter((q) => {
      const row = rowById.get(q.messageId);
      return row?.status !== 'sent' || row.provider_message_id === null || row.provider_message_id !== wamidByKey.get(sendKey(q));
    });
    expect(wrong).toEqual([]);
    expect(workers.every((worker) => worker.running())).toBe(true);
    expect(owners.size).toBe(WORKERS);

    const at = sends.map((send) => send.at);
    const seconds = (Math.max(...at) - Math.min(...at)) / 1000;
    console.log(`[multi-worker] ${MESSAGES} messages by ${WORKERS} workers (${owners.size} seen holding leases) in ${seconds.toFixed(2)} s of sends: ${Math.round(MESSAGES / seconds)} msg/s; worker warnings ${JSON.stringify(workerWarnings(workers))}`);

    for (const worker of workers) worker.child.kill('SIGTERM');
    const exits = await Promise.all(workers.map((worker) => worker.exited));
    expect(exits.map((exit) => exit.code)).toEqual(Array(WORKERS).fill(0));
  }, 120_000);
});
