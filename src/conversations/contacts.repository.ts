/**
 * SQL for clients (customer records) and contacts (one customer each: an E.164 number, a
 * business-scoped user ID (BSUID), or both; each unique per organization). The hot path
 * (`lockKnownContacts`) finds contacts that already carry every identity a message names; the
 * rest (new customers, a number or BSUID to link, two contacts to merge) is resolved under
 * identity locks in `contact-identities.repository.ts` (see `resolve-contacts.ts`).
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Tx } from '../db/database.js';
import { TransactionConflictError } from '../db/errors.js';

/**
 * One customer to find or create: by E.164 number, by BSUID, or by both (a webhook that carries
 * both proves they are one person). At least one of `e164` and `bsuid` is set.
 */
export interface UpsertContactInput {
  orgId: string;
  /** Customer number, E.164 (`+14155550123`), or null when the provider withheld it. */
  e164: string | null;
  /** Business-scoped user ID (Meta `user_id`, `US.13491208655302741918`), or null when unknown. */
  bsuid: string | null;
  /** Meta wa_id (digits), when known. */
  waId: string | null;
  /** Parent BSUID (`US.ENT.…`), when Meta sends one. */
  parentBsuid: string | null;
  /** WhatsApp username, when the customer has one. */
  username: string | null;
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
  e164: string | null;
  bsuid: string | null;
  created: boolean;
  /** True when the contact is blocked (its inbound messages are flagged and raise no events). */
  blocked: boolean;
}

/**
 * How far an inbound message must be ahead of a contact's `last_active_at` to move it (a message
 * that renames the contact moves it in any case). Finer precision would rewrite the contact row,
 * and its index entries, for every message of a conversation, for a time that only retention
 * reads, in days; the thread's `last_inbound_at` (the customer service window) stays exact. The
 * price: a redelivered message less than this much older than the newest one may bring back the
 * name that newest one replaced, until the customer's next message.
 */
export const LAST_ACTIVE_AT_PRECISION_SECONDS = 60;

/** Column values of an upsert input, as `unnest` arrays (one statement for any batch size). */
function inputArrays(inputs: UpsertContactInput[]) {
  return {
    orgIds: inputs.map((i) => i.orgId), e164s: inputs.map((i) => i.e164), bsuids: inputs.map((i) => i.bsuid), waIds: inputs.map((i) => i.waId),
    parents: inputs.map((i) => i.parentBsuid), usernames: inputs.map((i) => i.username), names: inputs.map((i) => i.profileName),
    activeAts: inputs.map((i) => i.activeAt),
  };
}

// A late redelivery of an older message must not bring back an older profile name or username.
const newer = (column: string) => sql.raw(`CASE WHEN x.active_at < c.last_active_at THEN c.${column} ELSE coalesce(x.${column}, c.${column}) END`);
const PROFILE_NAME = newer('profile_name');
const USERNAME = newer('username');
const WA_ID = sql`coalesce(x.wa_id, c.wa_id)`;
const PARENT_BSUID = sql`coalesce(x.parent_bsuid, c.parent_bsuid)`;
// A renaming message moves last_active_at too, since the guards above compare with it.
const LAST_ACTIVE_AT = sql`CASE WHEN c.last_active_at IS NULL
                                 OR x.active_at >= c.last_active_at + ${LAST_ACTIVE_AT_PRECISION_SECONDS} * interval '1 second'
                                 OR (x.active_at > c.last_active_at AND x.profile_name IS DISTINCT FROM c.profile_name AND x.profile_name IS NOT NULL)
                                 OR (x.active_at > c.last_active_at AND x.username IS DISTINCT FROM c.username AND x.username IS NOT NULL)
                               THEN x.active_at ELSE c.last_active_at END`;

/**
 * The hot path of upsertContacts, one statement whatever the batch size: each input's contact when
 * one exists that already carries every identity the input names (by BSUID when the input has
 * one, else by number; the steady state), locked in contact id order (one global order, whichever
 * identity a batch found the contact by): `FOR NO KEY UPDATE` when a message changes it (a newer
 * profile name or username, a wa_id, a parent BSUID, last_active_at LAST_ACTIVE_AT_PRECISION_SECONDS
 * or more behind), `FOR KEY SHARE` otherwise (an erasure or a merge then waits for the
 * transaction; neither mode blocks other transactions' foreign-key checks). Changed contacts are
 * updated in a second statement.
 * @returns the contact of each input that has one, by input index; the others are resolved under identity locks (resolve-contacts.ts)
 */
export async function lockKnownContacts(tx: Tx, inputs: UpsertContactInput[]): Promise<Map<number, UpsertedContact>> {
  const a = inputArrays(inputs);
  const changes = sql`(${PROFILE_NAME}, ${USERNAME}, ${WA_ID}, ${PARENT_BSUID}, ${LAST_ACTIVE_AT})
                      IS DISTINCT FROM (c.profile_name, c.username, c.wa_id, c.parent_bsuid, c.last_active_at)`;
  const found = await sql<{ ord: string; id: string; client_id: string; e164: string | null; bsuid: string | null; blocked: boolean; changes: boolean }>`/* prepared: lock_contacts */
    WITH input AS (
      SELECT * FROM unnest(${a.orgIds}::uuid[], ${a.e164s}::text[], ${a.bsuids}::text[], ${a.waIds}::text[], ${a.parents}::text[],
                           ${a.usernames}::text[], ${a.names}::text[], ${a.activeAts}::timestamptz[])
             WITH ORDINALITY AS x(org_id, e164, bsuid, wa_id, parent_bsuid, username, profile_name, active_at, ord)
    ), found AS (
      SELECT x.ord, c.org_id, c.id, ${changes} AS changes
      FROM input x JOIN contacts c ON c.org_id = x.org_id AND c.bsuid = x.bsuid
      WHERE x.e164 IS NULL OR c.e164 = x.e164
      UNION ALL
      SELECT x.ord, c.org_id, c.id, ${changes} AS changes
      FROM input x JOIN contacts c ON c.org_id = x.org_id AND c.e164 = x.e164
      WHERE x.bsuid IS NULL
    ), changing AS (
      SELECT f.ord, c.id, c.client_id, c.e164, c.bsuid, c.blocked_at IS NOT NULL AS blocked, true AS changes
      FROM found f JOIN contacts c ON c.org_id = f.org_id AND c.id = f.id
      WHERE f.changes
      ORDER BY c.id
      FOR NO KEY UPDATE OF c
    ), kept AS (
      -- Unchanged contacts are only share-locked, so that an erasure or a merge cannot delete them
      -- before the threads and messages that reference them commit; one deleted meanwhile drops
      -- out here and is resolved again under identity locks.
      SELECT f.ord, c.id, c.client_id, c.e164, c.bsuid, c.blocked_at IS NOT NULL AS blocked, false AS changes
      FROM found f JOIN contacts c ON c.org_id = f.org_id AND c.id = f.id
      WHERE NOT f.changes
      ORDER BY c.id
      FOR KEY SHARE OF c
    )
    SELECT * FROM changing UNION ALL SELECT * FROM kept`.execute(tx);
  const contacts = new Map<number, UpsertedContact>();
  for (const row of found.rows) {
    const index = Number(row.ord) - 1;
    // A merge or a number change moved an identity between the two statements' snapshots.
    const input = inputs[index]!;
    if ((input.e164 !== null && row.e164 !== input.e164) || (input.bsuid !== null && row.bsuid !== input.bsuid)) continue;
    contacts.set(index, { id: row.id, clientId: row.client_id, orgId: input.orgId, e164: row.e164, bsuid: row.bsuid, created: false, blocked: row.blocked });
  }
  const changing = found.rows.filter((row) => row.changes && contacts.has(Number(row.ord) - 1));
  // A statement of its own: updating while still taking locks (as one statement's lazily read
  // lock CTE does) makes other batches' inserts wait for this one's unfinished update.
  if (changing.length > 0) await updateContactDetails(tx, changing.map((row) => ({ ...inputs[Number(row.ord) - 1]!, id: row.id })));
  return contacts;
}

/** Applies inputs' profile name, username, wa_id, parent BSUID and activity to contacts the caller has locked. */
export async function updateContactDetails(tx: Tx, rows: Array<UpsertContactInput & { id: string }>): Promise<void> {
  const a = inputArrays(rows);
  await sql`/* prepared: update_contacts */
    UPDATE contacts c SET
      profile_name = ${PROFILE_NAME},
      username = ${USERNAME},
      wa_id = ${WA_ID},
      parent_bsuid = ${PARENT_BSUID},
      last_active_at = ${LAST_ACTIVE_AT},
      updated_at = now()
    FROM unnest(${a.orgIds}::uuid[], ${rows.map((r) => r.id)}::uuid[], ${a.waIds}::text[], ${a.parents}::text[], ${a.usernames}::text[],
                ${a.names}::text[], ${a.activeAts}::timestamptz[]) AS x(org_id, id, wa_id, parent_bsuid, username, profile_name, active_at)
    WHERE c.org_id = x.org_id AND c.id = x.id`.execute(tx);
}

/**
 * New contacts with new clients and their preferences, in one statement. The caller holds the
 * identity locks of every input (lockIdentityKeys), so no other transaction can be creating the
 * same customer; a conflict on either unique index (`ON CONFLICT DO NOTHING`) can then only be an
 * erasure or merge racing us, and the transaction is retried.
 * @returns one contact per input, in input order
 * @throws TransactionConflictError when a contact with one of the identities appeared meanwhile (withTransaction retries)
 */
export async function insertContacts(tx: Tx, inputs: UpsertContactInput[]): Promise<UpsertedContact[]> {
  if (inputs.length === 0) return [];
  // Client ids are chosen here so that each contact row can name its client in the same statement.
  const clientIds: string[] = inputs.map(() => randomUUID());
  const a = inputArrays(inputs);
  const result = await sql<{ ord: string; id: string; client_id: string }>`/* prepared: insert_contacts */
    WITH input AS (
      SELECT * FROM unnest(${clientIds}::uuid[], ${a.orgIds}::uuid[], ${a.e164s}::text[], ${a.bsuids}::text[], ${a.waIds}::text[],
                           ${a.parents}::text[], ${a.usernames}::text[], ${a.names}::text[], ${a.activeAts}::timestamptz[],
                           ${inputs.map((i) => i.clientName)}::text[])
             WITH ORDINALITY AS x(client_id, org_id, e164, bsuid, wa_id, parent_bsuid, username, profile_name, active_at, client_name, ord)
    ), new_clients AS (
      INSERT INTO clients (id, org_id, name) SELECT client_id, org_id, client_name FROM input ORDER BY ord
    ), new_preferences AS (
      -- Every client has its preferences row, with the defaults (issue 5).
      INSERT INTO client_preferences (org_id, client_id) SELECT org_id, client_id FROM input ORDER BY ord
    ), new_contacts AS (
      INSERT INTO contacts AS c (org_id, client_id, e164, bsuid, wa_id, parent_bsuid, username, profile_name, last_active_at)
      SELECT org_id, client_id, e164, bsuid, wa_id, parent_bsuid, username, profile_name, active_at FROM input ORDER BY ord
      ON CONFLICT DO NOTHING
      RETURNING c.id, c.client_id
    )
    SELECT x.ord, n.id, n.client_id FROM new_contacts n JOIN input x ON x.client_id = n.client_id`.execute(tx);
  if (result.rows.length < inputs.length) throw new TransactionConflictError('a contact appeared while an inbound batch created it');
  const contacts: UpsertedContact[] = new Array(inputs.length);
  for (const row of result.rows) {
    const input = inputs[Number(row.ord) - 1]!;
    contacts[Number(row.ord) - 1] = { id: row.id, clientId: row.client_id, orgId: input.orgId, e164: input.e164, bsuid: input.bsuid, created: true, blocked: false };
  }
  return contacts;
}
