/**
 * SQL for clients (customer records) and contacts (one customer number each, E.164).
 */
import { sql } from 'kysely';
import type { Tx } from '../db/database.js';

export interface UpsertContactInput {
  orgId: string;
  /** Customer number, E.164 (`+14155550123`). */
  e164: string;
  /** Meta wa_id (digits), when known. */
  waId: string | null;
  profileName: string | null;
  /** Name of the client created with a new contact, e.g. `Guest (+14155550123)`. */
  clientName: string;
  /** Time of an inbound message, to advance last_active_at; null for outbound-initiated upserts. */
  activeAt: Date | null;
}

export interface UpsertedContact {
  id: string;
  clientId: string;
  created: boolean;
  /** True when the contact is blocked (its inbound messages are flagged and raise no events). */
  blocked: boolean;
}

async function updateExisting(tx: Tx, input: UpsertContactInput): Promise<UpsertedContact | undefined> {
  // A late redelivery of an older message must not bring back an older profile name.
  const profileName = sql`CASE WHEN ${input.activeAt}::timestamptz < last_active_at THEN profile_name
                               ELSE coalesce(${input.profileName}, profile_name) END`;
  const waId = sql`coalesce(${input.waId}, wa_id)`;
  const lastActiveAt = sql`greatest(last_active_at, ${input.activeAt}::timestamptz)`;
  const row = await sql<{ id: string; client_id: string; blocked: boolean }>`
    UPDATE contacts SET
      profile_name = ${profileName},
      wa_id = ${waId},
      last_active_at = ${lastActiveAt},
      -- A replayed webhook changes nothing, updated_at included.
      updated_at = CASE WHEN (${profileName}, ${waId}, ${lastActiveAt}) IS DISTINCT FROM (profile_name, wa_id, last_active_at)
                        THEN now() ELSE updated_at END
    WHERE org_id = ${input.orgId} AND e164 = ${input.e164}
    RETURNING id, client_id, blocked_at IS NOT NULL AS blocked`.execute(tx);
  const found = row.rows[0];
  return found && { id: found.id, clientId: found.client_id, created: false, blocked: found.blocked };
}

/**
 * Returns the organization's contact for a number, creating it with a new client when missing.
 * Safe under concurrency: the insert is `ON CONFLICT (org_id, e164) DO UPDATE`, so 50 parallel
 * first messages from one customer end with one contact and one client (the losers' freshly
 * created clients are deleted again before commit).
 */
export async function upsertContact(tx: Tx, input: UpsertContactInput): Promise<UpsertedContact> {
  const existing = await updateExisting(tx, input);
  if (existing) return existing;
  const result = await sql<{ id: string; client_id: string; new_client_id: string; blocked: boolean }>`
    WITH new_client AS (
      INSERT INTO clients (org_id, name) VALUES (${input.orgId}, ${input.clientName}) RETURNING id
    ), new_preferences AS (
      -- Every client has its preferences row, with the defaults (issue 5).
      INSERT INTO client_preferences (org_id, client_id) SELECT ${input.orgId}, id FROM new_client
    )
    INSERT INTO contacts AS c (org_id, client_id, e164, wa_id, profile_name, last_active_at)
    SELECT ${input.orgId}, new_client.id, ${input.e164}, ${input.waId}, ${input.profileName}, ${input.activeAt}::timestamptz
    FROM new_client
    ON CONFLICT (org_id, e164) DO UPDATE SET
      profile_name = CASE WHEN excluded.last_active_at < c.last_active_at THEN c.profile_name
                          ELSE coalesce(excluded.profile_name, c.profile_name) END,
      wa_id = coalesce(excluded.wa_id, c.wa_id),
      last_active_at = greatest(c.last_active_at, excluded.last_active_at),
      updated_at = now()
    RETURNING c.id, c.client_id, (SELECT id FROM new_client) AS new_client_id, c.blocked_at IS NOT NULL AS blocked`.execute(tx);
  const row = result.rows[0]!;
  if (row.client_id !== row.new_client_id) {
    // Another transaction created the contact first; our client is an orphan (its preferences cascade).
    await tx.deleteFrom('clients').where('org_id', '=', input.orgId).where('id', '=', row.new_client_id).execute();
    return { id: row.id, clientId: row.client_id, created: false, blocked: row.blocked };
  }
  return { id: row.id, clientId: row.client_id, created: true, blocked: false };
}
