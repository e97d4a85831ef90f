/**
 * SQL for clients (customer records) and contacts (one customer number each, E.164).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Tx } from '../db/database.js';
import { TransactionConflictError } from '../db/errors.js';

/** One customer number to find or create (upsertContacts). */
export interface UpsertContactInput {
  orgId: string;
  /** Customer number, E.164 (`+14155550123`). */
  e164: string;
  /** Meta wa_id (digits), when known. */
  waId: string | null;
  profileName: string | null;
  /** Name of the client created with a new contact, e.g. `Guest (+14155550123)`. */
  clientName: string;
  /** Time of the customer's latest inbound message, to advance last_active_at; null for outbound-initiated upserts. */
  activeAt: Date | null;
}

export interface UpsertedContact {
  id: string;
  clientId: string;
  orgId: string;
  e164: string;
  created: boolean;
  /** True when the contact is blocked (its inbound messages are flagged and raise no events). */
  blocked: boolean;
}

/** Map key of a contact: (org, E.164) is unique. */
export const contactKey = (orgId: string, e164: string) => `${orgId}\u0000${e164}`;

/**
 * Returns the organization's contact for a number, creating it with a new client when missing
 * (upsertContacts for one; outbound-initiated conversations).
 * @throws TransactionConflictError when the contact vanished between two statements (retry the transaction)
 */
export async function upsertContact(tx: Tx, input: UpsertContactInput): Promise<UpsertedContact> {
  const [contact] = await upsertContacts(tx, [input]);
  return contact!;
}

/**
 * How far an inbound message must be ahead of a contact's `last_active_at` to move it (a message
 * that renames the contact moves it in any case). Finer precision would rewrite the contact row,
 * and its five index entries, for every message of a conversation, for a time that only retention
 * reads, in days; the thread's `last_inbound_at` (the customer service window) stays exact. The
 * price: a redelivered message less than this much older than the newest one may bring back the
 * name that newest one replaced, until the customer's next message.
 */
export const LAST_ACTIVE_AT_PRECISION_SECONDS = 60;

/**
 * Contacts for a batch of inbound messages (or for one outbound-initiated conversation), in one
 * statement when they all exist (the steady state), whatever the batch size:
 * - existing contacts are locked in input order: `FOR NO KEY UPDATE` and updated when a message
 *   changes them (a newer profile name, a wa_id, last_active_at LAST_ACTIVE_AT_PRECISION_SECONDS
 *   or more behind), `FOR KEY SHARE` otherwise (an erasure then waits for the transaction; neither
 *   mode blocks other transactions' foreign-key checks);
 * - missing ones are inserted with their clients and preferences (insertContacts); 50 parallel
 *   first messages of one customer end with one contact and one client.
 *
 * @param inputs distinct (orgId, e164) pairs, SORTED by (orgId, e164): batches then lock the
 *   contacts they update in one global order and wait for each other instead of deadlocking (the
 *   lock CTEs are `ORDER BY … FOR …`, which PostgreSQL never inlines)
 * @returns one contact per input, in input order
 * @throws TransactionConflictError when a contact vanished between two statements (retry the transaction)
 */
export async function upsertContacts(tx: Tx, inputs: UpsertContactInput[]): Promise<UpsertedContact[]> {
  if (inputs.length === 0) return [];
  // A late redelivery of an older message must not bring back an older profile name.
  const profileName = sql`CASE WHEN x.active_at < c.last_active_at THEN c.profile_name ELSE coalesce(x.profile_name, c.profile_name) END`;
  const waId = sql`coalesce(x.wa_id, c.wa_id)`;
  // A renaming message moves last_active_at too, since the guard above compares with it.
  const lastActiveAt = sql`CASE WHEN c.last_active_at IS NULL
                                  OR x.active_at >= c.last_active_at + ${LAST_ACTIVE_AT_PRECISION_SECONDS} * interval '1 second'
                                  OR (x.active_at > c.last_active_at AND x.profile_name IS DISTINCT FROM c.profile_name AND x.profile_name IS NOT NULL)
                                THEN x.active_at ELSE c.last_active_at END`;
  const found = await sql<{ ord: string; id: string; client_id: string; blocked: boolean; changes: boolean }>`/* prepared: lock_contacts */
    WITH input AS (
      SELECT * FROM unnest(${inputs.map((i) => i.orgId)}::uuid[], ${inputs.map((i) => i.e164)}::text[], ${inputs.map((i) => i.waId)}::text[],
                           ${inputs.map((i) => i.profileName)}::text[], ${inputs.map((i) => i.activeAt)}::timestamptz[])
             WITH ORDINALITY AS x(org_id, e164, wa_id, profile_name, active_at, ord)
    ), found AS (
      SELECT x.ord, c.org_id, c.id,
             (${profileName}, ${waId}, ${lastActiveAt}) IS DISTINCT FROM (c.profile_name, c.wa_id, c.last_active_at) AS changes
      FROM input x JOIN contacts c ON c.org_id = x.org_id AND c.e164 = x.e164
    ), changing AS (
      SELECT f.ord, c.id, c.client_id, c.blocked_at IS NOT NULL AS blocked, true AS changes
      FROM found f JOIN contacts c ON c.org_id = f.org_id AND c.id = f.id
      WHERE f.changes
      ORDER BY f.ord
      FOR NO KEY UPDATE OF c
    ), kept AS (
      -- Unchanged contacts are only share-locked, so that an erasure cannot delete them before the
      -- threads and messages that reference them commit; an erased one drops out here and is
      -- created again by insertContacts, under a new client.
      SELECT f.ord, c.id, c.client_id, c.blocked_at IS NOT NULL AS blocked, false AS changes
      FROM found f JOIN contacts c ON c.org_id = f.org_id AND c.id = f.id
      WHERE NOT f.changes
      ORDER BY f.ord
      FOR KEY SHARE OF c
    )
    SELECT * FROM changing UNION ALL SELECT * FROM kept`.execute(tx);
  const changing = found.rows.filter((row) => row.changes);
  if (changing.length > 0) {
    // A statement of its own: updating while still taking locks (as one statement's lazily read
    // lock CTE does) makes other batches' inserts wait for this one's unfinished update.
    const rows = changing.map((row) => ({ ...inputs[Number(row.ord) - 1]!, id: row.id }));
    await sql`/* prepared: update_contacts */
      UPDATE contacts c SET
        profile_name = ${profileName},
        wa_id = ${waId},
        last_active_at = ${lastActiveAt},
        updated_at = now()
      FROM unnest(${rows.map((r) => r.orgId)}::uuid[], ${rows.map((r) => r.id)}::uuid[], ${rows.map((r) => r.waId)}::text[],
                  ${rows.map((r) => r.profileName)}::text[], ${rows.map((r) => r.activeAt)}::timestamptz[]) AS x(org_id, id, wa_id, profile_name, active_at)
      WHERE c.org_id = x.org_id AND c.id = x.id`.execute(tx);
  }
  const results: Array<UpsertedContact | undefined> = new Array(inputs.length);
  for (const row of found.rows) {
    const input = inputs[Number(row.ord) - 1]!;
    results[Number(row.ord) - 1] = { id: row.id, clientId: row.client_id, created: false, blocked: row.blocked, orgId: input.orgId, e164: input.e164 };
  }
  const missing = inputs.filter((_input, index) => !results[index]);
  if (missing.length > 0) {
    const inserted = await insertContacts(tx, missing);
    inputs.forEach((input, index) => {
      results[index] ??= inserted.get(contactKey(input.orgId, input.e164));
    });
  }
  return results.map((result) => result!);
}

/**
 * The missing half of upsertContacts: new contacts with new clients. A contact another
 * transaction created since (an insert race) is left as it is (`ON CONFLICT DO NOTHING`, which
 * never waits for that transaction's locks, so lock order stays as upsertContacts says),
 * share-locked and read back; our client for it is an orphan and deleted again.
 */
async function insertContacts(tx: Tx, inputs: UpsertContactInput[]): Promise<Map<string, UpsertedContact>> {
  // Client ids are chosen here so that each contact row can name its client in the same statement.
  const clientIds: string[] = inputs.map(() => randomUUID());
  const result = await sql<{ id: string; client_id: string; org_id: string; e164: string }>`/* prepared: insert_contacts */
    WITH input AS (
      SELECT * FROM unnest(${clientIds}::uuid[], ${inputs.map((i) => i.orgId)}::uuid[], ${inputs.map((i) => i.e164)}::text[],
                           ${inputs.map((i) => i.waId)}::text[], ${inputs.map((i) => i.profileName)}::text[],
                           ${inputs.map((i) => i.activeAt)}::timestamptz[], ${inputs.map((i) => i.clientName)}::text[])
             WITH ORDINALITY AS x(client_id, org_id, e164, wa_id, profile_name, active_at, client_name, ord)
    ), new_clients AS (
      INSERT INTO clients (id, org_id, name) SELECT client_id, org_id, client_name FROM input ORDER BY ord
    ), new_preferences AS (
      -- Every client has its preferences row, with the defaults (issue 5).
      INSERT INTO client_preferences (org_id, client_id) SELECT org_id, client_id FROM input ORDER BY ord
    )
    INSERT INTO contacts AS c (org_id, client_id, e164, wa_id, profile_name, last_active_at)
    SELECT org_id, client_id, e164, wa_id, profile_name, active_at FROM input ORDER BY ord
    ON CONFLICT (org_id, e164) DO NOTHING
    RETURNING c.id, c.client_id, c.org_id, c.e164`.execute(tx);
  const contacts = new Map<string, UpsertedContact>();
  for (const row of result.rows) {
    contacts.set(contactKey(row.org_id, row.e164), { id: row.id, clientId: row.client_id, created: true, blocked: false, orgId: row.org_id, e164: row.e164 });
  }
  const lost = inputs.flatMap((input, index) => (contacts.has(contactKey(input.orgId, input.e164)) ? [] : [index]));
  if (lost.length === 0) return contacts;
  const winners = await sql<{ id: string; client_id: string; org_id: string; e164: string; blocked: boolean }>`
    WITH orphans AS (
      -- Their preferences cascade.
      DELETE FROM clients c USING unnest(${lost.map((i) => inputs[i]!.orgId)}::uuid[], ${lost.map((i) => clientIds[i]!)}::uuid[]) AS x(org_id, id)
      WHERE c.org_id = x.org_id AND c.id = x.id
    )
    SELECT c.id, c.client_id, c.org_id, c.e164, c.blocked_at IS NOT NULL AS blocked
    FROM unnest(${lost.map((i) => inputs[i]!.orgId)}::uuid[], ${lost.map((i) => inputs[i]!.e164)}::text[]) WITH ORDINALITY AS x(org_id, e164, ord)
    JOIN contacts c ON c.org_id = x.org_id AND c.e164 = x.e164
    ORDER BY x.ord
    FOR KEY SHARE OF c`.execute(tx);
  for (const row of winners.rows) {
    contacts.set(contactKey(row.org_id, row.e164), { id: row.id, clientId: row.client_id, created: false, blocked: row.blocked, orgId: row.org_id, e164: row.e164 });
  }
  const vanished = inputs.find((input) => !contacts.has(contactKey(input.orgId, input.e164)));
  // Created and erased again between our two statements: the batch is retried (withTransaction).
  if (vanished) throw new TransactionConflictError(`contact ${vanished.e164} was erased while an inbound batch created it`);
  return contacts;
}
