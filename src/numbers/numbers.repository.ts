/**
 * SQL for WABAs and phone numbers — the single source of truth for a number's ids, credentials,
 * quality and throughput (SPEC §2.1).
 */
import { sql } from 'kysely';
import type { Tx, Executor } from '../db/database.js';
import type { PhoneNumberRow, PhoneNumberStatus } from '../db/schema.js';


/**
 * Creates the organization's WABA row, or reconnects and updates it (business id, name) when the
 * organization had it before; the row and so the owner never change (SPEC §2.2). A WABA connected
 * in another organization makes the partial unique index `wabas_connected_waba_id_key` refuse it.
 */
export async function upsertWaba(
  tx: Tx,
  values: { orgId: string; wabaId: string; ownerBusinessId: string | null; name: string | null },
): Promise<{ id: string }> {
  return tx
    .insertInto('wabas')
    .values({ org_id: values.orgId, waba_id: values.wabaId, owner_business_id: values.ownerBusinessId, name: values.name })
    .onConflict((oc) =>
      oc.columns(['org_id', 'waba_id']).doUpdateSet({
        owner_business_id: sql`coalesce(excluded.owner_business_id, wabas.owner_business_id)`,
        name: sql`coalesce(excluded.name, wabas.name)`,
        disconnected_at: null,
        updated_at: sql`now()`,
      }),
    )
    .returning('id')
    .executeTakeFirstOrThrow();
}

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
  },
): Promise<{ id: string; created: boolean }> {
  const result = await sql<{ id: string; created: boolean }>`
    INSERT INTO phone_numbers AS p (org_id, waba_ref, phone_number_id, display_phone_number, e164, verified_name, quality_rating,
                                    throughput_mps, access_token_ciphertext, access_token_key_id, registered_at)
    VALUES (${values.orgId}, ${values.wabaRef}, ${values.phoneNumberId}, ${values.displayPhoneNumber}, ${values.e164}, ${values.verifiedName},
            ${values.qualityRating}, coalesce(${values.throughputMps}::integer, 80), ${values.accessTokenCiphertext}, ${values.accessTokenKeyId},
            CASE WHEN ${values.registered} THEN now() END)
    ON CONFLICT (org_id, phone_number_id) DO UPDATE SET
      waba_ref = excluded.waba_ref,
      display_phone_number = excluded.display_phone_number,
      e164 = excluded.e164,
      verified_name = coalesce(excluded.verified_name, p.verified_name),
      quality_rating = coalesce(excluded.quality_rating, p.quality_rating),
      throughput_mps = coalesce(${values.throughputMps}::integer, p.throughput_mps),
      access_token_ciphertext = excluded.access_token_ciphertext,
      access_token_key_id = excluded.access_token_key_id,
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

/**
 * The credentials of a connected Twilio number, by sender address (`routed: true`); or, when no
 * number has that address, of the most recently updated connected number of the account
 * (`routed: false`), so that a webhook for a sender that is not connected can still be verified
 * and kept as a dead letter.
 */
export async function findTwilioCredentials(db: Executor, values: { phoneNumberId: string; accountSid: string | null }) {
  const columns = ['id', 'org_id', 'phone_number_id', 'twilio_account_sid', 'access_token_ciphertext', 'access_token_key_id'] as const;
  const byAddress = await db
    .selectFrom('phone_numbers')
    .select(columns)
    .where('provider', '=', 'twilio')
    .where('phone_number_id', '=', values.phoneNumberId)
    .where('status', '<>', 'disconnected')
    .executeTakeFirst();
  if (byAddress) return { ...byAddress, routed: true };
  if (!values.accountSid) return undefined;
  const byAccount = await db
    .selectFrom('phone_numbers')
    .select(columns)
    .where('twilio_account_sid', '=', values.accountSid)
    .where('status', '<>', 'disconnected')
    .orderBy('updated_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return byAccount ? { ...byAccount, routed: false } : undefined;
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

/** A connected number as webhook routing sees it: its provider and WABA id (null for Twilio, which has no WABA). */
export interface ConnectedPhoneNumber {
  id: string;
  org_id: string;
  provider: PhoneNumberRow['provider'];
  waba_id: string | null;
  status: PhoneNumberStatus;
  phone_number_id: string;
}

/**
 * Routing for inbound webhooks: the connected numbers with these phone_number_ids (at most one
 * each: partial unique index), in one query for a whole inbound batch.
 */
export async function findConnectedPhoneNumbers(db: Executor, phoneNumberIds: string[]): Promise<ConnectedPhoneNumber[]> {
  if (phoneNumberIds.length === 0) return [];
  const result = await sql<ConnectedPhoneNumber>`/* prepared: inbound_find_numbers */
    SELECT p.id, p.org_id, p.provider, w.waba_id, p.status, p.phone_number_id
    FROM phone_numbers p LEFT JOIN wabas w ON w.org_id = p.org_id AND w.id = p.waba_ref
    WHERE p.phone_number_id = any(${phoneNumberIds}::text[]) AND p.status <> 'disconnected'`.execute(db);
  return result.rows;
}

/** The connected number with this phone_number_id, if any (findConnectedPhoneNumbers for one). */
export async function findConnectedPhoneNumber(db: Executor, phoneNumberId: string): Promise<ConnectedPhoneNumber | undefined> {
  return (await findConnectedPhoneNumbers(db, [phoneNumberId]))[0];
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

export async function findPhoneNumberById(db: Executor, orgId: string, id: string): Promise<PhoneNumberRow | undefined> {
  return db.selectFrom('phone_numbers').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
}

/** Applies a `phone_number_quality_update` webhook to the number of that WABA with that display number. */
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

export async function grantWabaAccess(tx: Tx, values: { orgId: string; operatorId: string; wabaRef: string }): Promise<void> {
  await tx
    .insertInto('waba_access')
    .values({ org_id: values.orgId, operator_id: values.operatorId, waba_ref: values.wabaRef })
    .onConflict((oc) => oc.columns(['org_id', 'operator_id', 'waba_ref']).doNothing())
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

/** Replaces a number's access token (already encrypted) and makes a `reauth_required` number active again. */
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

/** The organization's numbers with their WABA (null for Twilio numbers), for the API (no credentials). */
export async function listPhoneNumbers(db: Executor, orgId: string) {
  return db
    .selectFrom('phone_numbers')
    .leftJoin('wabas', 'wabas.id', 'phone_numbers.waba_ref')
    .select([
      'phone_numbers.id', 'phone_numbers.phone_number_id', 'wabas.waba_id', 'phone_numbers.provider', 'phone_numbers.display_phone_number',
      'phone_numbers.e164', 'phone_numbers.verified_name', 'phone_numbers.quality_rating', 'phone_numbers.messaging_limit_tier',
      'phone_numbers.throughput_mps', 'phone_numbers.status', 'phone_numbers.registered_at', 'phone_numbers.created_at',
    ])
    .where('phone_numbers.org_id', '=', orgId)
    .orderBy('phone_numbers.created_at')
    // Numbers saved in one transaction share created_at; phone_number_id keeps their order stable.
    .orderBy('phone_numbers.phone_number_id')
    .limit(1000)
    .execute();
}

/** The organization currently holding a WABA connected, if any. */
export async function findConnectedWaba(db: Executor, wabaId: string) {
  return db.selectFrom('wabas').select(['id', 'org_id']).where('waba_id', '=', wabaId).where('disconnected_at', 'is', null).executeTakeFirst();
}

/**
 * Disconnects a WABA and its numbers and wipes their tokens (PARTNER_REMOVED, app uninstalled,
 * or a move to another organization). History (threads, messages) stays with the organization.
 * @returns the disconnected numbers' phone_number_ids
 */
export async function disconnectWaba(tx: Tx, wabaRef: string): Promise<string[]> {
  await tx.updateTable('wabas').set({ disconnected_at: sql`now()`, updated_at: sql`now()` }).where('id', '=', wabaRef).execute();
  const numbers = await tx
    .updateTable('phone_numbers')
    .set({ status: 'disconnected', access_token_ciphertext: null, access_token_key_id: null, updated_at: new Date() })
    .where('waba_ref', '=', wabaRef)
    .where('status', '<>', 'disconnected')
    .returning('phone_number_id')
    .execute();
  return numbers.map((n) => n.phone_number_id);
}

/** Next batch of stored tokens not encrypted with `keyId`, after `afterId` (keyset, for rotation). */
export async function listTokensToRotate(db: Executor, keyId: string, afterId: string | null, limit: number) {
  let query = db
    .selectFrom('phone_numbers')
    .select(['id', 'phone_number_id', 'access_token_ciphertext', 'access_token_key_id'])
    .where('access_token_ciphertext', 'is not', null)
    .where('access_token_key_id', '<>', keyId)
    .orderBy('id')
    .limit(limit);
  if (afterId) query = query.where('id', '>', afterId);
  return query.execute();
}

export async function countTokensToRotate(db: Executor, keyId: string): Promise<number> {
  const row = await db
    .selectFrom('phone_numbers')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('access_token_ciphertext', 'is not', null)
    .where('access_token_key_id', '<>', keyId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Stores a re-encrypted token unless the row changed meanwhile (same old ciphertext required). */
export async function replaceTokenCiphertext(db: Executor, values: { id: string; oldCiphertext: string; ciphertext: string; keyId: string }): Promise<boolean> {
  const result = await db
    .updateTable('phone_numbers')
    .set({ access_token_ciphertext: values.ciphertext, access_token_key_id: values.keyId })
    .where('id', '=', values.id)
    .where('access_token_ciphertext', '=', values.oldCiphertext)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** The connected numbers of a WABA row (what moves with it). */
export async function listWabaNumbers(db: Executor, wabaRef: string) {
  return db
    .selectFrom('phone_numbers')
    .select(['id', 'phone_number_id', 'display_phone_number', 'verified_name', 'quality_rating', 'throughput_mps'])
    .where('waba_ref', '=', wabaRef)
    .where('status', '<>', 'disconnected')
    .orderBy('phone_number_id')
    .execute();
}

/**
 * Releases a WABA that another organization holds only as a link (from a PARTNER_ADDED webhook,
 * no connected number, no token): a completed Embedded Signup, which proves the customer chose
 * this organization, takes precedence over the "most recent state" guess.
 * @returns true when a link was released
 */
export async function releaseTokenlessWabaLink(tx: Tx, wabaId: string, orgId: string): Promise<boolean> {
  const result = await sql`
    UPDATE wabas w SET disconnected_at = now(), updated_at = now()
    WHERE w.waba_id = ${wabaId} AND w.org_id <> ${orgId} AND w.disconnected_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM phone_numbers p WHERE p.waba_ref = w.id AND p.status <> 'disconnected')`.execute(tx);
  return Number(result.numAffectedRows) > 0;
}

/** Unfinished outbox rows (pending, leased, parked) per number of the organization (partial index message_outbox_thread_unfinished_idx). */
export async function countQueuedByNumber(db: Executor, orgId: string): Promise<Map<string, number>> {
  const result = await sql<{ phone_number_ref: string; n: string }>`
    SELECT phone_number_ref, count(*) AS n FROM message_outbox
    WHERE org_id = ${orgId} AND state IN ('pending', 'leased', 'parked') GROUP BY phone_number_ref`.execute(db);
  return new Map(result.rows.map((row) => [row.phone_number_ref, Number(row.n)]));
}
