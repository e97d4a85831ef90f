/**
 * Read path at scale: seeds `--messages` (10 M) messages over `--threads` (100 k) threads and
 * `--orgs` (200) organizations (reads-seed.ts; `--scale 0.1` divides all three), then measures over
 * real HTTP, one request at a time, p50/p99/max of:
 * - `GET /v1/threads` first page and a deep page (90 % down the largest organization's list);
 * - `GET /v1/threads/{id}/messages` first page and a deep page (90 % down the largest thread);
 * - a contact lookup by phone (SQL on the unique (org_id, e164) index: the HTTP endpoint comes with
 *   the contacts API).
 * Prints EXPLAIN (ANALYZE, BUFFERS) of each query, to show index use. Target: p99 < 20 ms for every
 * one, deep pages no worse than first pages. Last line:
 * `reads p99 worst: <ms> ms; deep/first p99 threads <r>, messages <r>`.
 */
import { parseArgs } from 'node:util';
import { Kysely, PostgresDialect, sql, type CompiledQuery } from 'kysely';
import pg from 'pg';
import pino from 'pino';
import { Pool } from 'undici';
import type { Database } from '../src/db/schema.js';
import { buildApp } from '../src/app.js';
import { listThreadMessages } from '../src/conversations/messages.repository.js';
import { TokenCipher } from '../src/shared/token-cipher.js';
import { findThread, listThreads } from '../src/conversations/threads.repository.js';
import { openBenchDatabase, percentile } from './database.js';
import { machineCpu, printRows } from './outbound-report.js';
import { seedReads } from './reads-seed.js';

const OPTIONS = {
  scale: { type: 'string', default: '1' }, messages: { type: 'string' }, threads: { type: 'string' }, orgs: { type: 'string' },
  requests: { type: 'string', default: '1000' }, limit: { type: 'string', default: '50' },
} as const;

interface Measured {
  name: string;
  latencies: number[];
}

function cursorOf(row: { at: string; id: string }): string {
  return Buffer.from(JSON.stringify({ at: row.at, id: row.id })).toString('base64url');
}

/** Runs `work` `requests` times one after the other (after a warm-up) and returns sorted latencies, ms. */
async function measure(requests: number, work: (i: number) => Promise<void>): Promise<number[]> {
  for (let i = 0; i < Math.min(100, requests); i++) await work(i);
  const latencies: number[] = [];
  for (let i = 0; i < requests; i++) {
    const started = performance.now();
    await work(i);
    latencies.push(performance.now() - started);
  }
  return latencies.sort((a, b) => a - b);
}

/** The compiled SQL of one repository call, captured through Kysely's log hook. */
async function captureQueries(url: string, call: (db: Kysely<Database>) => Promise<unknown>): Promise<CompiledQuery[]> {
  const captured: CompiledQuery[] = [];
  const db = new Kysely<Database>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: url, max: 1 }) }),
    log: (event) => {
      if (event.level === 'query') captured.push(event.query);
    },
  });
  try {
    await call(db);
  } finally {
    await db.destroy();
  }
  return captured;
}

async function explain(db: Kysely<Database>, query: CompiledQuery): Promise<string> {
  const { rows } = await db.executeQuery<{ 'QUERY PLAN': string }>({ ...query, sql: `EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${query.sql}` } as CompiledQuery<{ 'QUERY PLAN': string }>);
  return rows.map((row) => row['QUERY PLAN']).join('\n');
}

export async function run(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: OPTIONS });
  const scale = Number(values.scale);
  const messages = Number(values.messages ?? Math.round(10_000_000 * scale));
  const threads = Number(values.threads ?? Math.max(10, Math.round(100_000 * scale)));
  const orgs = Number(values.orgs ?? Math.max(2, Math.round(200 * scale)));
  const requests = Number(values.requests);
  const limit = Number(values.limit);
  const bench = await openBenchDatabase(8, 'wahub_bench_reads');
  const out = (line: string) => process.stdout.write(`${line}\n`);
  try {
    const cipher = new TokenCipher([{ id: 'bench', key: Buffer.alloc(32, 1) }]);
    const seed = await seedReads(bench.db, cipher, { messages, threads, orgs, progress: out });
    const big = seed.orgs[0]!;
    const app = await buildApp({ db: bench.db, logger: pino({ level: 'silent' }), cipher, meta: { appSecret: 'bench', verifyToken: undefined }, rateLimit: { perMinute: 0 } });
    const address = await app.listen({ port: 0, host: '127.0.0.1' });
    const http = new Pool(address, { connections: 1, pipelining: 1 });
    const headers = { authorization: `Bearer ${big.apiKey}` };
    const get = async (path: string) => {
      const response = await http.request({ path, method: 'GET', headers });
      const text = await response.body.text();
      if (response.statusCode !== 200) throw new Error(`GET ${path} answered ${response.statusCode}: ${text.slice(0, 200)}`);
    };

    // The largest organization's thread list and its largest thread (thread 0 of the seed).
    const { rows: [counts] } = await sql<{ threads: string; hot_thread: string; hot_messages: string }>`
      SELECT (SELECT count(*) FROM threads WHERE org_id = ${big.orgId}) AS threads,
             (SELECT id::text FROM threads WHERE org_id = ${big.orgId} AND contact_id IN (SELECT id FROM contacts WHERE org_id = ${big.orgId} AND e164 = '+14150000000')) AS hot_thread,
             (SELECT count(*) FROM messages m JOIN threads t ON t.org_id = m.org_id AND t.id = m.thread_id JOIN contacts c ON c.org_id = t.org_id AND c.id = t.contact_id WHERE m.org_id = ${big.orgId} AND c.e164 = '+14150000000') AS hot_messages`.execute(bench.db);
    const hotThread = counts!.hot_thread;
    const { rows: [deepThread] } = await sql<{ at: string; id: string }>`
      SELECT to_char(last_message_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, id FROM threads WHERE org_id = ${big.orgId}
      ORDER BY last_message_at DESC, id DESC OFFSET ${Math.floor(Number(counts!.threads) * 0.9)} LIMIT 1`.execute(bench.db);
    const { rows: [deepMessage] } = await sql<{ at: string; id: string }>`
      SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, id FROM messages WHERE org_id = ${big.orgId} AND thread_id = ${hotThread}
      ORDER BY created_at DESC, id DESC OFFSET ${Math.floor(Number(counts!.hot_messages) * 0.9)} LIMIT 1`.execute(bench.db);
    const { rows: phones } = await sql<{ e164: string }>`SELECT e164 FROM contacts WHERE org_id = ${big.orgId} ORDER BY random() LIMIT 1000`.execute(bench.db);

    const machine = machineCpu();
    const measured: Measured[] = [];
    const add = async (name: string, work: (i: number) => Promise<void>) => measured.push({ name, latencies: await measure(requests, work) });
    await add('GET /v1/threads first page', () => get(`/v1/threads?limit=${limit}`));
    await add('GET /v1/threads deep page (90 %)', () => get(`/v1/threads?limit=${limit}&cursor=${cursorOf(deepThread!)}`));
    await add('GET /v1/threads/{id}/messages first page', () => get(`/v1/threads/${hotThread}/messages?limit=${limit}`));
    await add('GET /v1/threads/{id}/messages deep page (90 %)', () => get(`/v1/threads/${hotThread}/messages?limit=${limit}&cursor=${cursorOf(deepMessage!)}`));
    // The same queries without HTTP, auth or JSON: the database's share of the figures above.
    await add('SQL only: thread list first page', async () => {
      await listThreads(bench.db, big.orgId, limit + 1);
    });
    await add('SQL only: thread list deep page', async () => {
      await listThreads(bench.db, big.orgId, limit + 1, { at: deepThread!.at, id: deepThread!.id });
    });
    await add('SQL only: message page first', async () => {
      await listThreadMessages(bench.db, big.orgId, hotThread, limit + 1);
    });
    await add('SQL only: message page deep', async () => {
      await listThreadMessages(bench.db, big.orgId, hotThread, limit + 1, { at: deepMessage!.at, id: deepMessage!.id });
    });
    await add('contact by phone (SQL, unique index)', async (i) => {
      await bench.db.selectFrom('contacts').selectAll().where('org_id', '=', big.orgId).where('e164', '=', phones[i % phones.length]!.e164).executeTakeFirst();
    });
    const busy = machine();
    await http.close();
    await app.close();

    const at = (row: { at: string; id: string }) => ({ at: row.at, id: row.id });
    const plans: Array<[string, CompiledQuery[]]> = [
      ['thread list, first page', await captureQueries(bench.url, (db) => listThreads(db, big.orgId, limit + 1))],
      ['thread list, deep page', await captureQueries(bench.url, (db) => listThreads(db, big.orgId, limit + 1, at(deepThread!)))],
      ['thread lookup (GET /v1/threads/{id}, and before a message page)', await captureQueries(bench.url, (db) => findThread(db, big.orgId, hotThread))],
      ['message page, first', await captureQueries(bench.url, (db) => listThreadMessages(db, big.orgId, hotThread, limit + 1))],
      ['message page, deep', await captureQueries(bench.url, (db) => listThreadMessages(db, big.orgId, hotThread, limit + 1, at(deepMessage!)))],
      ['contact by phone', await captureQueries(bench.url, (db) => db.selectFrom('contacts').selectAll().where('org_id', '=', big.orgId).where('e164', '=', phones[0]!.e164).executeTakeFirst())],
    ];
    const seqScans: string[] = [];
    for (const [name, queries] of plans) {
      for (const query of queries) {
        const plan = await explain(bench.db, query);
        out(`\n-- EXPLAIN ${name}\n${query.sql}\n${plan}`);
        if (/Seq Scan on (messages|threads|contacts)/.test(plan)) seqScans.push(name);
      }
    }

    const p99 = (name: string) => percentile(measured.find((m) => m.name.startsWith(name))!.latencies, 99);
    out('');
    printRows([
      ['database', `${bench.source} (${bench.url.replace(/\/\/[^@]*@/, '//')})`],
      ['seeded', `${messages} messages, ${threads} threads, ${orgs} organizations in ${seed.seconds.toFixed(0)} s`],
      ['largest organization', `${counts!.threads} threads; largest thread ${counts!.hot_messages} messages`],
      ['requests per query', `${requests} sequential (after a 100-request warm-up), limit ${limit}`],
      ['machine busy while measuring', `${(busy * 100).toFixed(0)} % of 2 cores (other jobs included)`],
      ...measured.map((m): [string, string] => [m.name, `p50 ${percentile(m.latencies, 50).toFixed(2)} ms  p99 ${percentile(m.latencies, 99).toFixed(2)} ms  max ${m.latencies.at(-1)!.toFixed(2)} ms`]),
      ['sequential scans on big tables', seqScans.length === 0 ? 'none' : seqScans.join(', ')],
    ]);
    const worst = Math.max(...measured.filter((m) => m.name.startsWith('GET') || m.name.startsWith('contact')).map((m) => percentile(m.latencies, 99)));
    const threadRatio = p99('GET /v1/threads deep') / p99('GET /v1/threads first');
    const messageRatio = p99('GET /v1/threads/{id}/messages deep') / p99('GET /v1/threads/{id}/messages first');
    out(`reads p99 worst: ${worst.toFixed(2)} ms; deep/first p99 threads ${threadRatio.toFixed(2)}, messages ${messageRatio.toFixed(2)}`);
  } finally {
    await bench.close();
  }
}
