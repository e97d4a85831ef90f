/**
 * Webhook dead letters (SPEC §2.5: nothing is dropped): what the inbound path cannot route or parse
 * is kept whole with the reason, owners and admins read their organization's (`GET /v1/dead-letters`),
 * and GDPR export and erasure take those that mention a client's numbers. Every caller goes through
 * here; the SQL is in `dead-letters.repository.ts`.
 */
import { createHash } from 'node:crypto';
import type { Executor, Tx } from '../db/database.js';
import { toJsonb } from '../db/json.js';
import * as repo from './dead-letters.repository.js';

/** A dead letter to keep: as stored, but with the payload as a value and no dedupe key yet. */
export type DeadLetterInput = Omit<repo.DeadLetterRow, 'payloadJson' | 'dedupeKey'> & {
  /** The offending JSON item, or null when only raw text exists. */
  payload: unknown;
};

/** Text columns refuse NUL; ids and details of a dead letter come from untrusted payloads. */
function storable(text: string | null): string | null {
  return text === null ? null : text.replaceAll('\u0000', '\uFFFD');
}

/**
 * Keeps a webhook item that cannot be processed, in the caller's transaction when given one; a
 * redelivered item (same provider, reason, WABA, number, field and content) is stored once. Any
 * input is storable: NUL in text becomes U+FFFD, and JSON that jsonb refuses is made storable.
 */
export async function recordDeadLetter(db: Executor, untrusted: DeadLetterInput): Promise<void> {
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
  await repo.insertDeadLetter(db, {
    orgId: input.orgId, provider: input.provider, reason: input.reason, detail: input.detail, wabaId: input.wabaId,
    phoneNumberId: input.phoneNumberId, field: input.field, payloadJson, rawBody: input.rawBody, dedupeKey, correlationId: input.correlationId,
  });
}

/**
 * An organization's newest dead letters, newest first, without payloads or raw bodies.
 * @param limit 1..200 (the route validates it)
 */
export async function listOrgDeadLetters(db: Executor, orgId: string, limit: number) {
  return repo.listOrgDeadLetters(db, orgId, limit);
}

/**
 * GDPR export: the dead letters of the organization, and the unrouted ones, whose payload or raw
 * body mentions one of a client's numbers.
 * @param digits E.164 numbers without "+" and wa_ids; none → none
 */
export async function listDeadLettersMentioning(db: Executor, orgId: string, digits: string[]) {
  return repo.listDeadLettersMentioning(db, orgId, digits);
}

/**
 * GDPR erasure, in the erasure's transaction: deletes what listDeadLettersMentioning lists.
 * @returns how many dead letters went
 */
export async function eraseDeadLettersMentioning(tx: Tx, orgId: string, digits: string[]): Promise<number> {
  return repo.deleteDeadLettersMentioning(tx, orgId, digits);
}
