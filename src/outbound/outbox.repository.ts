/**
 * SQL of the message outbox (graphile-worker style: one hot-path query per function, batched with
 * `unnest`). Rows are claimed under a lease (`FOR UPDATE SKIP LOCKED`, owner + token + expiry);
 * completing, retrying, failing, parking, refreshing and releasing are all fenced by the lease
 * token, so a worker whose lease expired and was re-claimed cannot overwrite the row.
 */
import { sql } from 'kysely';
import type { Db, Tx, Executor } from '../db/database.js';


export interface ClaimedOutboxRow {
  id: string;
  org_id: string;
  message_id: string;
  thread_id: string;
  phone_number_ref: string;
  attempts: number;
  lease_token: string;
  correlation_id: string | null;
  throughput_mps: number;
  /** When the message was queued (the outbox row's creation). */
  queued_at: Date;
  /** True when the row was taken over from a worker whose lease expired. */
  reclaimed: boolean;
}

/** Queues a message for delivery: its `pending` outbox row, in the transaction that inserts the message. */
export async function insertOutboxRow(
  tx: Tx,
  values: { orgId: string; messageId: string; threadId: string; phoneNumberRef: string; correlationId: string | null },
): Promise<void> {
  await tx
    .insertInto('message_outbox')
    .values({
      org_id: values.orgId,
      message_id: values.messageId,
      thread_id: values.threadId,
      phone_number_ref: values.phoneNumberRef,
      correlation_id: values.correlationId,
    })
    .execute();
}

export interface ClaimOptions {
  workerId: string;
  limit: number;
  leaseTtlMs: number;
  /** Claim a number's rows only if its next free send slot is within this horizon, ms. */
  horizonMs: number;
  /** Rows per number per claim, in seconds of its throughput (e.g. 2 → up to 2·mps rows). */
  secondsPerNumber: number;
}

/**
 * Claims up to `limit` due rows: pending rows whose time has come and leased rows whose lease
 * expired (their worker died). A row is claimable only when
 * - no earlier row of its thread is unfinished (one thread's messages go out in acceptance order),
 * - its number is `active` (a number awaiting re-authorisation keeps its rows),
 * - its number's governor has a free slot within `horizonMs`, and at most
 *   `throughput_mps · secondsPerNumber` rows of one number are taken, so a lease never covers
 *   sends far in the future.
 * The scan is bounded: due rows are read oldest-due first from the pending partial index
 * `(next_attempt_at, id)`, filtered by those conditions, and the scan stops after `4 · limit`
 * eligible rows, so a claim costs the same with 100 or 1,000,000 rows queued (the window that
 * caps rows per number then runs over those few rows only). Candidates are chosen without locks,
 * then locked with SKIP LOCKED, re-checking the due condition (a concurrent claimer may have taken
 * them). Claimed messages move to `sending`.
 */
export async function claimOutboxBatch(db: Db, options: ClaimOptions): Promise<ClaimedOutboxRow[]> {
  const horizon = sql`now() + ${options.horizonMs} * interval '1 millisecond'`;
  const result = await sql<ClaimedOutboxRow>`
    WITH ready AS (
      (SELECT o.id, o.phone_number_ref, n.throughput_mps
       FROM message_outbox o
       JOIN phone_numbers n ON n.id = o.phone_number_ref AND n.status = 'active'
       LEFT JOIN send_governors g ON g.phone_number_ref = o.phone_number_ref
       WHERE o.state = 'pending' AND o.next_attempt_at <= now()
         AND (g.phone_number_ref IS NULL OR greatest(g.tat, g.throttled_until) < ${horizon})
         AND NOT EXISTS (
           SELECT 1 FROM message_outbox earlier
           WHERE earlier.thread_id = o.thread_id AND earlier.state IN ('pending', 'leased', 'parked') AND earlier.id < o.id)
       ORDER BY o.next_attempt_at, o.id
       LIMIT ${options.limit * 4})
      UNION ALL
      (SELECT o.id, o.phone_number_ref, n.throughput_mps
       FROM message_outbox o
       JOIN phone_numbers n ON n.id = o.phone_number_ref AND n.status = 'active'
       LEFT JOIN send_governors g ON g.phone_number_ref = o.phone_number_ref
       WHERE o.state = 'leased' AND o.lease_expires_at < now()
         AND (g.phone_number_ref IS NULL OR greatest(g.tat, g.throttled_until) < ${horizon})
         AND NOT EXISTS (
           SELECT 1 FROM message_outbox earlier
           WHERE earlier.thread_id = o.thread_id AND earlier.state IN ('pending', 'leased', 'parked') AND earlier.id < o.id)
       ORDER BY o.lease_expires_at
       LIMIT ${options.limit})
    ), ranked AS (
      SELECT ready.*, row_number() OVER (PARTITION BY ready.phone_number_ref ORDER BY ready.id) AS number_rank FROM ready
    ), candidates AS (
      SELECT o.id, ranked.throughput_mps, o.state = 'leased' AS reclaimed FROM message_outbox o JOIN ranked ON ranked.id = o.id
      WHERE ranked.number_rank <= greatest(1, ranked.throughput_mps * ${options.secondsPerNumber})
        AND ((o.state = 'pending' AND o.next_attempt_at <= now()) OR (o.state = 'leased' AND o.lease_expires_at < now()))
      ORDER BY o.id
      LIMIT ${options.limit}
      FOR UPDATE OF o SKIP LOCKED
    ), claimed AS (
      UPDATE message_outbox o SET
        state = 'leased',
        lease_owner = ${options.workerId},
        lease_token = gen_random_uuid(),
        lease_expires_at = now() + ${options.leaseTtlMs} * interval '1 millisecond',
        attempts = o.attempts + 1
      FROM candidates WHERE o.id = candidates.id
      RETURNING o.id, o.org_id, o.message_id, o.thread_id, o.phone_number_ref, o.attempts, o.lease_token, o.correlation_id,
                o.created_at AS queued_at, candidates.throughput_mps, candidates.reclaimed
    ), sending AS (
      UPDATE messages m SET status = 'sending', status_updated_at = now()
      FROM claimed WHERE m.org_id = claimed.org_id AND m.id = claimed.message_id AND m.status = 'queued'
    )
    SELECT * FROM claimed ORDER BY id`.execute(db);
  return result.rows;
}

/** What the dispatcher needs to send one claimed message. */
export async function findDeliveryDetails(db: Db, orgId: string, messageIds: string[]) {
  return db
    .selectFrom('messages')
    .innerJoin('threads', (join) => join.onRef('threads.org_id', '=', 'messages.org_id').onRef('threads.id', '=', 'messages.thread_id'))
    .innerJoin('contacts', (join) => join.onRef('contacts.org_id', '=', 'threads.org_id').onRef('contacts.id', '=', 'threads.contact_id'))
    .innerJoin('phone_numbers', (join) =>
      join.onRef('phone_numbers.org_id', '=', 'messages.org_id').onRef('phone_numbers.id', '=', 'messages.phone_number_ref'),
    )
    .select([
      'messages.id',
      'messages.type',
      'messages.content',
      'contacts.e164',
      'contacts.bsuid',
      'threads.last_inbound_at',
      'phone_numbers.phone_number_id',
      'phone_numbers.provider',
      'phone_numbers.e164 as from_e164',
      'phone_numbers.twilio_account_sid',
      'phone_numbers.access_token_ciphertext',
      'phone_numbers.access_token_key_id',
    ])
    .where('messages.org_id', '=', orgId)
    .where('messages.id', 'in', messageIds)
    .execute();
}

export type DeliveryDetails = Awaited<ReturnType<typeof findDeliveryDetails>>[number];

/** Marks leased rows done. @returns the rows whose lease was still held (the others changed nothing) */
export async function completeOutboxRows(tx: Tx, rows: Array<{ id: string; leaseToken: string }>) {
  if (rows.length === 0) return [];
  const result = await sql<{ id: string; message_id: string; org_id: string; phone_number_ref: string }>`
    UPDATE message_outbox o SET state = 'done', completed_at = now(), lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
    FROM unnest(${rows.map((r) => r.id)}::bigint[], ${rows.map((r) => r.leaseToken)}::uuid[]) AS x(id, lease_token)
    WHERE o.id = x.id AND o.state = 'leased' AND o.lease_token = x.lease_token
    RETURNING o.id, o.message_id, o.org_id, o.phone_number_ref`.execute(tx);
  return result.rows;
}

/** Marks a leased row failed for good. @returns false when the lease was lost. */
export async function failOutboxRow(tx: Tx, id: string, leaseToken: string, lastError: unknown): Promise<boolean> {
  const result = await sql`
    UPDATE message_outbox SET state = 'failed', completed_at = now(), last_error = ${JSON.stringify(lastError)}::jsonb,
      lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
    WHERE id = ${id} AND state = 'leased' AND lease_token = ${leaseToken}::uuid`.execute(tx);
  return Number(result.numAffectedRows) === 1;
}

/**
 * Puts a leased row back to pending, due after `delayMs`.
 * @param countAttempt false when the failure was not the message's fault (throttling, shutdown)
 * @returns false when the lease was lost
 */
export async function retryOutboxRow(
  db: Executor,
  values: { id: string; leaseToken: string; delayMs: number; lastError: unknown; countAttempt: boolean },
): Promise<boolean> {
  const result = await sql`
    UPDATE message_outbox SET state = 'pending',
      next_attempt_at = now() + ${values.delayMs} * interval '1 millisecond',
      attempts = CASE WHEN ${values.countAttempt} THEN attempts ELSE greatest(attempts - 1, 0) END,
      last_error = coalesce(${values.lastError === null ? null : JSON.stringify(values.lastError)}::jsonb, last_error),
      lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
    WHERE id = ${values.id} AND state = 'leased' AND lease_token = ${values.leaseToken}::uuid`.execute(db);
  return Number(result.numAffectedRows) === 1;
}

/** Releases leased rows that were never sent (graceful shutdown): pending at once, attempt not counted. */
export async function releaseOutboxRows(db: Db, rows: Array<{ id: string; leaseToken: string }>): Promise<number> {
  if (rows.length === 0) return 0;
  const result = await sql`
    UPDATE message_outbox o SET state = 'pending', next_attempt_at = now(), attempts = greatest(o.attempts - 1, 0),
      lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
    FROM unnest(${rows.map((r) => r.id)}::bigint[], ${rows.map((r) => r.leaseToken)}::uuid[]) AS x(id, lease_token)
    WHERE o.id = x.id AND o.state = 'leased' AND o.lease_token = x.lease_token`.execute(db);
  return Number(result.numAffectedRows);
}

/**
 * Extends the leases of rows still held.
 * @returns the ids of the rows whose lease was still held (the dispatcher drops the others unsent)
 */
export async function refreshLeases(db: Db, rows: Array<{ id: string; leaseToken: string }>, leaseTtlMs: number): Promise<string[]> {
  if (rows.length === 0) return [];
  const result = await sql<{ id: string }>`
    UPDATE message_outbox o SET lease_expires_at = now() + ${leaseTtlMs} * interval '1 millisecond'
    FROM unnest(${rows.map((r) => r.id)}::bigint[], ${rows.map((r) => r.leaseToken)}::uuid[]) AS x(id, lease_token)
    WHERE o.id = x.id AND o.state = 'leased' AND o.lease_token = x.lease_token
    RETURNING o.id`.execute(db);
  return result.rows.map((row) => row.id);
}

/** Parks a leased row (its number needs re-authorisation). @returns false when the lease was lost. */
export async function parkOutboxRow(tx: Tx, id: string, leaseToken: string, lastError: unknown): Promise<boolean> {
  const result = await sql`
    UPDATE message_outbox SET state = 'parked', attempts = greatest(attempts - 1, 0), last_error = ${JSON.stringify(lastError)}::jsonb,
      lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
    WHERE id = ${id} AND state = 'leased' AND lease_token = ${leaseToken}::uuid`.execute(tx);
  return Number(result.numAffectedRows) === 1;
}

/** Parked rows of a number become pending again (after its token was replaced), and workers are woken. */
export async function resumeParkedRows(tx: Tx, orgId: string, phoneNumberRef: string): Promise<number> {
  const result = await sql`
    UPDATE message_outbox SET state = 'pending', next_attempt_at = now()
    WHERE org_id = ${orgId} AND phone_number_ref = ${phoneNumberRef} AND state = 'parked'`.execute(tx);
  await sql`SELECT pg_notify('wahub_outbox', '')`.execute(tx);
  return Number(result.numAffectedRows);
}

/**
 * Unfinished outbox rows (pending, leased, parked) per number of the organization, for the queue
 * depth of `GET /v1/phone-numbers` (partial index message_outbox_thread_unfinished_idx).
 * @returns phone_number_ref (the number's row id) → count; numbers with nothing queued are absent
 */
export async function countQueuedByNumber(db: Executor, orgId: string): Promise<Map<string, number>> {
  const result = await sql<{ phone_number_ref: string; n: string }>`
    SELECT phone_number_ref, count(*) AS n FROM message_outbox
    WHERE org_id = ${orgId} AND state IN ('pending', 'leased', 'parked') GROUP BY phone_number_ref`.execute(db);
  return new Map(result.rows.map((row) => [row.phone_number_ref, Number(row.n)]));
}
