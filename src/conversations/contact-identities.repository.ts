/**
 * SQL for a contact's identities (E.164 number, BSUID) when they change: the identity locks that
 * serialise every creation, link, merge and change of a customer's identities, the contacts an
 * identity names, and the identity history (`contact_identities`, migration 0009).
 */
import { sql } from 'kysely';
import type { Tx } from '../db/database.js';

/** The identity lock key of a number or a BSUID in an organization (`org:e:+14155550123`, `org:b:US.134…`). */
export function identityKeys(identity: { orgId: string; e164: string | null; bsuid: string | null }): string[] {
  return [
    ...(identity.e164 !== null ? [`${identity.orgId}:e:${identity.e164}`] : []),
    ...(identity.bsuid !== null ? [`${identity.orgId}:b:${identity.bsuid}`] : []),
  ];
}

/**
 * Takes the transaction-scoped advisory locks of identity keys, in sorted order (one global order,
 * so two batches wait instead of deadlocking). Whoever creates a contact, adds an identity to one,
 * merges two or changes an identity holds the locks of every identity it writes; after taking them,
 * a statement sees every contact the previous holder committed, so a customer is never created twice
 * and never split between two contacts. Hash collisions only make unrelated customers wait.
 */
export async function lockIdentityKeys(tx: Tx, keys: string[]): Promise<void> {
  const sorted = [...new Set(keys)].sort();
  if (sorted.length === 0) return;
  // unnest yields the array in order, and the aggregate consumes it in that order.
  await sql`/* prepared: lock_identity_keys */
    SELECT count(pg_advisory_xact_lock(hashtextextended(k, 0))) FROM unnest(${sorted}::text[]) AS k`.execute(tx);
}

/** A contact found by one of a customer's identities, locked; `ord` is the 1-based index of the identity asked for. */
export interface IdentifiedContact {
  ord: string;
  id: string;
  client_id: string;
  e164: string | null;
  bsuid: string | null;
  blocked: boolean;
  /** Found through an identity the contact used before (its history), not one it holds. */
  former: boolean;
}

/**
 * The contacts holding each customer's number or BSUID (at most two per customer: one per
 * identity), share-locked (`FOR KEY SHARE`, which waits for no batch's hot-path lock, so a batch
 * that already holds other contacts cannot deadlock here) in id order; for each customer the
 * oldest comes first. Call with the identities' locks held (lockIdentityKeys); lock the ones to
 * change with lockContactsForUpdate.
 */
export async function lockContactsByIdentity(
  tx: Tx, identities: Array<{ orgId: string; e164: string | null; bsuid: string | null }>,
): Promise<IdentifiedContact[]> {
  const result = await sql<IdentifiedContact>`/* prepared: lock_contacts_by_identity */
    WITH input AS (
      SELECT * FROM unnest(${identities.map((i) => i.orgId)}::uuid[], ${identities.map((i) => i.e164)}::text[], ${identities.map((i) => i.bsuid)}::text[])
             WITH ORDINALITY AS x(org_id, e164, bsuid, ord)
    ), current_hits AS (
      SELECT x.ord, c.id, false AS former FROM input x JOIN contacts c ON c.org_id = x.org_id AND c.e164 = x.e164
      UNION
      SELECT x.ord, c.id, false FROM input x JOIN contacts c ON c.org_id = x.org_id AND c.bsuid = x.bsuid
    ), hits AS (
      SELECT * FROM current_hits
      UNION ALL
      -- Only when no contact holds the identity now: a late or redelivered message from a number or
      -- BSUID the customer left behind belongs to the contact that had it.
      (SELECT DISTINCT ON (x.ord) x.ord, i.contact_id, true FROM input x
       JOIN contact_identities i ON i.org_id = x.org_id AND ((i.kind = 'e164' AND i.value = x.e164) OR (i.kind = 'bsuid' AND i.value = x.bsuid))
       WHERE NOT EXISTS (SELECT 1 FROM current_hits h WHERE h.ord = x.ord)
       ORDER BY x.ord, i.replaced_at DESC)
    ), locked AS (
      SELECT c.id, c.client_id, c.e164, c.bsuid, c.blocked_at IS NOT NULL AS blocked, c.created_at FROM contacts c
      WHERE c.id IN (SELECT id FROM hits)
      ORDER BY c.id
      FOR KEY SHARE
    )
    SELECT h.ord, l.id, l.client_id, l.e164, l.bsuid, l.blocked, h.former FROM hits h JOIN locked l ON l.id = h.id
    ORDER BY h.ord, l.created_at, l.id`.execute(tx);
  return result.rows;
}

/**
 * Locks contacts whose identities are about to change (link, merge) `FOR UPDATE`, in id order.
 * @returns the ids still there (an erasure may have deleted one)
 */
export async function lockContactsForUpdate(tx: Tx, orgId: string, ids: string[]): Promise<string[]> {
  const result = await sql<{ id: string }>`
    SELECT id FROM contacts WHERE org_id = ${orgId}::uuid AND id = ANY(${ids}::uuid[]) ORDER BY id FOR UPDATE`.execute(tx);
  return result.rows.map((row) => row.id);
}

/** Why a contact stopped using an identity (`contact_identities.reason`). */
export type IdentityChangeReason = 'user_changed_user_id' | 'user_changed_number' | 'merged';

/**
 * Gives a locked contact its number and BSUID (null leaves one as it is), keeping the ones it
 * replaces in its identity history.
 */
export async function setContactIdentity(
  tx: Tx, contact: { orgId: string; id: string; e164: string | null; bsuid: string | null }, reason: IdentityChangeReason,
): Promise<void> {
  await sql`
    WITH old AS (
      SELECT org_id, id, e164, bsuid FROM contacts WHERE org_id = ${contact.orgId}::uuid AND id = ${contact.id}::uuid
    ), history AS (
      INSERT INTO contact_identities (org_id, contact_id, kind, value, reason)
      SELECT org_id, id, 'e164', e164, ${reason} FROM old WHERE ${contact.e164}::text IS NOT NULL AND e164 IS NOT NULL AND e164 <> ${contact.e164}::text
      UNION ALL
      SELECT org_id, id, 'bsuid', bsuid, ${reason} FROM old WHERE ${contact.bsuid}::text IS NOT NULL AND bsuid IS NOT NULL AND bsuid <> ${contact.bsuid}::text
      ON CONFLICT DO NOTHING
    )
    UPDATE contacts c SET e164 = coalesce(${contact.e164}::text, c.e164), bsuid = coalesce(${contact.bsuid}::text, c.bsuid), updated_at = now()
    FROM old WHERE c.org_id = old.org_id AND c.id = old.id`.execute(tx);
}

/** Identities a contact used before, oldest first (GDPR export, support). */
export async function findIdentityHistory(tx: Tx, orgId: string, contactId: string) {
  const result = await sql<{ kind: 'e164' | 'bsuid'; value: string; reason: IdentityChangeReason; replaced_at: Date }>`
    SELECT kind, value, reason, replaced_at FROM contact_identities
    WHERE org_id = ${orgId}::uuid AND contact_id = ${contactId}::uuid ORDER BY replaced_at, kind, value`.execute(tx);
  return result.rows;
}
