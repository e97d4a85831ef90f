/**
 * Bulk seed of the read benchmark: `orgs` organizations (each with a WABA, a number and an owner
 * API key, made through the services), then `threads` threads with one contact and client each and
 * `messages` messages, written by `INSERT … SELECT generate_series` in chunks with progress.
 *
 * Shape, so that deep pages are really deep: organization 0 holds 10 % of the threads (the rest
 * spread evenly), thread 0 (in organization 0) holds 1 % of the messages (the rest round-robin over
 * all threads); half the messages are inbound, half outbound; one message every 10 ms of history.
 * Ids are md5-derived uuids, so rows can be joined by their index without lookup tables.
 */
import { sql } from 'kysely';
import type { Db } from '../src/db/database.js';
import { connectPhoneNumber } from '../src/numbers/numbers.service.js';
import type { TokenCipher } from '../src/shared/token-cipher.js';
import { createOperator, createOrganization } from '../src/tenancy/tenancy.service.js';

export interface ReadSeed {
  orgs: Array<{ orgId: string; apiKey: string; phoneNumberRef: string }>;
  threads: number;
  messages: number;
  seconds: number;
}

export interface SeedOptions {
  messages: number;
  threads: number;
  orgs: number;
  /** Rows per INSERT of messages. Default 1,000,000. */
  chunk?: number;
  progress?: (line: string) => void;
}

/** A deterministic, well-formed version-4 uuid (the API's uuid checks refuse other variants). */
const uuid = (kind: string, index: string) => sql.raw(`overlay(overlay(md5('${kind}' || ${index}) placing '4' from 13) placing '8' from 17)::uuid`);

/** The organization index of thread `i` (SQL expression): org 0 holds 10 % of the threads. */
function orgOfThread(i: string, threads: number, orgs: number) {
  const hot = Math.max(1, Math.floor(threads / 10));
  return sql.raw(`CASE WHEN ${i} < ${hot} THEN 0 ELSE 1 + (${i} % ${Math.max(1, orgs - 1)}) END`);
}

export async function seedReads(pool: Db, cipher: TokenCipher, options: SeedOptions): Promise<ReadSeed> {
  // Temporary tables live in one session: everything after the services runs on one connection.
  return pool.connection().execute(async (db) => seedOn(pool, db as Db, cipher, options));
}

async function seedOn(pool: Db, db: Db, cipher: TokenCipher, options: SeedOptions): Promise<ReadSeed> {
  const say = options.progress ?? (() => undefined);
  const started = performance.now();
  const orgs: ReadSeed['orgs'] = [];
  for (let n = 0; n < options.orgs; n++) {
    const org = await createOrganization(pool, `Reads org ${n}`);
    const operator = await createOperator(pool, { orgId: org.id, email: `owner${n}@reads.bench`, role: 'owner' });
    const number = await connectPhoneNumber(pool, cipher, {
      orgId: org.id, wabaId: String(700000000000000 + n), phoneNumberId: String(600000000000000 + n),
      displayPhoneNumber: `1555020${String(n).padStart(4, '0')}`, accessToken: 'bench',
    });
    orgs.push({ orgId: org.id, apiKey: operator.apiKey, phoneNumberRef: number.id });
  }
  await sql`SET synchronous_commit = off`.execute(db);
  await sql`SET maintenance_work_mem = '256MB'`.execute(db);
  await sql`CREATE TEMP TABLE bench_orgs (n int PRIMARY KEY, org_id uuid NOT NULL, phone_ref uuid NOT NULL)`.execute(db);
  await sql`INSERT INTO bench_orgs SELECT * FROM unnest(${orgs.map((_, n) => n)}::int[], ${orgs.map((o) => o.orgId)}::uuid[], ${orgs.map((o) => o.phoneNumberRef)}::uuid[])`.execute(db);
  say(`seed: ${options.orgs} organizations with a number and an API key`);

  const { threads, messages } = options;
  const orgOf = orgOfThread('i', threads, options.orgs);
  await sql`
    CREATE TEMP TABLE bench_threads AS
    SELECT i, ${uuid('thread', 'i')} AS id, o.org_id, o.phone_ref FROM generate_series(0, ${threads - 1}::int) i JOIN bench_orgs o ON o.n = ${orgOf}`.execute(db);
  await sql`ALTER TABLE bench_threads ADD PRIMARY KEY (i)`.execute(db);
  // Temporary tables have no statistics until analysed: without them the message insert joined by nested loop.
  await sql`ANALYZE bench_orgs, bench_threads`.execute(db);
  await sql`INSERT INTO clients (id, org_id, name) SELECT ${uuid('client', 'i')}, org_id, 'Reads customer ' || i FROM bench_threads`.execute(db);
  await sql`
    INSERT INTO contacts (id, org_id, client_id, e164, wa_id, profile_name)
    SELECT ${uuid('contact', 'i')}, org_id, ${uuid('client', 'i')}, '+1415' || lpad(i::text, 7, '0'), '1415' || lpad(i::text, 7, '0'), 'Customer ' || i
    FROM bench_threads`.execute(db);
  await sql`
    INSERT INTO threads (id, org_id, phone_number_ref, contact_id, last_inbound_at, last_message_at)
    SELECT id, org_id, phone_ref, ${uuid('contact', 'i')}, now(), now() FROM bench_threads`.execute(db);
  say(`seed: ${threads} threads, contacts and clients (${((performance.now() - started) / 1000).toFixed(1)} s)`);

  // Bulk-load practice: secondary indexes are dropped and rebuilt afterwards, and foreign-key
  // triggers are off for this session (rows are consistent by construction: every message joins
  // its thread). Message ids grow with j (well-formed v4 uuids), so the primary key is appended to.
  const { rows: indexes } = await sql<{ name: string; definition: string }>`
    SELECT i.relname AS name, pg_get_indexdef(i.oid) AS definition
    FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
    WHERE x.indrelid = 'messages'::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.oid)`.execute(db);
  for (const index of indexes) await sql`DROP INDEX ${sql.id(index.name)}`.execute(db);
  await sql`SET session_replication_role = replica`.execute(db);
  const hotMessages = Math.floor(messages / 100);
  const chunk = options.chunk ?? 1_000_000;
  // History: message j at now − (messages − j) × 10 ms, so the newest is the last inserted.
  for (let from = 0; from < messages; from += chunk) {
    const to = Math.min(messages, from + chunk) - 1;
    await sql`
      INSERT INTO messages (id, org_id, thread_id, phone_number_ref, direction, type, content, provider_message_id, status, provider_timestamp, raw, created_at, status_updated_at)
      SELECT overlay(overlay(lpad(to_hex(j), 12, '0') || substr(md5(j::text), 1, 20) placing '4' from 13) placing '8' from 17)::uuid, t.org_id, t.id, t.phone_ref,
             CASE WHEN j % 2 = 0 THEN 'inbound' ELSE 'outbound' END, 'text', jsonb_build_object('body', 'message ' || j),
             'wamid.reads.' || j, CASE WHEN j % 2 = 0 THEN 'received' ELSE 'read' END, at,
             CASE WHEN j % 2 = 0 THEN jsonb_build_object('id', 'wamid.reads.' || j) END, at, at
      FROM (SELECT j, now() - (${messages}::int - j) * interval '10 milliseconds' AS at,
                   CASE WHEN j < ${hotMessages}::int THEN 0 ELSE j % ${threads}::int END AS i
            FROM generate_series(${from}::int, ${to}::int) j) g
      JOIN bench_threads t ON t.i = g.i`.execute(db);
    say(`seed: ${to + 1} / ${messages} messages (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  await sql`SET session_replication_role = origin`.execute(db);
  for (const index of indexes) {
    await sql.raw(index.definition).execute(db);
    say(`seed: rebuilt ${index.name} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  await sql`
    UPDATE threads t SET last_message_at = m.last_at, last_inbound_at = m.last_at
    FROM (SELECT org_id, thread_id, max(created_at) AS last_at FROM messages GROUP BY org_id, thread_id) m
    WHERE t.org_id = m.org_id AND t.id = m.thread_id`.execute(db);
  await sql`VACUUM ANALYZE`.execute(db);
  const seconds = (performance.now() - started) / 1000;
  say(`seed: done, last_message_at set, VACUUM ANALYZE (${seconds.toFixed(1)} s)`);
  return { orgs, threads, messages, seconds };
}
