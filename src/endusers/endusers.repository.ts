/**
 * SQL of end users: contacts' verification, terms, registration and blocking, and OTP challenges.
 */
import { sql } from 'kysely';
import type { Tx, Executor } from '../db/database.js';


const contactColumns = [
  'id', 'client_id', 'e164', 'wa_id', 'bsuid', 'parent_bsuid', 'username', 'profile_name', 'verified_at', 'terms_version', 'terms_accepted_at', 'registered_at',
  'blocked_at', 'blocked_reason', 'last_active_at', 'created_at',
] as const;

export async function findContact(db: Executor, orgId: string, contactId: string) {
  return db.selectFrom('contacts').select(contactColumns).where('org_id', '=', orgId).where('id', '=', contactId).executeTakeFirst();
}

/** The contact, locked FOR UPDATE: OTP requests, verification and terms of one contact serialise on it. */
export async function lockContact(tx: Tx, orgId: string, contactId: string) {
  return tx.selectFrom('contacts').select(contactColumns).where('org_id', '=', orgId).where('id', '=', contactId).forUpdate().executeTakeFirst();
}

/** The organization's OTP template, null columns meaning "use the configured default". */
export async function findOrganizationOtpTemplate(db: Executor, orgId: string) {
  return db.selectFrom('organizations').select(['otp_template_name', 'otp_template_language']).where('id', '=', orgId).executeTakeFirst();
}

/** The contact's most recently active thread (the number an OTP goes out from by default). */
export async function findLatestThreadOfContact(db: Executor, orgId: string, contactId: string) {
  return db
    .selectFrom('threads')
    .select(['id', 'phone_number_ref'])
    .where('org_id', '=', orgId)
    .where('contact_id', '=', contactId)
    .orderBy('last_message_at', 'desc')
    .limit(1)
    .executeTakeFirst();
}

/** Codes issued to a contact since `since` (the rate limit's window). */
export async function countChallengesSince(tx: Tx, orgId: string, contactId: string, since: Date): Promise<number> {
  const row = await tx
    .selectFrom('otp_challenges')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('org_id', '=', orgId)
    .where('contact_id', '=', contactId)
    .where('created_at', '>', since)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function insertChallenge(
  tx: Tx,
  values: { id: string; orgId: string; contactId: string; codeHash: string; messageId: string; ttlMs: number },
): Promise<{ expires_at: Date }> {
  const result = await sql<{ expires_at: Date }>`
    INSERT INTO otp_challenges (id, org_id, contact_id, code_hash, message_id, expires_at)
    VALUES (${values.id}, ${values.orgId}, ${values.contactId}, ${values.codeHash}, ${values.messageId},
            now() + ${values.ttlMs} * interval '1 millisecond')
    RETURNING expires_at`.execute(tx);
  return result.rows[0]!;
}

export interface ChallengeAttempt {
  id: string;
  code_hash: string;
  attempts: number;
  expired: boolean;
  consumed: boolean;
  /** False when the attempt was not counted (already used up, expired or consumed). */
  counted: boolean;
}

/**
 * Counts one attempt against the contact's newest challenge, atomically: the UPDATE only applies
 * while the challenge is live and below `maxAttempts`, and its row lock serialises concurrent
 * attempts, so 20 parallel wrong codes still make at most `maxAttempts` attempts.
 * @returns the newest challenge and whether this attempt was counted; undefined when none exists
 */
export async function countAttempt(tx: Tx, orgId: string, contactId: string, maxAttempts: number): Promise<ChallengeAttempt | undefined> {
  const result = await sql<ChallengeAttempt>`
    WITH newest AS (
      SELECT id FROM otp_challenges WHERE org_id = ${orgId} AND contact_id = ${contactId}
      ORDER BY created_at DESC, id DESC LIMIT 1
    ), counted AS (
      UPDATE otp_challenges c SET attempts = c.attempts + 1
      FROM newest
      WHERE c.id = newest.id AND c.consumed_at IS NULL AND c.expires_at > now() AND c.attempts < ${maxAttempts}
      RETURNING c.id
    )
    SELECT c.id, c.code_hash, c.attempts + CASE WHEN counted.id IS NULL THEN 0 ELSE 1 END AS attempts,
           c.expires_at <= now() AS expired, c.consumed_at IS NOT NULL AS consumed, counted.id IS NOT NULL AS counted
    FROM otp_challenges c JOIN newest ON newest.id = c.id LEFT JOIN counted ON counted.id = c.id`.execute(tx);
  return result.rows[0];
}

/** Marks a challenge used. @returns false when it already was (single use under concurrency) */
export async function consumeChallenge(tx: Tx, id: string): Promise<boolean> {
  const result = await sql`UPDATE otp_challenges SET consumed_at = now() WHERE id = ${id} AND consumed_at IS NULL`.execute(tx);
  return Number(result.numAffectedRows) === 1;
}

/** Sets verified_at (first verification only) and registered_at when terms are accepted too. */
export async function markVerified(tx: Tx, orgId: string, contactId: string) {
  return tx
    .updateTable('contacts')
    .set({ verified_at: sql`coalesce(verified_at, now())`, updated_at: new Date() })
    .where('org_id', '=', orgId)
    .where('id', '=', contactId)
    .returning(contactColumns)
    .executeTakeFirstOrThrow();
}

export async function acceptTerms(tx: Tx, orgId: string, contactId: string, version: string) {
  return tx
    .updateTable('contacts')
    .set({ terms_version: version, terms_accepted_at: new Date(), updated_at: new Date() })
    .where('org_id', '=', orgId)
    .where('id', '=', contactId)
    .returning(contactColumns)
    .executeTakeFirstOrThrow();
}

/** Sets registered_at once verification and terms are both done. @returns registered_at when it was set now */
export async function markRegisteredIfComplete(tx: Tx, orgId: string, contactId: string): Promise<Date | undefined> {
  const result = await sql<{ registered_at: Date }>`
    UPDATE contacts SET registered_at = now(), updated_at = now()
    WHERE org_id = ${orgId} AND id = ${contactId} AND registered_at IS NULL
      AND verified_at IS NOT NULL AND terms_accepted_at IS NOT NULL
    RETURNING registered_at`.execute(tx);
  return result.rows[0]?.registered_at;
}

/** Blocks a contact. @returns the contact when it was not blocked before, undefined otherwise */
export async function blockContact(tx: Tx, orgId: string, contactId: string, reason: string | null) {
  return tx
    .updateTable('contacts')
    .set({ blocked_at: new Date(), blocked_reason: reason, updated_at: new Date() })
    .where('org_id', '=', orgId)
    .where('id', '=', contactId)
    .where('blocked_at', 'is', null)
    .returning(contactColumns)
    .executeTakeFirst();
}

/** Unblocks a contact. @returns the contact when it was blocked, undefined otherwise */
export async function unblockContact(tx: Tx, orgId: string, contactId: string) {
  return tx
    .updateTable('contacts')
    .set({ blocked_at: null, blocked_reason: null, updated_at: new Date() })
    .where('org_id', '=', orgId)
    .where('id', '=', contactId)
    .where('blocked_at', 'is not', null)
    .returning(contactColumns)
    .executeTakeFirst();
}

/**
 * Replaces the OTP parameters of delivered (or failed) authentication messages whose challenge is
 * over (consumed or expired) with `"••••••"`: the code is needed in the message only until it is
 * sent. @returns messages redacted
 */
export async function redactSpentOtpMessages(db: Executor, limit: number): Promise<number> {
  const result = await sql`
    UPDATE messages m SET content = jsonb_set(
        m.content, '{components}',
        (SELECT jsonb_agg(CASE WHEN comp ? 'parameters'
                               THEN jsonb_set(comp, '{parameters}', '[{"type":"text","text":"••••••"}]'::jsonb) ELSE comp END)
         FROM jsonb_array_elements(m.content -> 'components') comp))
    FROM (
      SELECT c.org_id, c.message_id FROM otp_challenges c
      JOIN messages msg ON msg.org_id = c.org_id AND msg.id = c.message_id
      WHERE (c.consumed_at IS NOT NULL OR c.expires_at < now())
        AND msg.status NOT IN ('queued', 'sending')
        AND msg.content -> 'components' -> 0 -> 'parameters' -> 0 ->> 'text' <> '••••••'
      LIMIT ${limit}
    ) spent
    WHERE m.org_id = spent.org_id AND m.id = spent.message_id`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Deletes up to `limit` challenges that ended (expired or consumed) before `before`. @returns rows deleted */
export async function deleteEndedChallenges(db: Executor, before: Date, limit: number): Promise<number> {
  const result = await sql`
    DELETE FROM otp_challenges WHERE id IN (
      SELECT id FROM otp_challenges WHERE expires_at < ${before} LIMIT ${limit})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Sets (or, with nulls, clears) an organization's OTP template. @returns false when the organization does not exist */
export async function updateOrganizationOtpTemplate(db: Executor, orgId: string, name: string | null, language: string | null): Promise<boolean> {
  const result = await db.updateTable('organizations').set({ otp_template_name: name, otp_template_language: language }).where('id', '=', orgId).executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Fails the outbox rows of OTP messages whose code expired before they were sent (waiting, or
 * parked behind a number that needs re-authorisation): a code must never arrive after it expired.
 * Rows a worker holds (leased) are left alone; SKIP LOCKED keeps clear of a concurrent claim.
 * @returns the messages whose rows were failed
 */
export async function failExpiredOtpSends(tx: Tx, limit: number): Promise<Array<{ org_id: string; message_id: string }>> {
  const result = await sql<{ org_id: string; message_id: string }>`
    WITH expired AS (
      SELECT o.id FROM otp_challenges c
      JOIN message_outbox o ON o.org_id = c.org_id AND o.message_id = c.message_id
      WHERE c.expires_at < now() AND o.state IN ('pending', 'parked')
      LIMIT ${limit}
      FOR UPDATE OF o SKIP LOCKED
    )
    UPDATE message_outbox o SET state = 'failed', completed_at = now(),
      last_error = '{"class":"otp_expired","title":"the one-time passcode expired before it was sent"}'::jsonb
    FROM expired WHERE o.id = expired.id AND o.state IN ('pending', 'parked')
    RETURNING o.org_id, o.message_id`.execute(tx);
  return result.rows;
}
