/**
 * SQL of the message outbox: claim under a lease (`FOR UPDATE SKIP LOCKED`), and complete, retry
 * or fail — each fenced by the lease token, so a worker whose lease expired and was re-claimed by
 * another cannot overwrite the row.
 */
import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';

export interface ClaimedOutboxRow {
  id: string;
  org_id: string;
  message_id: string;
  thread_id: string;
  phone_number_ref: string;
  attempts: number;
  lease_token: string;
  correlation_id: string | null;
}

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

/**
 * Claims up to `limit` due rows: pending rows whose time has come and leased rows whose lease
 * expired (their worker died). A row is claimable only when no earlier row of its thread is
 * unfinished, so one thread's messages go out in the order they were accepted, and only while its
 * number is `active` (a number awaiting re-authorisation keeps its rows waiting). Claimed messages
 * move to `sending`.
 */
export async function claimOutboxBatch(db: Db, values: { workerId: string; limit: number; leaseTtlMs: number }): Promise<ClaimedOutboxRow[]> {
  const result = await sql<ClaimedOutboxRow>`
    WITH candidates AS (
      SELECT o.id FROM message_outbox o
      WHERE ((o.state = 'pending' AND o.next_attempt_at <= now()) OR (o.state = 'leased' AND o.lease_expires_at < now()))
        AND NOT EXISTS (
          SELECT 1 FROM message_outbox earlier
          WHERE earlier.thread_id = o.thread_id AND earlier.state IN ('pending', 'leased', 'parked') AND earlier.id < o.id)
        AND EXISTS (SELECT 1 FROM phone_numbers n WHERE n.id = o.phone_number_ref AND n.status = 'active')
      ORDER BY o.id
      LIMIT ${values.limit}
      FOR UPDATE OF o SKIP LOCKED
    ), claimed AS (
      UPDATE message_outbox o SET
        state = 'leased',
        lease_owner = ${values.workerId},
        lease_token = gen_random_uuid(),
        lease_expires_at = now() + ${values.leaseTtlMs} * interval '1 millisecond',
        attempts = o.attempts + 1
      FROM candidates WHERE o.id = candidates.id
      RETURNING o.id, o.org_id, o.message_id, o.thread_id, o.phone_number_ref, o.attempts, o.lease_token, o.correlation_id
    ), sending AS (
      UPDATE messages m SET status = 'sending', status_updated_at = now()
      FROM claimed WHERE m.org_id = claimed.org_id AND m.id = claimed.message_id AND m.status = 'queued'
    )
    SELECT * FROM claimed ORDER BY id`.execute(db);
  return result.rows;
}

/** What the dispatcher needs to send one claimed message. */
export async function findDeliveryDetails(db: Db, orgId: string, messageId: string) {
  return db
    .selectFrom('messages')
    .innerJoin('threads', (join) => join.onRef('threads.org_id', '=', 'messages.org_id').onRef('threads.id', '=', 'messages.thread_id'))
    .innerJoin('contacts', (join) => join.onRef('contacts.org_id', '=', 'threads.org_id').onRef('contacts.id', '=', 'threads.contact_id'))
    .innerJoin('phone_numbers', (join) =>
      join.onRef('phone_numbers.org_id', '=', 'messages.org_id').onRef('phone_numbers.id', '=', 'messages.phone_number_ref'),
    )
    .select([
      'messages.type',
      'messages.content',
      'contacts.e164',
      'phone_numbers.phone_number_id',
      'phone_numbers.access_token_ciphertext',
      'phone_numbers.access_token_key_id',
    ])
    .where('messages.org_id', '=', orgId)
    .where('messages.id', '=', messageId)
    .executeTakeFirst();
}

/** Marks a leased row done. @returns false when the lease was lost (nothing changed). */
export async function completeOutboxRow(tx: Tx, id: string, leaseToken: string): Promise<boolean> {
  const result = await sql`
    UPDATE message_outbox SET state = 'done', completed_at = now(), lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
    WHERE id = ${id} AND state = 'leased' AND lease_token = ${leaseToken}::uuid`.execute(tx);
  return Number(result.numAffectedRows) === 1;
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
 * @param countAttempt false when the failure was not the message's fault (e.g. expired token)
 * @returns false when the lease was lost
 */
export async function retryOutboxRow(
  db: Db | Tx,
  values: { id: string; leaseToken: string; delayMs: number; lastError: unknown; countAttempt: boolean },
): Promise<boolean> {
  const result = await sql`
    UPDATE message_outbox SET state = 'pending',
      next_attempt_at = now() + ${values.delayMs} * interval '1 millisecond',
      attempts = CASE WHEN ${values.countAttempt} THEN attempts ELSE greatest(attempts - 1, 0) END,
      last_error = ${JSON.stringify(values.lastError)}::jsonb,
      lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
    WHERE id = ${values.id} AND state = 'leased' AND lease_token = ${values.leaseToken}::uuid`.execute(db);
  return Number(result.numAffectedRows) === 1;
}

/** Marks a number as needing re-authorisation (Meta error 190); its rows wait until it is active again. */
export async function markPhoneNumberReauthRequired(db: Db | Tx, phoneNumberRef: string): Promise<void> {
  await db
    .updateTable('phone_numbers')
    .set({ status: 'reauth_required', updated_at: new Date() })
    .where('id', '=', phoneNumberRef)
    .where('status', '=', 'active')
    .execute();
}
