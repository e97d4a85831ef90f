/**
 * Outbound delivery vs graphile-worker, on one machine and one PostgreSQL server:
 * (a) graphile-worker 0.17 draining `--messages` no-op jobs with batching on (outbound-graphile.ts);
 * (b) wahub draining as many queued template messages through real HTTP sends to the Cloud API
 *     simulator (its own process, status webhooks off), `--numbers` numbers at `--mps` so the
 *     governor is not the limit, by `--workers` dispatcher processes; every message must end
 *     `sent` with a wamid and the simulator must count exactly one send per message;
 * (c) a second wahub run offering messages open loop at half (b)'s drain rate for
 *     `--latency-seconds`: p50/p99 of commit → provider call (messages.created_at → the
 *     simulator's receive time, one machine clock).
 * Prints both rates, the worker's peak RSS and, as the last line,
 * `outbound ratio vs graphile-worker: <ratio>`. Dispatcher knobs: `--batch-size`,
 * `--max-in-flight`, `--connections` (undici, per worker), `--pool-size` (pg, per worker), `--poll-ms`;
 * `--cpu-prof DIR` writes CPU profiles of the workers and the simulator.
 */
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import type { Db } from '../src/db/database.js';
import { openBenchDatabase, percentile } from './database.js';
import { type BenchChild, type ChildUsage, forkChild } from './outbound-children.js';
import { drainGraphileWorker } from './outbound-graphile.js';
import { machineCpu, megabytes, printRows, readDbCounters } from './outbound-report.js';
import { createBenchTenant, offerMessages, queueMessages, queueMessagesBySql } from './outbound-setup.js';
import type { WorkerConfig } from './outbound-worker.js';

const OPTIONS = {
  messages: { type: 'string', default: '50000' }, numbers: { type: 'string', default: '100' }, mps: { type: 'string', default: '1000' },
  threads: { type: 'string', default: '10000' }, workers: { type: 'string', default: '1' }, 'batch-size': { type: 'string', default: '100' },
  'max-in-flight': { type: 'string', default: '2000' }, connections: { type: 'string', default: '64' }, 'pool-size': { type: 'string', default: '10' },
  'poll-ms': { type: 'string', default: '250' }, 'gw-concurrency': { type: 'string', default: '16' }, 'gw-local-queue': { type: 'string', default: '500' },
  'latency-seconds': { type: 'string', default: '10' }, 'setup-concurrency': { type: 'string', default: '16' },
  setup: { type: 'string', default: 'sql' }, 'cpu-prof': { type: 'string' },
} as const;

/**
 * Waits until no outbox row is pending or leased. @returns when the last row was completed (epoch
 * ms, database clock = machine clock), so polling can be infrequent without skewing the time.
 */
async function waitForOutbox(db: Db, everyMs = 100): Promise<number> {
  for (;;) {
    const { rows } = await sql<{ busy: boolean }>`
      SELECT EXISTS (SELECT 1 FROM message_outbox WHERE state IN ('pending', 'leased')) AS busy`.execute(db);
    if (!rows[0]!.busy) break;
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
  const { rows } = await sql<{ last_ms: number }>`
    SELECT extract(epoch FROM max(completed_at))::float8 * 1000 AS last_ms FROM message_outbox`.execute(db);
  return rows[0]!.last_ms;
}

async function usageOf(children: BenchChild[]): Promise<ChildUsage[]> {
  return Promise.all(children.map(async (child) => (await child.ask<{ usage: ChildUsage }>({ type: 'usage' }, 'usage')).usage));
}

/** Every message sent once with its wamid: DB wamids = simulator wamids, no failures. @returns problems found */
async function verifyDrain(db: Db, simulator: BenchChild, expected: number): Promise<{ sends: Array<[string, number]>; problems: string[] }> {
  const { sends } = await simulator.ask<{ sends: Array<[string, number]> }>({ type: 'sends' }, 'sends');
  const { rows } = await sql<{ wamid: string | null; status: string }>`
    SELECT provider_message_id AS wamid, status FROM messages WHERE direction = 'outbound'`.execute(db);
  const problems: string[] = [];
  if (sends.length !== expected) problems.push(`simulator counted ${sends.length} sends, expected ${expected}`);
  const sent = new Set(sends.map(([wamid]) => wamid));
  const withWamid = rows.filter((row) => row.wamid !== null && sent.has(row.wamid));
  if (rows.length !== expected || withWamid.length !== expected) problems.push(`${withWamid.length} of ${rows.length} messages carry a wamid the simulator issued`);
  const notSent = rows.filter((row) => row.status !== 'sent').length;
  if (notSent > 0) problems.push(`${notSent} messages are not 'sent'`);
  return { sends, problems };
}

async function commitToCallLatencies(db: Db, ids: string[], sends: Array<[string, number]>): Promise<number[]> {
  const at = new Map(sends);
  const { rows } = await sql<{ wamid: string; created_ms: number }>`
    SELECT provider_message_id AS wamid, extract(epoch FROM created_at)::float8 * 1000 AS created_ms
    FROM messages WHERE id = ANY(${ids}::uuid[])`.execute(db);
  return rows.map((row) => at.get(row.wamid)! - row.created_ms).sort((a, b) => a - b);
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: OPTIONS });
  const n = (name: keyof typeof OPTIONS) => Number(values[name]);
  const total = n('messages');
  if (values.setup !== 'sql' && values.setup !== 'service') throw new Error('--setup must be sql or service');
  // Other work on the machine skews every figure: measure it first.
  const background = machineCpu();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const rows: Array<[string, string | number]> = [['machine busy before run %', (background() * 100).toFixed(0)]];
  const bench = await openBenchDatabase(24);
  rows.push(['database', bench.source], ['messages / jobs', total]);
  const stop: Array<() => Promise<unknown>> = [];
  try {
    const gw = await drainGraphileWorker({
      url: await bench.createSiblingDatabase('wahub_bench_gw'), jobs: total, concurrency: n('gw-concurrency'), localQueueSize: n('gw-local-queue'),
    });
    const gwRate = gw.jobs / gw.seconds;
    rows.push(
      ['graphile-worker', `0.17.3, concurrency ${n('gw-concurrency')}, localQueue.size ${n('gw-local-queue')}, batch delays 0`],
      ['gw drain s', gw.seconds.toFixed(2)], ['gw jobs/s', gwRate.toFixed(0)],
      ['gw cpu % (process / machine)', `${((gw.cpuMs / 10) / gw.seconds).toFixed(0)} / ${(gw.machineBusy * 100).toFixed(0)}`],
    );

    const tenant = await createBenchTenant(bench.db, { numbers: n('numbers'), mps: n('mps'), threads: n('threads') });
    const setupStarted = performance.now();
    await (values.setup === 'sql' ? queueMessagesBySql : queueMessages)(bench.db, tenant, 0, total, n('setup-concurrency'));
    const setupSeconds = (performance.now() - setupStarted) / 1000;
    await sql`ANALYZE`.execute(bench.db);
    const { child: simulator, ready } = await forkChild<{ url: string }>('./outbound-simulator.ts', { numbers: tenant.numbers }, values['cpu-prof']);
    stop.push(() => simulator.ask({ type: 'stop' }, 'stopped'));
    const workers: BenchChild[] = [];
    for (let w = 0; w < n('workers'); w++) {
      const config: WorkerConfig = {
        databaseUrl: bench.url, graphUrl: ready.url, tokenKey: tenant.tokenKey, workerId: `bench-worker-${w}`,
        batchSize: n('batch-size'), maxInFlight: n('max-in-flight'), connections: n('connections'), poolSize: n('pool-size'), pollIntervalMs: n('poll-ms'),
      };
      workers.push((await forkChild('./outbound-worker.ts', config, values['cpu-prof'])).child);
    }
    const stopped: ChildUsage[] = [];
    stop.unshift(async () => {
      for (const worker of workers) stopped.push((await worker.ask<{ usage: ChildUsage }>({ type: 'stop' }, 'stopped')).usage);
    });

    // The HTTP ceiling: the same sends with the same client and connections, but no database.
    const number = tenant.numbers[0]!;
    const ceilingSeconds = Math.max(...await Promise.all(workers.map(async (worker) => (await worker.ask<{ seconds: number }>({
      type: 'ceiling', count: Math.ceil(total / workers.length), concurrency: n('connections'), phoneNumberId: number.phoneNumberId, accessToken: number.accessToken,
    }, 'ceiling')).seconds)));
    const ceilingRate = (Math.ceil(total / workers.length) * workers.length) / ceilingSeconds;
    await simulator.ask({ type: 'clear' }, 'cleared');

    const counters = await readDbCounters(bench.db);
    const simBefore = (await usageOf([simulator]))[0]!;
    const machine = machineCpu();
    const startedAt = Date.now();
    await Promise.all(workers.map((worker) => worker.ask({ type: 'start' }, 'started')));
    const seconds = ((await waitForOutbox(bench.db)) - startedAt) / 1000;
    const busy = machine();
    const workerUsage = await usageOf(workers);
    const simUsage = (await usageOf([simulator]))[0]!;
    const { sends, problems } = await verifyDrain(bench.db, simulator, total);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    const after = await readDbCounters(bench.db);
    const rate = total / seconds;
    rows.push(
      ['wahub setup', `${total} messages queued (--setup ${values.setup}) in ${setupSeconds.toFixed(1)} s, ${n('threads')} threads, ${n('numbers')} numbers at ${n('mps')} mps`],
      ['wahub dispatcher', `${n('workers')} worker process(es), batchSize ${n('batch-size')}, maxInFlight ${n('max-in-flight')}, connections ${n('connections')}, pool ${n('pool-size')}`],
      ['HTTP ceiling msg/s', `${ceilingRate.toFixed(0)} (same client and connections to the simulator, no database)`],
      ['wahub drain s', seconds.toFixed(2)], ['wahub messages/s', rate.toFixed(0)],
      ['wahub / HTTP ceiling', (rate / ceilingRate).toFixed(2)],
      ['simulator sends / wamids ok', `${sends.length} / ${problems.length === 0 ? 'yes' : problems.join('; ')}`],
      ['cpu % workers / simulator / machine', `${workerUsage.map((u) => ((u.cpuMs / 10) / seconds).toFixed(0)).join('+')} / ${(((simUsage.cpuMs - simBefore.cpuMs) / 10) / seconds).toFixed(0)} / ${(busy * 100).toFixed(0)}`],
      ['worker loop delay p99 ms', workerUsage.map((u) => u.loopDelayP99Ms.toFixed(1)).join(', ')],
      ['commits / governor writes per msg', `${((after.commits - counters.commits) / total).toFixed(2)} / ${((after.governorWrites - counters.governorWrites) / total).toFixed(3)}`],
    );

    await simulator.ask({ type: 'clear' }, 'cleared');
    const offered = Math.min(total, Math.max(1, Math.round((rate / 2) * n('latency-seconds'))));
    const offer = await offerMessages(bench.db, tenant, { from: total, count: offered, rate: rate / 2, concurrency: n('setup-concurrency') });
    await waitForOutbox(bench.db);
    const { sends: latencySends } = await simulator.ask<{ sends: Array<[string, number]> }>({ type: 'sends' }, 'sends');
    const latencies = await commitToCallLatencies(bench.db, offer.ids, latencySends);
    rows.push(
      ['latency run', `${offered} messages offered open loop at ${(rate / 2).toFixed(0)}/s (submitted ${offer.offeredRate.toFixed(0)}/s, committed ${offer.acceptedRate.toFixed(0)}/s), ${latencySends.length} sent`],
      ['commit→call p50 ms', percentile(latencies, 50).toFixed(1)], ['commit→call p99 ms', percentile(latencies, 99).toFixed(1)],
    );
    for (const close of stop.splice(0)) await close();
    rows.push(['worker peak RSS MiB', stopped.map((u) => megabytes(u.maxRssKb)).join(', ')]);
    rows.push(['wahub / graphile-worker', `${rate.toFixed(0)} / ${gwRate.toFixed(0)} per s`]);
    printRows(rows);
    if (latencySends.length !== offered) problems.push(`latency run: the simulator counted ${latencySends.length} sends of ${offered}`);
    if (problems.length > 0) {
      // An invalid run prints no ratio, so that it is never tracked.
      process.stderr.write(`outbound bench: ${problems.join('; ')}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(`outbound ratio vs graphile-worker: ${(rate / gwRate).toFixed(2)}\n`);
    }
  } finally {
    for (const close of stop) await close().catch(() => undefined);
    await bench.close();
  }
}
