/**
 * SQL for business phone numbers (`phone_numbers`): the single source of truth for a number's ids,
 * credentials, quality and throughput (SPEC §2.1). Connecting (Meta and Twilio), look-ups by id and
 * by phone_number_id, token replacement, status and quality changes, and the lists of numbers.
 * Inbound webhook routing has its own file (`inbound-routing.repository.ts`), key rotation too
 * (`token-rotation.repository.ts`).
 */
import { sql } from 'kysely';
import type { Tx, Executor } from '../db/database.js';
import type { PhoneNumberRow, PhoneNumberStatus } from '../db/schema.js';

/**
 * Connects a number: inserts it, or reconnects the organization's existing row (same id, so its
 * threads and history stay attached) with the new token, WABA and display number. A
 * `phone_number_id` connected in another organization makes
 * `phone_numbers_connected_phone_number_id_key` refuse it. `throughputMps` null keeps the stored
 * level (Meta may have upgraded it).
 */
export async function upsertPhoneNumber(
  tx: Tx,
  values: {
    orgId: string;
    wabaRef: string;
    phoneNumberId: string;
    displayPhoneNumber: string;
    e164: string;
    verifiedName: string | null;
    qualityRating: string | null;
    throughputMps: number | null;
    accessTokenCiphertext: string;
    accessTokenKeyId: string;
    registered: boolean;
    /** The token's expiry from debug_token; null: never, or unknown (a token connected by hand). */
    tokenExpiresAt: Date | null;
  },
): Promise<{ id: string; created: boolean }> {
  const result = await sql<{ id: string; created: boolean }>`
    INSERT INTO phone_numbers AS p (org_id, waba_ref, phone_number_id, display_phone_number, e164, verified_name, quality_rating,
                                    throughput_mps, access_token_ciphertext, access_token_key_id, registered_at, token_expires_at)
    VALUES (${values.orgId}, ${values.wabaRef}, ${values.phoneNumberId}, ${values.displayPhoneNumber}, ${values.e164}, ${values.verifiedName},
            ${values.qualityRating}, coalesce(${values.throughputMps}::integer, 80), ${values.accessTokenCiphertext}, ${values.accessTokenKeyId},
            CASE WHEN ${values.registered} THEN now() END, ${values.tokenExpiresAt})
    ON CONFLICT (org_id, phone_number_id) DO UPDATE SET
      waba_ref = excluded.waba_ref,
      display_phone_number = excluded.display_phone_number,
      e164 = excluded.e164,
      verified_name = coalesce(excluded.verified_name, p.verified_name),
      quality_rating = coalesce(excluded.quality_rating, p.quality_rating),
      throughput_mps = coalesce(${values.throughputMps}::integer, p.throughput_mps),
      access_token_ciphertext = excluded.access_token_ciphertext,
      access_token_key_id = excluded.access_token_key_id,
      token_expires_at = excluded.token_expires_at,
      registered_at = coalesce(excluded.registered_at, p.registered_at),
      status = 'active',
      updated_at = now()
    RETURNING p.id, (xmax = 0) AS created`.execute(tx);
  return result.rows[0]!;
}

/**
 * Connects a Twilio number (no WABA; `phone_number_id` = `whatsapp:<e164>`), or reconnects the
 * organization's row with new credentials. A sender connected in another organization makes
 * `phone_numbers_connected_phone_number_id_key` refuse it.
 */
export async function upsertTwilioPhoneNumber(
  tx: Tx,
  values: {
    orgId: string;
    e164: string;
    accountSid: string;
    throughputMps: number | null;
    authTokenCiphertext: string;
    authTokenKeyId: string;
  },
): Promise<{ id: string; created: boolean }> {
  const phoneNumberId = `whatsapp:${values.e164}`;
  const result = await sql<{ id: string; created: boolean }>`
    INSERT INTO phone_numbers AS p (org_id, waba_ref, provider, phone_number_id, display_phone_number, e164, twilio_account_sid,
                                    throughput_mps, access_token_ciphertext, access_token_key_id)
    VALUES (${values.orgId}, NULL, 'twilio', ${phoneNumberId}, ${values.e164.slice(1)}, ${values.e164}, ${values.accountSid},
            coalesce(${values.throughputMps}::integer, 80), ${values.authTokenCiphertext}, ${values.authTokenKeyId})
    ON CONFLICT (org_id, phone_number_id) DO UPDATE SET
      twilio_account_sid = excluded.twilio_account_sid,
      throughput_mps = coalesce(${values.throughputMps}::integer, p.throughput_mps),
      access_token_ciphertext = excluded.access_token_ciphertext,
      access_token_key_id = excluded.access_token_key_id,
      status = 'active',
      updated_at = now()
    RETURNING p.id, (xmax = 0) AS created`.execute(tx);
  return result.rows[0]!;
}

/** A number of the organization by Meta's phone_number_id (any status). */
export async function findPhoneNumberByPhoneNumberId(db: Executor, orgId: string, phoneNumberId: string): Promise<PhoneNumberRow | undefined> {
  return db
    .selectFrom('phone_numbers')
    .selectAll()
    .where('org_id', '=', orgId)
    .where('phone_number_id', '=', phoneNumberId)
    .executeTakeFirst();
}

/** A number of the organization by its row id (any status), or undefined (absent, or another organization's). */
export async function findPhoneNumberById(db: Executor, orgId: string, id: string): Promise<PhoneNumberRow | undefined> {
  return db.selectFrom('phone_numbers').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
}

/**
 * Applies a `phone_number_quality_update` webhook to the connected number of that WABA with that
 * display number (digits, as Meta sends it). @returns how many numbers changed (0 or 1)
 */
export async function updateMessagingLimitTier(
  db: Executor,
  values: { wabaId: string; displayPhoneNumber: string; messagingLimitTier: string },
): Promise<number> {
  const result = await db
    .updateTable('phone_numbers')
    .set({ messaging_limit_tier: values.messagingLimitTier, updated_at: new Date() })
    .where('status', '<>', 'disconnected')
    .where('display_phone_number', '=', values.displayPhoneNumber)
    .where('waba_ref', 'in', (qb) => qb.selectFrom('wabas').select('id').where('waba_id', '=', values.wabaId))
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/**
 * Replaces a number's access token (already encrypted) and makes a `reauth_required` number active
 * again, under the row's lock. @returns its id, status afterwards and status before; undefined when
 * the organization has no number with that phone_number_id
 */
export async function replacePhoneNumberToken(
  tx: Tx,
  values: { orgId: string; phoneNumberId: string; ciphertext: string; keyId: string },
): Promise<{ id: string; status: PhoneNumberRow['status']; previousStatus: PhoneNumberRow['status'] } | undefined> {
  const result = await sql<{ id: string; status: PhoneNumberStatus; previous_status: PhoneNumberStatus }>`
    UPDATE phone_numbers p SET
      access_token_ciphertext = ${values.ciphertext}, access_token_key_id = ${values.keyId},
      status = CASE WHEN p.status = 'reauth_required' THEN 'active' ELSE p.status END, updated_at = now()
    FROM (SELECT id, status FROM phone_numbers WHERE org_id = ${values.orgId} AND phone_number_id = ${values.phoneNumberId} FOR UPDATE) old
    WHERE p.id = old.id
    RETURNING p.id, p.status, old.status AS previous_status`.execute(tx);
  const row = result.rows[0];
  return row && { id: row.id, status: row.status, previousStatus: row.previous_status };
}

/**
 * Marks a number as needing re-authorisation (Meta error 190, Twilio 20003); its outbox rows wait,
 * parked, until a new token makes it active again.
 * @returns true when the number was active until now (the caller records the event once)
 */
export async function markPhoneNumberReauthRequired(db: Executor, phoneNumberRef: string): Promise<boolean> {
  const result = await db
    .updateTable('phone_numbers')
    .set({ status: 'reauth_required', updated_at: new Date() })
    .where('id', '=', phoneNumberRef)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The organization's numbers with their WABA (null for Twilio numbers), for the API (no credentials). */
export async function listPhoneNumbers(db: Executor, orgId: string) {
  return db
    .selectFrom('phone_numbers')
    .leftJoin('wabas', 'wabas.id', 'phone_numbers.waba_ref')
    .select([
      'phone_numbers.id', 'phone_numbers.phone_number_id', 'wabas.waba_id', 'phone_numbers.provider', 'phone_numbers.display_phone_number',
      'phone_numbers.e164', 'phone_numbers.verified_name', 'phone_numbers.quality_rating', 'phone_numbers.messaging_limit_tier',
      'phone_numbers.throughput_mps', 'phone_numbers.status', 'phone_numbers.registered_at', 'phone_numbers.token_expires_at', 'phone_numbers.created_at',
    ])
    .where('phone_numbers.org_id', '=', orgId)
    .orderBy('phone_numbers.created_at')
    // Numbers saved in one transaction share created_at; phone_number_id keeps their order stable.
    .orderBy('phone_numbers.phone_number_id')
    .limit(1000)
    .execute();
}

/** Every connected Meta number with its WABA id (sandbox start-up registers them in the simulator). */
export async function listConnectedMetaNumbers(db: Executor) {
  return db
    .selectFrom('phone_numbers')
    .innerJoin('wabas', (join) => join.onRef('wabas.org_id', '=', 'phone_numbers.org_id').onRef('wabas.id', '=', 'phone_numbers.waba_ref'))
    .select(['phone_numbers.phone_number_id', 'phone_numbers.display_phone_number', 'wabas.waba_id'])
    .where('phone_numbers.provider', '=', 'meta')
    .where('phone_numbers.status', '<>', 'disconnected')
    .execute();
}

/** Every connected Twilio number with its account and encrypted Auth Token (sandbox start-up registers them in the simulator). */
export async function listConnectedTwilioNumbers(db: Executor) {
  return db
    .selectFrom('phone_numbers')
    .select(['phone_number_id', 'twilio_account_sid', 'access_token_ciphertext', 'access_token_key_id'])
    .where('provider', '=', 'twilio')
    .where('status', '<>', 'disconnected')
    .execute();
}
