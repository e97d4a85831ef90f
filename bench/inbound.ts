/**
 * Inbound: signed single-message webhooks from `--customers` (10,000) distinct customers to
 * `--numbers` (20) numbers, POSTed over real HTTP by a load generator in its own process
 * (inbound-loadgen.ts) to the hub, which commits each before its 200:
 * 1. closed loop at each of `--concurrency` (16,64,128), `--seconds` (5) each: webhooks/s and
 *    acknowledgement p50/p99/max; the best rate is the figure;
 * 2. the ceiling: a Fastify hello-world POST on the same machine, closed loop at the best
 *    concurrency, in the same run;
 * 3. open loop at `--rate` (2,000/s) for `--open-seconds` (10): p50/p99/max from the scheduled send time;
 * 4. webhooks of `--batch` (20) messages, closed loop at the best concurrency: messages/s.
 * Then every message sent must be stored exactly once. Targets: ≥ 5,000 webhooks/s; p99 < 25 ms at
 * 2,000/s. Last line: `inbound webhooks/s: <n>; p99 at 2000/s: <ms> ms; ratio to hello-world: <ratio>`.
 */
import { parseArgs } from 'node:util';
import { openBenchDatabase } from './database.js';
import { cpuPerWebhook, createInboundTenant, rate, startGenerator, startHelloWorld, startHub, verifyStored, warmUp, autovacuumSetting, APP_SECRET } from './inbound-hub.js';
import type { LoadResult } from './inbound-loadgen.js';
import { machineCpu, printRows } from './outbound-report.js';

const OPTIONS = {
  concurrency: { type: 'string', default: '16,64,128' }, seconds: { type: 'string', default: '5' }, rate: { type: 'string', default: '2000' },
  'open-seconds': { type: 'string', default: '10' }, batch: { type: 'string', default: '20' }, numbers: { type: 'string', default: '20' },
  customers: { type: 'string', default: '10000' }, 'pool-size': { type: 'string', default: '20' },
  'batch-webhooks': { type: 'string', default: '100' }, 'batch-concurrency': { type: 'string', default: '2' },
} as const;

const latency = (result: LoadResult) => `p50 ${result.p50.toFixed(2)}  p99 ${result.p99.toFixed(2)}  max ${result.max.toFixed(2)} ms`;

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: OPTIONS });
  const seconds = Number(values.seconds);
  const background = machineCpu();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const rows: Array<[string, string | number]> = [['machine busy before run %', (background() * 100).toFixed(0)]];
  const bench = await openBenchDatabase(Number(values['pool-size']), 'wahub_bench_inbound');
  const numbers = await createInboundTenant(bench.db, Number(values.numbers));
  const hub = await startHub(bench.db, { maxBatchSize: Number(values['batch-webhooks']), maxConcurrentBatches: Number(values['batch-concurrency']) });
  const hello = await startHelloWorld();
  const generator = await startGenerator({ appSecret: APP_SECRET, numbers, customers: Number(values.customers) }, hub.url);
  rows.push(['database', `${bench.source}, pool ${values['pool-size']}; group commit ≤ ${values['batch-webhooks']} webhooks × ${values['batch-concurrency']} transactions`], ['numbers / customers', `${values.numbers} / ${values.customers}`]);
  try {
    const warm = await warmUp(bench.db, generator, hub.url, Number(values.customers));
    rows.push(['warm-up: each customer\'s first message, c=64', `${rate(warm.requests, warm.seconds)} webhooks/s  ${latency(warm)}  non-200 ${warm.non200} (then VACUUM ANALYZE; autovacuum ${await autovacuumSetting(bench.db)})`]);
    const hubRuns: LoadResult[] = [];
    let best: { rate: number; concurrency: number } = { rate: 0, concurrency: 1 };
    for (const concurrency of values.concurrency.split(',').map(Number)) {
      const result = await generator.run({ type: 'closed', target: hub.url, path: '/webhooks/whatsapp', seconds, concurrency, batch: 1 });
      hubRuns.push(result);
      const webhooksPerSecond = result.requests / result.seconds;
      if (webhooksPerSecond > best.rate) best = { rate: webhooksPerSecond, concurrency };
      rows.push([`closed loop c=${concurrency}`, `${rate(result.requests, result.seconds)} webhooks/s  ${latency(result)}  non-200 ${result.non200}`]);
      rows.push(['', cpuPerWebhook(result)]);
    }
    const ceiling = await generator.run({ type: 'closed', target: hello.url, path: '/webhooks/whatsapp', seconds, concurrency: best.concurrency, batch: 1 });
    const ceilingRate = ceiling.requests / ceiling.seconds;
    rows.push([`hello-world c=${best.concurrency}`, `${rate(ceiling.requests, ceiling.seconds)} requests/s  ${latency(ceiling)}`]);
    rows.push(['', cpuPerWebhook(ceiling)]);

    const open = await generator.run({ type: 'open', target: hub.url, path: '/webhooks/whatsapp', seconds: Number(values['open-seconds']), rate: Number(values.rate), batch: 1 });
    rows.push([`open loop ${values.rate}/s`, `${rate(open.requests, open.seconds)} webhooks/s achieved  ${latency(open)}  non-200 ${open.non200}`]);
    rows.push(['', cpuPerWebhook(open)]);

    const batch = Number(values.batch);
    const batched = await generator.run({ type: 'closed', target: hub.url, path: '/webhooks/whatsapp', seconds, concurrency: best.concurrency, batch });
    rows.push([`batches of ${batch} c=${best.concurrency}`, `${rate(batched.messages, batched.seconds)} messages/s (${rate(batched.requests, batched.seconds)} webhooks/s)  ${latency(batched)}  non-200 ${batched.non200}`]);

    const { stored, problems } = await verifyStored(bench.db, generator.sent.acknowledged);
    const non200 = [warm, ...hubRuns, open, batched].reduce((sum, r) => sum + r.non200, 0);
    rows.push(['messages sent / acknowledged / stored', `${generator.sent.messages} / ${generator.sent.acknowledged} / ${stored} (${problems.length === 0 ? 'none lost, none doubled' : problems.join('; ')})`]);
    if (non200 > 0) {
      const byStatus = [warm, ...hubRuns, open, batched].flatMap((r) => Object.entries(r.statuses)).map(([status, count]) => `${count}× ${status}`).join(', ');
      rows.push(['non-200 answers', `${byStatus} (a 503 is overload: nothing stored, Meta redelivers)`]);
      if ([warm, ...hubRuns, open, batched].some((r) => Object.keys(r.statuses).some((status) => status !== '503'))) problems.push('answers other than 200 and 503');
    }
    rows.push(['best wahub / hello-world', `${best.rate.toFixed(0)} / ${ceilingRate.toFixed(0)} per s`]);
    printRows(rows);
    if (problems.length > 0) {
      process.stderr.write(`inbound bench: ${problems.join('; ')}\n`);
      process.exitCode = 1;
    } else {
      process.stdout.write(`inbound webhooks/s: ${best.rate.toFixed(0)}; p99 at ${values.rate}/s: ${open.p99.toFixed(1)} ms; ratio to hello-world: ${(best.rate / ceilingRate).toFixed(2)}\n`);
    }
  } finally {
    await generator.stop();
    await hello.close();
    await hub.close();
    await bench.close();
  }
}
