/**
 * SQL for `webhook_dead_letters`: webhook items wahub could not route or parse, kept whole with the
 * reason (SPEC §2.5: nothing is dropped). A redelivered item is stored once (dedupe_key).
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import { toJsonb } from '../db/json.js';

export interface DeadLetterInput {
  orgId: string | null;
  provider: 'meta' | 'twilio';
  reason: string;
  detail: string;
  wabaId: string | null;
  phoneNumberId: string | null;
  field: string | null;
  /** The offending JSON item, or null when only raw text exists. */
  payload: unknown;
  /** The raw body, for bodies that are not JSON. */
  rawBody: string | null;
  correlationId: string | null;
}

/** Text columns refuse NUL; ids and details of a dead letter come from untrusted payloads. */
function storable(text: string | null): string | null {
  return text === null ? null : text.replaceAll('\u0000', '\uFFFD');
}

export async function insertDeadLetter(db: Db | Tx, untrusted: DeadLetterInput): Promise<void> {
  const input = {
    ...untrusted, detail: storable(untrusted.detail)!, wabaId: storable(untrusted.wabaId), phoneNumberId: storable(untrusted.phoneNumberId),
    field: storable(untrusted.field), rawBody: storable(untrusted.rawBody),
  };
  // toJsonb: jsonb refuses NUL, even in a key, and a dead letter must always be storable. JSON null
  // is a payload too (a signed body `null`, an element `messages: [null]`): stored as jsonb null
  // unless raw text stands in for it (without this, such a webhook failed with 500 on every retry).
  const payloadJson = (input.payload === null || input.payload === undefined) && input.rawBody !== null ? null : toJsonb(input.payload);
  // The key names where the item came from (WABA, number, field) as well as what it says: a field
  // event's value alone (e.g. account_update {"event":"MM_LITE_TERMS_SIGNED"}) is the same for
  // every WABA, and keyed on the value only, the second WABA's event was dropped as a "duplicate".
  const dedupeKey = createHash('sha256')
    .update([input.provider, input.reason, input.wabaId ?? '', input.phoneNumberId ?? '', input.field ?? '', payloadJson ?? input.rawBody ?? ''].join('\n'))
    .digest('hex');
  await sql`
    INSERT INTO webhook_dead_letters (org_id, provider, reason, detail, waba_id, phone_number_id, field, payload, raw_body, dedupe_key, correlation_id)
    VALUES (${input.orgId}, ${input.provider}, ${input.reason}, ${input.detail}, ${input.wabaId}, ${input.phoneNumberId}, ${input.field},
            ${payloadJson}::jsonb, ${input.rawBody}, ${dedupeKey}, ${input.correlationId})
    ON CONFLICT (dedupe_key) DO NOTHING`.execute(db);
}

/** Newest dead letters first, keyset on (created_at, id). */
export async function listDeadLetters(db: Db, limit: number) {
  return db
    .selectFrom('webhook_dead_letters')
    .select(['id', 'org_id', 'provider', 'reason', 'detail', 'waba_id', 'phone_number_id', 'field', 'created_at'])
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(limit)
    .execute();
}
