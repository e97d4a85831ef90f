/**
 * SQL for WABAs and phone numbers — the single source of truth for a number's ids, credentials,
 * quality and throughput (SPEC §2.1).
 */
import { sql } from 'kysely';
import type { Db, Tx } from '../db/database.js';
import type { PhoneNumberRow, PhoneNumberStatus } from '../db/schema.js';

type Executor = Db | Tx;

/**
 * Creates the WABA for the organization, or updates its business id and name when it exists. The
 * owning organization never changes (SPEC §2.2): for a WABA of another organization nothing is
 * returned.
 */
export async function upsertWaba(
  tx: Tx,
  values: { orgId: string; wabaId: string; ownerBusinessId: string | null; name: string | null },
): Promise<{ id: string } | undefined> {
  return tx
    .insertInto('wabas')
    .values({ org_id: values.orgId, waba_id: values.wabaId, owner_business_id: values.ownerBusinessId, name: values.name })
    .onConflict((oc) =>
      oc.column('waba_id').doUpdateSet({
        owner_business_id: sql`coalesce(excluded.owner_business_id, wabas.owner_business_id)`,
        name: sql`coalesce(excluded.name, wabas.name)`,
        updated_at: sql`now()`,
      }).where('wabas.org_id', '=', values.orgId),
    )
    .returning('id')
    .executeTakeFirst();
}

export async function insertPhoneNumber(
  tx: Tx,
  values: {
    orgId: string;
    wabaRef: string;
    phoneNumberId: string;
    displayPhoneNumber: string;
    e164: string;
    verifiedName: string | null;
    throughputMps: number;
    accessTokenCiphertext: string;
    accessTokenKeyId: string;
  },
): Promise<{ id: string }> {
  return tx
    .insertInto('phone_numbers')
    .values({
      org_id: values.orgId,
      waba_ref: values.wabaRef,
      phone_number_id: values.phoneNumberId,
      display_phone_number: values.displayPhoneNumber,
      e164: values.e164,
      verified_name: values.verifiedName,
      throughput_mps: values.throughputMps,
      access_token_ciphertext: values.accessTokenCiphertext,
      access_token_key_id: values.accessTokenKeyId,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
}

/** Routing for inbound webhooks: the connected number with this phone_number_id and its WABA id. */
export async function findConnectedPhoneNumber(
  db: Executor,
  phoneNumberId: string,
): Promise<{ id: string; org_id: string; waba_id: string; status: PhoneNumberRow['status'] } | undefined> {
  return db
    .selectFrom('phone_numbers')
    .innerJoin('wabas', (join) => join.onRef('wabas.org_id', '=', 'phone_numbers.org_id').onRef('wabas.id', '=', 'phone_numbers.waba_ref'))
    .select(['phone_numbers.id', 'phone_numbers.org_id', 'wabas.waba_id', 'phone_numbers.status'])
    .where('phone_numbers.phone_number_id', '=', phoneNumberId)
    .where('phone_numbers.status', '<>', 'disconnected')
    .executeTakeFirst();
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
): Promise<{ id: string; status: PhoneNumberRow['status'] } | undefined> {
  return tx
    .updateTable('phone_numbers')
    .set({
      access_token_ciphertext: values.ciphertext,
      access_token_key_id: values.keyId,
      status: sql<PhoneNumberStatus>`CASE WHEN status = 'reauth_required' THEN 'active' ELSE status END`,
      updated_at: new Date(),
    })
    .where('org_id', '=', values.orgId)
    .where('phone_number_id', '=', values.phoneNumberId)
    .returning(['id', 'status'])
    .executeTakeFirst();
}
