/**
 * SQL for WABAs (`wabas`) and operators' access to them (`waba_access`): a WABA belongs to one
 * organization at a time, and the row, so its owner, never changes on reconnection (SPEC §2.2).
 */
import { sql } from 'kysely';
import type { Tx, Executor } from '../db/database.js';

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

/** Grants an operator access to a WABA row of the organization; granting twice is a no-op (unique per operator × WABA). */
export async function grantWabaAccess(tx: Tx, values: { orgId: string; operatorId: string; wabaRef: string }): Promise<void> {
  await tx
    .insertInto('waba_access')
    .values({ org_id: values.orgId, operator_id: values.operatorId, waba_ref: values.wabaRef })
    .onConflict((oc) => oc.columns(['org_id', 'operator_id', 'waba_ref']).doNothing())
    .execute();
}

/** The organization currently holding a WABA connected, if any. */
export async function findConnectedWaba(db: Executor, wabaId: string) {
  return db.selectFrom('wabas').select(['id', 'org_id']).where('waba_id', '=', wabaId).where('disconnected_at', 'is', null).executeTakeFirst();
}

/**
 * Locks the connected row of a WABA (`FOR UPDATE`) and returns it with its organization. A
 * concurrent writer that disconnected it meanwhile makes PostgreSQL re-check the row after the
 * wait, so a second mover finds nothing instead of the row it was about to take from.
 */
export async function lockConnectedWaba(tx: Tx, wabaId: string): Promise<{ id: string; org_id: string } | undefined> {
  return tx.selectFrom('wabas').select(['id', 'org_id']).where('waba_id', '=', wabaId).where('disconnected_at', 'is', null).forUpdate().executeTakeFirst();
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
