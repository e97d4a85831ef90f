/**
 * Part (a) of the outbound benchmark: graphile-worker (0.17, the last release for Node 20) draining
 * no-op jobs with batching on — local queue, completion and failure batching with zero delay — in
 * its own fresh database on the same server. Jobs are bulk-added with `graphile_worker.add_jobs`
 * before the runner starts; only the drain is timed, from `run()` until the jobs table is empty.
 */
import { EventEmitter } from 'node:events';
import { Logger, run, runMigrations, type WorkerEvents } from 'graphile-worker';
import pg from 'pg';
import { machineCpu } from './outbound-report.js';

export interface GraphileOptions {
  /** Connection string of an empty database. */
  url: string;
  jobs: number;
  /** `concurrentJobs` of the one worker pool. */
  concurrency: number;
  /** `localQueue.size`: jobs fetched (and locked) per query. */
  localQueueSize: number;
}

export interface GraphileResult {
  jobs: number;
  seconds: number;
  /** Process CPU (user + system) during the drain, ms. */
  cpuMs: number;
  /** Share of the machine's CPU time busy during the drain, 0..1. */
  machineBusy: number;
}

const silent = new Logger(() => () => undefined);

async function waitUntil(condition: () => boolean | Promise<boolean>, everyMs: number): Promise<void> {
  while (!(await condition())) await new Promise((resolve) => setTimeout(resolve, everyMs));
}

export async function drainGraphileWorker(options: GraphileOptions): Promise<GraphileResult> {
  await runMigrations({ connectionString: options.url, logger: silent });
  const client = new pg.Client({ connectionString: options.url });
  await client.connect();
  try {
    await client.query(`
      SELECT count(*) FROM graphile_worker.add_jobs(array(
        SELECT ROW('noop', '{}'::json, NULL, NULL, NULL, NULL, NULL, NULL)::graphile_worker.job_spec
        FROM generate_series(1, $1::int)))`, [options.jobs]);
    await client.query('ANALYZE');
    let succeeded = 0;
    const events: WorkerEvents = new EventEmitter();
    events.on('job:success', () => succeeded++);
    const cpu = process.cpuUsage();
    const machine = machineCpu();
    const startedAt = performance.now();
    const runner = await run({
      noHandleSignals: true,
      taskList: { noop: async () => undefined },
      logger: silent,
      events,
      preset: {
        worker: {
          connectionString: options.url,
          concurrentJobs: options.concurrency,
          maxPoolSize: Math.max(10, options.concurrency + 2),
          pollInterval: 1_000,
          localQueue: { size: options.localQueueSize },
          completeJobBatchDelay: 0,
          failJobBatchDelay: 0,
        },
      },
    });
    await waitUntil(() => succeeded >= options.jobs, 5);
    // Completions are batched: the drain ends when the last one is committed.
    await waitUntil(async () => (await client.query('SELECT NOT EXISTS (SELECT 1 FROM graphile_worker._private_jobs) AS empty')).rows[0].empty, 5);
    const seconds = (performance.now() - startedAt) / 1000;
    const busy = machine();
    const used = process.cpuUsage(cpu);
    await runner.stop();
    return { jobs: succeeded, seconds, cpuMs: (used.user + used.system) / 1000, machineBusy: busy };
  } finally {
    await client.end();
  }
}
