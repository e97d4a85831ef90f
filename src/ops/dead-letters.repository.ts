/**
 * All SQL of `webhook_dead_letters`: webhook items wahub could not route or parse, kept whole with
 * the reason (SPEC §2.5: nothing is dropped). Written by the inbound path, read by
 * `GET /v1/dead-letters`, exported and erased with a client (GDPR). A redelivered item is stored
 * once (`webhook_dead_letters_dedupe_key_key`).
 */
import { sql } from 'kysely';
import type { Executor, Tx } from '../db/database.js';

/** A dead letter as stored: text already made storable, payload already JSON text, dedupe key computed. */
export interface DeadLetterRow {
  /** The organization the item was routed to; null when it could not be routed (visible to hub operators only). */
  orgId: string | null;
  provider: 'meta' | 'twilio';
  /** A stable reason (`DeadLetterReason` in `../providers/types.ts`, or `invalid_json`). */
  reason: string;
  detail: string;
  wabaId: string | null;
  phoneNumberId: string | null;
  field: string | null;
  /** JSON text for the jsonb column, or null when only the raw body exists. */
  payloadJson: string | null;
  /** The raw body, for bodies that are not JSON. */
  rawBody: string | null;
  /** sha256 hex of where the item came from and what it says. */
  dedupeKey: string;
  correlationId: string | null;
}

/** Stores a dead letter; a redelivery (same dedupe key) is a no-op. */
export async function insertDeadLetter(db: Executor, row: DeadLetterRow): Promise<void> {
  await sql`
    INSERT INTO webhook_dead_letters (org_id, provider, reason, detail, waba_id, phone_number_id, field, payload, raw_body, dedupe_key, correlation_id)
    VALUES (${row.orgId}, ${row.provider}, ${row.reason}, ${row.detail}, ${row.wabaId}, ${row.phoneNumberId}, ${row.field},
            ${row.payloadJson}::jsonb, ${row.rawBody}, ${row.dedupeKey}, ${row.correlationId})
    ON CONFLICT (dedupe_key) DO NOTHING`.execute(db);
}

/** An organization's newest dead letters (index webhook_dead_letters_created_at_idx), without raw payloads. */
export async function listOrgDeadLetters(db: Executor, orgId: string, limit: number) {
  const result = await sql<{ id: string; provider: string; reason: string; detail: string; waba_id: string | null; phone_number_id: string | null; field: string | null; created_at: Date }>`
    SELECT id, provider, reason, detail, waba_id, phone_number_id, field, created_at FROM webhook_dead_letters
    WHERE org_id = ${orgId} ORDER BY created_at DESC, id DESC LIMIT ${limit}`.execute(db);
  return result.rows;
}

/** LIKE patterns that match any of the digit strings (E.164 without "+", wa_id) anywhere in a text. */
function patternsOf(digits: string[]): string[] {
  return digits.map((d) => `%${d}%`);
}

/**
 * Dead letters of the organization, or unrouted ones (no organization), whose payload or raw body
 * mentions one of the digit strings (a sequential scan: GDPR requests are rare).
 */
export async function listDeadLettersMentioning(db: Executor, orgId: string, digits: string[]) {
  if (digits.length === 0) return [];
  const patterns = patternsOf(digits);
  return db.selectFrom('webhook_dead_letters')
    .select(['id', 'reason', 'detail', 'field', 'payload', 'raw_body', 'created_at'])
    .where((eb) => eb.or([eb('org_id', '=', orgId), eb('org_id', 'is', null)]))
    // Parenthesised: Kysely does not wrap a raw condition, and a bare OR would take any
    // organization's raw body along.
    .where(sql<boolean>`(coalesce(payload::text, '') LIKE ANY(${patterns}::text[]) OR coalesce(raw_body, '') LIKE ANY(${patterns}::text[]))`)
    .execute();
}

/** Deletes what listDeadLettersMentioning lists. @returns how many rows went */
export async function deleteDeadLettersMentioning(tx: Tx, orgId: string, digits: string[]): Promise<number> {
  if (digits.length === 0) return 0;
  const patterns = patternsOf(digits);
  const result = await sql`
    DELETE FROM webhook_dead_letters WHERE (org_id = ${orgId} OR org_id IS NULL)
      AND (coalesce(payload::text, '') LIKE ANY(${patterns}::text[]) OR coalesce(raw_body, '') LIKE ANY(${patterns}::text[]))`.execute(tx);
  return Number(result.numAffectedRows ?? 0);
}
