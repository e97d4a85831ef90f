/**
 * Growth: the inbound rate with an empty database and again once it holds `--scale` × 10 M messages
 * (seeded as in the reads benchmark: 100 k threads, 200 organizations, indexes rebuilt), same
 * load both times: closed loop at `--concurrency` (64) for `--seconds` (10) with single-message
 * webhooks from the load generator process. Target: ratio (full / empty) ≥ 0.8. Every acknowledged
 * message must be stored once. Last line:
 * `inbound growth: <n>/s empty, <n>/s with <m> messages; ratio <r>`.
 */
import { parseArgs } from 'node:util';
import { sql } from 'kysely';
import { openBenchDatabase } from './database.js';
import { APP_SECRET, benchCipher, createInboundTenant, startGenerator, startHub, verifyStored, warmUp, autovacuumSetting } from './inbound-hub.js';
import type { LoadResult } from './inbound-loadgen.js';
import { machineCpu, printRows } from './outbound-report.js';
import { seedReads } from './reads-seed.js';

const OPTIONS = {
  scale: { type: 'string', default: '1' }, concurrency: { type: 'string', default: '64' }, seconds: { type: 'string', default: '10' },
  numbers: { type: 'string', default: '20' }, customers: { type: 'string', default: '10000' }, 'pool-size': { type: 'string', default: '20' },
} as const;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: OPTIONS });
  const scale = Number(values.scale);
  const messages = Math.round(10_000_000 * scale);
  const bench = await openBenchDatabase(Number(values['pool-size']), 'wahub_bench_growth');
  const numbers = await createInboundTenant(bench.db, Number(values.numbers));
  const hub = await startHub(bench.db);
  const generator = await startGenerator({ appSecret: APP_SECRET, numbers, customers: Number(values.customers) }, hub.url);
  const rows: Array<[string, string | number]> = [['database', `${bench.source}, pool ${values['pool-size']}`]];
  const measure = async (label: string): Promise<LoadResult> => {
    const machine = machineCpu();
    const result = await generator.run({ type: 'closed', target: hub.url, path: '/webhooks/whatsapp', seconds: Number(values.seconds), concurrency: Number(values.concurrency), batch: 1 });
    rows.push([label, `${(result.requests / result.seconds).toFixed(0)} webhooks/s  p50 ${result.p50.toFixed(2)}  p99 ${result.p99.toFixed(2)} ms  non-200 ${result.non200}  machine busy ${(machine() * 100).toFixed(0)} %`]);
    return result;
  };
  try {
    const warm = await warmUp(bench.db, generator, hub.url, Number(values.customers));
    rows.push(['warm-up: each customer\'s first message', `${(warm.requests / warm.seconds).toFixed(0)} webhooks/s (then VACUUM ANALYZE; autovacuum ${await autovacuumSetting(bench.db)})`]);
    const empty = await measure(`empty database, c=${values.concurrency}`);
    const seed = await seedReads(bench.db, benchCipher, {
      messages, threads: Math.max(10, Math.round(100_000 * scale)), orgs: Math.max(2, Math.round(200 * scale)), progress: (line) => process.stdout.write(`${line}\n`),
    });
    const { rows: [size] } = await sql<{ bytes: string }>`SELECT pg_total_relation_size('messages') AS bytes`.execute(bench.db);
    rows.push(['seeded', `${seed.messages} messages in ${seed.seconds.toFixed(0)} s; messages table + indexes ${(Number(size!.bytes) / 2 ** 30).toFixed(2)} GiB`]);
    const full = await measure(`with ${seed.messages} messages, c=${values.concurrency}`);
    const { problems } = await verifyStored(bench.db, generator.sent.acknowledged);
    rows.push(['acknowledged / stored', `${generator.sent.acknowledged} (${problems.length === 0 ? 'each stored once' : problems.join('; ')})`]);
    printRows(rows);
    if (problems.length > 0) {
      process.stderr.write(`growth bench: ${problems.join('; ')}\n`);
      process.exitCode = 1;
      return;
    }
    const emptyRate = empty.requests / empty.seconds;
    const fullRate = full.requests / full.seconds;
    process.stdout.write(`inbound growth: ${emptyRate.toFixed(0)}/s empty, ${fullRate.toFixed(0)}/s with ${seed.messages} messages; ratio ${(fullRate / emptyRate).toFixed(2)}\n`);
  } finally {
    await generator.stop();
    await hub.close();
    await bench.close();
  }
}
