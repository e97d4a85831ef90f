/**
 * Inbound baseline: signed single-message webhooks POSTed over real HTTP (undici, closed loop) to
 * the hub, each committed before its 200. Prints webhooks/s and acknowledgement latency, then
 * checks that every message was stored exactly once. Options: `--messages N` (default 20000),
 * `--concurrency C` (default 64), `--numbers K` (default 20), `--customers U` (default 10000).
 *
 * The load generator shares the process (and the 2 cores) with the hub; the "Proof at scale"
 * issue moves it to its own process and adds the open-loop and hello-world comparisons.
 */
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Pool } from 'undici';
import { buildApp } from '../src/http/app.js';
import { connectPhoneNumber } from '../src/numbers/numbers.service.js';
import { signMetaPayload } from '../src/providers/meta/signature.js';
import { TokenCipher } from '../src/shared/token-cipher.js';
import { createOrganization } from '../src/tenancy/tenancy.service.js';
import { openBenchDatabase, percentile } from './database.js';

const APP_SECRET = 'bench_app_secret';

function webhook(wabaId: string, phoneNumberId: string, from: string, wamid: string): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: wabaId, changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: '15550100001', phone_number_id: phoneNumberId },
      contacts: [{ profile: { name: 'Bench Customer' }, wa_id: from }],
      messages: [{ from, id: wamid, timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'benchmark message' } }],
    } }] }],
  });
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: {
    messages: { type: 'string', default: '20000' }, concurrency: { type: 'string', default: '64' },
    numbers: { type: 'string', default: '20' }, customers: { type: 'string', default: '10000' },
  } });
  const total = Number(values.messages);
  const concurrency = Number(values.concurrency);
  const bench = await openBenchDatabase(20);
  const cipher = new TokenCipher([{ id: 'bench', key: Buffer.alloc(32, 1) }]);
  const org = await createOrganization(bench.db, 'Bench org');
  const numbers: Array<{ wabaId: string; phoneNumberId: string }> = [];
  for (let i = 0; i < Number(values.numbers); i++) {
    const wabaId = String(900000000000000 + i);
    const phoneNumberId = String(800000000000000 + i);
    await connectPhoneNumber(bench.db, cipher, { orgId: org.id, wabaId, phoneNumberId, displayPhoneNumber: `1555010${String(i).padStart(4, '0')}`, accessToken: 'bench' });
    numbers.push({ wabaId, phoneNumberId });
  }
  const app = await buildApp({ db: bench.db, logger: pino({ level: 'silent' }), cipher, meta: { appSecret: APP_SECRET, verifyToken: undefined } });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const pool = new Pool(address, { connections: concurrency, pipelining: 1 });
  const latencies: number[] = [];
  let next = 0;
  let failures = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      const number = numbers[i % numbers.length]!;
      const from = String(14155000000 + (i % Number(values.customers)));
      const body = webhook(number.wabaId, number.phoneNumberId, from, `wamid.bench.${i}`);
      const started = performance.now();
      const response = await pool.request({ path: '/webhooks/whatsapp', method: 'POST', body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': signMetaPayload(APP_SECRET, body) } });
      await response.body.dump();
      latencies.push(performance.now() - started);
      if (response.statusCode !== 200) failures++;
    }
  };
  const startedAt = performance.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - startedAt) / 1000;
  latencies.sort((a, b) => a - b);
  const stored = await bench.db.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  const rows = [
    ['database', bench.source],
    ['webhooks sent', String(total)],
    ['non-200 answers', String(failures)],
    ['messages stored', String(stored.n)],
    ['concurrency', String(concurrency)],
    ['webhooks/s', (total / seconds).toFixed(0)],
    ['ack p50 ms', percentile(latencies, 50).toFixed(2)],
    ['ack p99 ms', percentile(latencies, 99).toFixed(2)],
    ['ack max ms', (latencies.at(-1) ?? 0).toFixed(2)],
  ];
  for (const [key, value] of rows) process.stdout.write(`${key!.padEnd(18)} ${value}\n`);
  await pool.close();
  await app.close();
  await bench.close();
  if (Number(stored.n) !== total || failures > 0) {
    process.stderr.write('inbound bench: stored rows do not match the webhooks sent\n');
    process.exit(1);
  }
}
