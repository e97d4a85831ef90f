/**
 * SQL of a contact merge: two contacts of one organization turned out to be one customer (a webhook
 * carried the number of one and the BSUID of the other). Everything of the absorbed contact moves
 * to the surviving one, then the absorbed contact is deleted; the caller holds both identities'
 * locks and both contacts' row locks, in one transaction (resolve-contacts.ts).
 */
import { sql } from 'kysely';
import type { Tx } from '../db/database.js';

/** What a merge moved, for the `contact.merged` event. */
export interface MergeOutcome {
  /** Threads of the absorbed contact with a business number the survivor also had: their messages moved, the thread deleted. */
  mergedThreadIds: string[];
  /** Threads of the absorbed contact with other business numbers, now the survivor's. */
  movedThreadIds: string[];
  /** The absorbed contact's client, deleted when no other contact used it (null when kept or shared). */
  deletedClientId: string | null;
}

/** Moves threads: into the survivor's thread of the same business number (messages and outbox rows kept), or whole. */
async function mergeThreads(tx: Tx, orgId: string, survivorId: string, absorbedId: string): Promise<Pick<MergeOutcome, 'mergedThreadIds' | 'movedThreadIds'>> {
  const pairs = await sql<{ from_id: string; to_id: string }>`
    SELECT lt.id AS from_id, st.id AS to_id
    FROM threads lt JOIN threads st ON st.org_id = lt.org_id AND st.phone_number_ref = lt.phone_number_ref AND st.contact_id = ${survivorId}::uuid
    WHERE lt.org_id = ${orgId}::uuid AND lt.contact_id = ${absorbedId}::uuid
    ORDER BY st.id
    FOR UPDATE OF lt, st`.execute(tx);
  if (pairs.rows.length > 0) {
    const from = pairs.rows.map((p) => p.from_id);
    const to = pairs.rows.map((p) => p.to_id);
    // Messages keep their created_at, so the merged thread reads in time order.
    await sql`
      WITH pair AS (SELECT * FROM unnest(${from}::uuid[], ${to}::uuid[]) AS p(from_id, to_id)),
      moved_messages AS (
        UPDATE messages m SET thread_id = pair.to_id FROM pair WHERE m.org_id = ${orgId}::uuid AND m.thread_id = pair.from_id
      ), moved_outbox AS (
        UPDATE message_outbox o SET thread_id = pair.to_id FROM pair WHERE o.org_id = ${orgId}::uuid AND o.thread_id = pair.from_id
      ), cowriters AS (
        INSERT INTO thread_collaborators (org_id, thread_id, operator_id, role, added_at)
        SELECT c.org_id, pair.to_id, c.operator_id, c.role, c.added_at FROM thread_collaborators c JOIN pair ON c.thread_id = pair.from_id
        WHERE c.org_id = ${orgId}::uuid
        ON CONFLICT DO NOTHING
      )
      UPDATE threads st SET
        last_inbound_at = greatest(st.last_inbound_at, lt.last_inbound_at),
        last_message_at = greatest(st.last_message_at, lt.last_message_at),
        owner_operator_id = coalesce(st.owner_operator_id, lt.owner_operator_id),
        status = CASE WHEN 'open' IN (st.status, lt.status) THEN 'open' ELSE 'closed' END
      FROM pair JOIN threads lt ON lt.org_id = ${orgId}::uuid AND lt.id = pair.from_id
      WHERE st.org_id = ${orgId}::uuid AND st.id = pair.to_id`.execute(tx);
    // Their read marks and co-writers cascade (the co-writers were copied above).
    await sql`DELETE FROM threads WHERE org_id = ${orgId}::uuid AND id = ANY(${from}::uuid[])`.execute(tx);
  }
  const moved = await sql<{ id: string }>`
    UPDATE threads SET contact_id = ${survivorId}::uuid WHERE org_id = ${orgId}::uuid AND contact_id = ${absorbedId}::uuid RETURNING id`.execute(tx);
  return { mergedThreadIds: pairs.rows.map((p) => p.from_id), movedThreadIds: moved.rows.map((r) => r.id) };
}

/**
 * Merges the absorbed contact into the survivor: threads (mergeThreads), OTP challenges, the
 * customer's state (verification, terms, block, registration, names: the survivor's where it has
 * one, else the absorbed contact's), the absorbed contact's identities into the survivor's history,
 * its client's attributes and custom preferences into the survivor's client (the survivor's win),
 * then deletes the absorbed contact and, when no other contact uses it, its client. The survivor keeps its own
 * identities: the caller sets the absorbed ones afterwards (setContactIdentity).
 */
export async function mergeContactRows(tx: Tx, orgId: string, survivorId: string, absorbedId: string): Promise<MergeOutcome> {
  const threads = await mergeThreads(tx, orgId, survivorId, absorbedId);
  const result = await sql<{ client_id: string; survivor_client_id: string; shared: boolean }>`
    WITH absorbed AS (
      SELECT * FROM contacts WHERE org_id = ${orgId}::uuid AND id = ${absorbedId}::uuid
    ), otp AS (
      UPDATE otp_challenges SET contact_id = ${survivorId}::uuid WHERE org_id = ${orgId}::uuid AND contact_id = ${absorbedId}::uuid
    ), history AS (
      INSERT INTO contact_identities (org_id, contact_id, kind, value, reason, replaced_at)
      SELECT org_id, ${survivorId}::uuid, kind, value, reason, replaced_at FROM contact_identities
      WHERE org_id = ${orgId}::uuid AND contact_id = ${absorbedId}::uuid
      UNION ALL
      SELECT org_id, ${survivorId}::uuid, 'e164', e164, 'merged', now() FROM absorbed WHERE e164 IS NOT NULL
      UNION ALL
      SELECT org_id, ${survivorId}::uuid, 'bsuid', bsuid, 'merged', now() FROM absorbed WHERE bsuid IS NOT NULL
      ON CONFLICT DO NOTHING
    ), survivor AS (
      UPDATE contacts s SET
        verified_at = coalesce(s.verified_at, a.verified_at),
        terms_version = CASE WHEN a.terms_accepted_at > coalesce(s.terms_accepted_at, '-infinity') THEN a.terms_version ELSE s.terms_version END,
        terms_accepted_at = greatest(s.terms_accepted_at, a.terms_accepted_at),
        blocked_at = coalesce(s.blocked_at, a.blocked_at),
        blocked_reason = CASE WHEN s.blocked_at IS NULL THEN a.blocked_reason ELSE s.blocked_reason END,
        registered_at = coalesce(s.registered_at, a.registered_at),
        profile_name = coalesce(s.profile_name, a.profile_name),
        username = coalesce(s.username, a.username),
        wa_id = coalesce(s.wa_id, a.wa_id),
        parent_bsuid = coalesce(s.parent_bsuid, a.parent_bsuid),
        last_active_at = greatest(s.last_active_at, a.last_active_at),
        updated_at = now()
      FROM absorbed a WHERE s.org_id = a.org_id AND s.id = ${survivorId}::uuid
      RETURNING s.client_id
    ), client AS (
      UPDATE clients sc SET attributes = ac.attributes || sc.attributes, updated_at = now()
      FROM survivor s, absorbed a, clients ac
      WHERE sc.org_id = ${orgId}::uuid AND sc.id = s.client_id AND ac.org_id = ${orgId}::uuid AND ac.id = a.client_id AND ac.id <> sc.id
    )
    SELECT a.client_id, s.client_id AS survivor_client_id,
           EXISTS (SELECT 1 FROM contacts o WHERE o.org_id = a.org_id AND o.client_id = a.client_id AND o.id <> a.id) AS shared
    FROM absorbed a, survivor s`.execute(tx);
  await sql`DELETE FROM contacts WHERE org_id = ${orgId}::uuid AND id = ${absorbedId}::uuid`.execute(tx);
  const absorbedClient = result.rows[0];
  let deletedClientId: string | null = null;
  if (absorbedClient && !absorbedClient.shared && absorbedClient.client_id !== absorbedClient.survivor_client_id) {
    // The survivor's client keeps its own preferences and gains the absorbed client's custom keys it
    // lacks; the absorbed client's preferences then cascade with it.
    await sql`
      UPDATE client_preferences sp SET custom = ap.custom || sp.custom, updated_at = now()
      FROM client_preferences ap
      WHERE sp.org_id = ${orgId}::uuid AND sp.client_id = ${absorbedClient.survivor_client_id}::uuid
        AND ap.org_id = ${orgId}::uuid AND ap.client_id = ${absorbedClient.client_id}::uuid`.execute(tx);
    await sql`DELETE FROM clients WHERE org_id = ${orgId}::uuid AND id = ${absorbedClient.client_id}::uuid`.execute(tx);
    deletedClientId = absorbedClient.client_id;
  }
  return { ...threads, deletedClientId };
}
