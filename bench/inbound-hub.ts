/**
 * Shared parts of the inbound benchmarks (inbound.ts, growth.ts): the tenant whose numbers receive
 * the webhooks, the hub under test and the hello-world ceiling (both listening in this process), the
 * load generator (its own process, inbound-loadgen.ts), and the check that every message sent is
 * stored exactly once.
 */
import Fastify from 'fastify';
import { sql } from 'kysely';
import pino from 'pino';
import type { Db } from '../src/db/database.js';
import { buildApp } from '../src/app.js';
import type { InboundBatcherOptions } from '../src/inbound/ingest-batcher.js';
import { connectPhoneNumber } from '../src/numbers/numbers.service.js';
import { TokenCipher } from '../src/shared/token-cipher.js';
import { createOrganization } from '../src/tenancy/tenancy.service.js';
import type { LoadgenConfig, LoadResult, LoadRun } from './inbound-loadgen.js';
import { type BenchChild, forkChild } from './outbound-children.js';
import { postgresCpuSeconds } from './outbound-report.js';

export const APP_SECRET = 'bench_app_secret';
export const benchCipher = new TokenCipher([{ id: 'bench', key: Buffer.alloc(32, 1) }]);

export interface Server {
  url: string;
  close(): Promise<void>;
}

/** An organization with `count` connected numbers (WABA i owns number i). */
export async function createInboundTenant(db: Db, count: number): Promise<LoadgenConfig['numbers']> {
  const org = await createOrganization(db, 'Inbound bench org');
  const numbers: LoadgenConfig['numbers'] = [];
  for (let i = 0; i < count; i++) {
    const wabaId = String(900000000000000 + i);
    const phoneNumberId = String(800000000000000 + i);
    await connectPhoneNumber(db, benchCipher, { orgId: org.id, wabaId, phoneNumberId, displayPhoneNumber: `1555010${String(i).padStart(4, '0')}`, accessToken: 'bench' });
    numbers.push({ wabaId, phoneNumberId });
  }
  return numbers;
}

/** The hub's HTTP app (as `wahub serve --role api` builds it), listening on a free port. */
export async function startHub(db: Db, inboundBatch?: InboundBatcherOptions): Promise<Server> {
  const app = await buildApp({ db, logger: pino({ level: 'silent' }), cipher: benchCipher, meta: { appSecret: APP_SECRET, verifyToken: undefined }, inboundBatch });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

/** The ceiling: Fastify answering the same POST with `{"ok":true}` after parsing its JSON, no database. */
export async function startHelloWorld(): Promise<Server> {
  const app = Fastify({ logger: false, bodyLimit: 3 * 1024 * 1024 });
  app.post('/webhooks/whatsapp', async () => ({ ok: true }));
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

/** A run with the CPU each side used per webhook, µs. */
export interface MeasuredRun extends LoadResult {
  /** This process (the hub; the hello-world server when it is the target). */
  hubMicrosPerWebhook: number;
  /** PostgreSQL processes on this machine (0 when the server is elsewhere). */
  postgresMicrosPerWebhook: number;
  loadgenMicrosPerWebhook: number;
}

export interface Generator {
  run(run: Omit<LoadRun, 'from'>): Promise<MeasuredRun>;
  /** Webhooks and messages sent to the hub so far, and messages acknowledged with 200 (hello-world runs not counted). */
  sent: { webhooks: number; messages: number; acknowledged: number };
  stop(): Promise<void>;
}

/** Forks the load generator; `run` gives every webhook a fresh index, so wamids never repeat. */
export async function startGenerator(config: LoadgenConfig, hubUrl: string): Promise<Generator> {
  const { child } = await forkChild<unknown>('./inbound-loadgen.ts', config);
  let next = 0;
  const sent = { webhooks: 0, messages: 0, acknowledged: 0 };
  return {
    sent,
    run: async (run) => {
      const hubCpu = process.cpuUsage();
      const postgresCpu = postgresCpuSeconds();
      const { result } = await (child as BenchChild).ask<{ result: LoadResult }>({ type: 'run', run: { ...run, from: next } }, 'result');
      const hub = process.cpuUsage(hubCpu);
      const perWebhook = (micros: number) => (result.requests > 0 ? micros / result.requests : 0);
      const measured: MeasuredRun = {
        ...result,
        hubMicrosPerWebhook: perWebhook(hub.user + hub.system),
        postgresMicrosPerWebhook: perWebhook((postgresCpuSeconds() - postgresCpu) * 1e6),
        loadgenMicrosPerWebhook: perWebhook(result.cpuMicros),
      };
      next = result.next;
      if (run.target === hubUrl) {
        sent.webhooks += result.requests;
        sent.messages += result.messages;
        sent.acknowledged += result.acknowledged;
      }
      return measured;
    },
    stop: async () => {
      await child.ask({ type: 'stop' }, 'stopped').catch(() => undefined);
    },
  };
}

/**
 * Brings the hub to its steady state before anything is timed: one webhook from each of the
 * `customers` (so every contact and thread exists, as for a hub in service), then `VACUUM
 * ANALYZE`, which autovacuum does in service (and which the server may have switched off: the
 * report says so). Without it, the foreign-key checks planned while the tables were empty keep a
 * plan that reads every contact of the organization (threads_contact_fkey: 0.3 ms per inserted
 * thread at 8,000 contacts) until the tables are analyzed, about a minute into production
 * traffic, which is when the timed phases of a short benchmark would run.
 * @returns the warm-up run (first message of each customer: contact, client and thread created)
 */
export async function warmUp(db: Db, generator: Generator, hubUrl: string, customers: number): Promise<LoadResult> {
  const result = await generator.run({ type: 'closed', target: hubUrl, path: '/webhooks/whatsapp', seconds: 600, requests: customers, concurrency: 64, batch: 1 });
  await sql`VACUUM ANALYZE`.execute(db);
  return result;
}

/** The server's autovacuum setting (`on`/`off`), for the report. */
export async function autovacuumSetting(db: Db): Promise<string> {
  const { rows } = await sql<{ setting: string }>`SELECT current_setting('autovacuum') AS setting`.execute(db);
  return rows[0]!.setting;
}

/**
 * Rows stored by the benchmark's webhooks: all, and distinct wamids. Every acknowledged message must
 * be stored once (a webhook refused with 503 stored nothing: its transaction rolled back).
 * @returns problems found
 */
export async function verifyStored(db: Db, expected: number): Promise<{ stored: number; distinct: number; problems: string[] }> {
  const { rows } = await sql<{ stored: string; distinct: string }>`
    SELECT count(*) AS stored, count(DISTINCT provider_message_id) AS distinct FROM messages WHERE provider_message_id LIKE 'wamid.bench.%'`.execute(db);
  const stored = Number(rows[0]!.stored);
  const distinct = Number(rows[0]!.distinct);
  const problems: string[] = [];
  if (stored !== expected) problems.push(`${stored} messages stored, ${expected} acknowledged`);
  if (distinct !== stored) problems.push(`${stored - distinct} messages stored twice`);
  return { stored, distinct, problems };
}

/** `hub 120 + PostgreSQL 210 + load generator 60 µs CPU per webhook` for the report. */
export function cpuPerWebhook(run: MeasuredRun): string {
  const f = (micros: number) => micros.toFixed(0);
  return `CPU/webhook µs: hub ${f(run.hubMicrosPerWebhook)}, PostgreSQL ${f(run.postgresMicrosPerWebhook)}, load generator ${f(run.loadgenMicrosPerWebhook)}`;
}

/** `1,234` style. */
export function rate(count: number, seconds: number): string {
  return (count / seconds).toFixed(0);
}
