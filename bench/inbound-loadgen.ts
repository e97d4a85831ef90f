/**
 * Load generator of the inbound benchmarks, in its own process (own event loop): POSTs signed Meta
 * webhooks with undici, closed loop (`concurrency` requests in flight for `seconds`) or open loop
 * (`rate` requests per second on a fixed schedule for `seconds`; latency counted from the scheduled
 * send time, so a stalled server cannot hide its queueing). Each webhook carries `batch` text
 * messages with unique wamids, from `customers` distinct customers to the configured numbers.
 */
import { Pool } from 'undici';
import { signMetaPayload } from '../src/providers/meta/signature.js';
import { percentile } from './database.js';
import { childConfig, serveParent } from './outbound-children.js';

export interface LoadgenConfig {
  appSecret: string;
  numbers: Array<{ wabaId: string; phoneNumberId: string }>;
  customers: number;
}

export interface LoadRun {
  type: 'closed' | 'open';
  /** Base URL of the server, e.g. http://127.0.0.1:4000. */
  target: string;
  path: string;
  seconds: number;
  /** Closed loop only: stop after this many webhooks (or `seconds`, whichever comes first). */
  requests?: number;
  concurrency?: number;
  rate?: number;
  batch: number;
  /** Index of the first webhook (wamids are `wamid.bench.<index>.<k>`, unique across runs). */
  from: number;
}

export interface LoadResult {
  requests: number;
  messages: number;
  /** Answers other than 200 (503 when the hub is overloaded: Meta would redeliver those webhooks). */
  non200: number;
  /** Messages of webhooks answered 200: each must be stored exactly once. */
  acknowledged: number;
  /** Count of each status other than 200. */
  statuses: Record<string, number>;
  seconds: number;
  p50: number;
  p99: number;
  max: number;
  /** Index after the last webhook sent. */
  next: number;
  /** CPU the load generator itself used during the run, µs (user + system). */
  cpuMicros: number;
}

const config = childConfig<LoadgenConfig>();
const pools = new Map<string, Pool>();

function poolFor(target: string): Pool {
  let pool = pools.get(target);
  if (!pool) {
    pool = new Pool(target, { connections: 512, pipelining: 1 });
    pools.set(target, pool);
  }
  return pool;
}

/** Webhook `index` as Meta would send it: one change with `batch` messages. */
function webhook(index: number, batch: number): string {
  const number = config.numbers[index % config.numbers.length]!;
  const timestamp = String(Math.floor(Date.now() / 1000));
  const messages = [];
  const contacts = [];
  for (let k = 0; k < batch; k++) {
    const from = String(14155000000 + ((index * batch + k) % config.customers));
    contacts.push({ profile: { name: 'Bench Customer' }, wa_id: from });
    messages.push({ from, id: `wamid.bench.${index}.${k}`, timestamp, type: 'text', text: { body: 'benchmark message' } });
  }
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: number.wabaId, changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp', metadata: { display_phone_number: '15550100001', phone_number_id: number.phoneNumberId }, contacts, messages,
    } }] }],
  });
}

async function post(run: LoadRun, index: number): Promise<number> {
  const body = webhook(index, run.batch);
  const response = await poolFor(run.target).request({
    path: run.path, method: 'POST', body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaPayload(config.appSecret, body) },
  });
  await response.body.dump();
  if (response.statusCode !== 200) statuses[response.statusCode] = (statuses[response.statusCode] ?? 0) + 1;
  return response.statusCode;
}

let statuses: Record<string, number> = {};

function summarise(run: LoadRun, latencies: number[], non200: number, seconds: number, next: number, cpu: NodeJS.CpuUsage): LoadResult {
  const counted = statuses;
  statuses = {};
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length, messages: latencies.length * run.batch, non200, acknowledged: (latencies.length - non200) * run.batch, statuses: counted, seconds,
    p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) ?? 0, next, cpuMicros: cpu.user + cpu.system,
  };
}

async function closedLoop(run: LoadRun): Promise<LoadResult> {
  const latencies: number[] = [];
  let non200 = 0;
  let next = run.from;
  const cpu = process.cpuUsage();
  const started = performance.now();
  const deadline = started + run.seconds * 1000;
  const end = run.from + (run.requests ?? Number.POSITIVE_INFINITY);
  const worker = async () => {
    while (performance.now() < deadline && next < end) {
      const index = next++;
      const sent = performance.now();
      if ((await post(run, index)) !== 200) non200++;
      latencies.push(performance.now() - sent);
    }
  };
  await Promise.all(Array.from({ length: run.concurrency ?? 1 }, worker));
  return summarise(run, latencies, non200, (performance.now() - started) / 1000, next, process.cpuUsage(cpu));
}

async function openLoop(run: LoadRun): Promise<LoadResult> {
  const rate = run.rate ?? 1;
  const total = Math.round(rate * run.seconds);
  const latencies: number[] = [];
  const inFlight: Array<Promise<void>> = [];
  let non200 = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let i = 0; i < total; i++) {
    const scheduled = started + (i * 1000) / rate;
    const wait = scheduled - performance.now();
    if (wait > 1) await new Promise((resolve) => setTimeout(resolve, wait));
    inFlight.push(post(run, run.from + i).then((status) => {
      if (status !== 200) non200++;
      latencies.push(performance.now() - scheduled);
    }));
  }
  await Promise.all(inFlight);
  return summarise(run, latencies, non200, (performance.now() - started) / 1000, run.from + total, process.cpuUsage(cpu));
}

serveParent(async (message) => {
  if (message.type === 'run') {
    const run = message.run as LoadRun;
    return { type: 'result', result: run.type === 'closed' ? await closedLoop(run) : await openLoop(run) };
  }
  if (message.type === 'stop') {
    for (const pool of pools.values()) await pool.close();
    process.send!({ type: 'stopped' });
    process.exit(0);
  }
  return undefined;
});
process.send!({ type: 'ready' });
