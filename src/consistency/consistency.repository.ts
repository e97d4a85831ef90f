/**
 * Proof queries for the invariants of SPEC §2 (used by `wahub doctor` and by validate-after-save).
 * Each returns the offending rows as `{ subject, detail }`; an empty result proves the invariant
 * for the scope. They do not trust the constraints: a constraint dropped by hand, a restore of an
 * old dump or a bug would all show up here.
 */
import { type RawBuilder, sql } from 'kysely';
import type { Executor } from '../db/database.js';


export interface Scope {
  /** Only this organization's rows. */
  orgId?: string;
  /** Only this WABA (Meta waba_id) and its numbers. */
  wabaId?: string;
}

export interface Violation {
  subject: string;
  detail: string;
}

const LIMIT = 20;
const none = sql``;

function orgFilter(column: string, scope: Scope): RawBuilder<unknown> {
  return scope.orgId ? sql`AND ${sql.ref(column)} = ${scope.orgId}` : none;
}

function wabaFilter(column: string, scope: Scope): RawBuilder<unknown> {
  return scope.wabaId ? sql`AND ${sql.ref(column)} = ${scope.wabaId}` : none;
}

async function rows(db: Executor, query: RawBuilder<Violation>): Promise<Violation[]> {
  return (await query.execute(db)).rows;
}

/** Organizations' identities (a number or a BSUID) held by more than one contact. */
function contactsSharing(identity: 'e164' | 'bsuid', scope: Scope): RawBuilder<Violation> {
  const column = sql.ref(identity);
  return sql<Violation>`
    SELECT org_id || ' ' || ${column} AS subject, count(*) || ' contacts' AS detail FROM contacts
    WHERE ${column} IS NOT NULL ${orgFilter('org_id', scope)} GROUP BY org_id, ${column} HAVING count(*) > 1 LIMIT ${LIMIT}`;
}

export const proofQueries: Record<string, { description: string; wabaScoped: boolean; run: (db: Executor, scope: Scope) => Promise<Violation[]> }> = {
  duplicate_contacts: {
    description: 'one contact per (organization, E.164 number)',
    wabaScoped: false,
    run: (db, scope) => rows(db, contactsSharing('e164', scope)),
  },
  duplicate_bsuid_contacts: {
    description: 'one contact per (organization, business-scoped user ID)',
    wabaScoped: false,
    run: (db, scope) => rows(db, contactsSharing('bsuid', scope)),
  },
  contacts_without_identity: {
    description: 'every contact has an E.164 number or a business-scoped user ID',
    wabaScoped: false,
    run: (db, scope) => rows(db, sql<Violation>`
      SELECT id::text AS subject, 'no number and no BSUID' AS detail FROM contacts
      WHERE e164 IS NULL AND bsuid IS NULL ${orgFilter('org_id', scope)} LIMIT ${LIMIT}`),
  },
  duplicate_inbound_wamids: {
    description: 'an inbound message is stored once per (business number, wamid)',
    wabaScoped: false,
    run: (db, scope) => rows(db, sql<Violation>`
      SELECT provider_message_id AS subject, count(*) || ' messages on number ' || phone_number_ref AS detail FROM messages
      WHERE direction = 'inbound' ${orgFilter('org_id', scope)}
      GROUP BY org_id, phone_number_ref, provider_message_id HAVING count(*) > 1 LIMIT ${LIMIT}`),
  },
  phone_number_connected_twice: {
    description: 'a phone_number_id is connected in at most one organization',
    wabaScoped: true,
    run: (db, scope) => rows(db, sql<Violation>`
      SELECT p.phone_number_id AS subject, count(*) || ' connected rows in ' || count(DISTINCT p.org_id) || ' organizations' AS detail
      FROM phone_numbers p
      WHERE p.status <> 'disconnected'
        AND p.phone_number_id IN (
          SELECT q.phone_number_id FROM phone_numbers q LEFT JOIN wabas w ON w.id = q.waba_ref
          WHERE true ${orgFilter('q.org_id', scope)} ${wabaFilter('w.waba_id', scope)})
      GROUP BY p.phone_number_id HAVING count(*) > 1 LIMIT ${LIMIT}`),
  },
  waba_connected_twice: {
    description: 'a WABA is connected in at most one organization',
    wabaScoped: true,
    run: (db, scope) => rows(db, sql<Violation>`
      SELECT waba_id AS subject, count(*) || ' connected rows' AS detail FROM wabas
      WHERE disconnected_at IS NULL
        AND waba_id IN (SELECT waba_id FROM wabas WHERE true ${orgFilter('org_id', scope)} ${wabaFilter('waba_id', scope)})
      GROUP BY waba_id HAVING count(*) > 1 LIMIT ${LIMIT}`),
  },
  waba_reference_mismatch: {
    description: 'a Meta number and its WABA belong to the same organization, and a connected number has a connected WABA',
    wabaScoped: true,
    run: (db, scope) => rows(db, sql<Violation>`
      SELECT p.phone_number_id AS subject,
             CASE WHEN w.id IS NULL THEN 'WABA row missing'
                  WHEN w.org_id <> p.org_id THEN 'number in ' || p.org_id || ', its WABA ' || w.waba_id || ' in ' || w.org_id
                  ELSE 'number connected but WABA ' || w.waba_id || ' disconnected' END AS detail
      FROM phone_numbers p LEFT JOIN wabas w ON w.id = p.waba_ref
      WHERE ((p.provider = 'meta' AND w.id IS NULL) OR w.org_id <> p.org_id OR (p.status <> 'disconnected' AND w.disconnected_at IS NOT NULL))
        ${orgFilter('p.org_id', scope)} ${wabaFilter('w.waba_id', scope)}
      LIMIT ${LIMIT}`),
  },
  disconnected_number_with_token: {
    description: 'a disconnected number keeps no access token',
    wabaScoped: true,
    run: (db, scope) => rows(db, sql<Violation>`
      SELECT p.phone_number_id AS subject, 'disconnected but still holds a token' AS detail
      FROM phone_numbers p LEFT JOIN wabas w ON w.id = p.waba_ref
      WHERE p.status = 'disconnected' AND p.access_token_ciphertext IS NOT NULL
        ${orgFilter('p.org_id', scope)} ${wabaFilter('w.waba_id', scope)} LIMIT ${LIMIT}`),
  },
  twilio_number_shape: {
    description: 'a Twilio number has no WABA, an account SID, and phone_number_id whatsapp:<its E.164>',
    wabaScoped: true,
    // Nothing in a WABA is a Twilio number: a WABA-scoped run has nothing to prove here.
    run: async (db, scope) => (scope.wabaId ? [] : rows(db, sql<Violation>`
      SELECT p.phone_number_id AS subject,
             CASE WHEN p.waba_ref IS NOT NULL THEN 'Twilio number with a WABA'
                  WHEN p.twilio_account_sid IS NULL OR p.twilio_account_sid !~ '^AC[0-9a-f]{32}$' THEN 'missing or malformed account SID'
                  ELSE 'phone_number_id is not whatsapp:' || p.e164 END AS detail
      FROM phone_numbers p
      WHERE p.provider = 'twilio'
        AND (p.waba_ref IS NOT NULL OR p.twilio_account_sid IS NULL OR p.twilio_account_sid !~ '^AC[0-9a-f]{32}$'
             OR p.phone_number_id <> 'whatsapp:' || p.e164)
        ${orgFilter('p.org_id', scope)} LIMIT ${LIMIT}`)),
  },
  orphans: {
    description: 'contacts have their client, threads their contact and number, messages their thread, all in one organization',
    wabaScoped: false,
    run: (db, scope) => rows(db, sql<Violation>`
      (SELECT 'contact ' || c.id AS subject, 'client ' || c.client_id || ' missing or in another organization' AS detail
       FROM contacts c LEFT JOIN clients cl ON cl.id = c.client_id
       WHERE (cl.id IS NULL OR cl.org_id <> c.org_id) ${orgFilter('c.org_id', scope)} LIMIT ${LIMIT})
      UNION ALL
      (SELECT 'thread ' || t.id, 'contact or number missing or in another organization'
       FROM threads t LEFT JOIN contacts c ON c.id = t.contact_id LEFT JOIN phone_numbers p ON p.id = t.phone_number_ref
       WHERE (c.id IS NULL OR p.id IS NULL OR c.org_id <> t.org_id OR p.org_id <> t.org_id) ${orgFilter('t.org_id', scope)} LIMIT ${LIMIT})
      UNION ALL
      (SELECT 'message ' || m.id, 'thread missing, in another organization, or on another number'
       FROM messages m LEFT JOIN threads t ON t.id = m.thread_id
       WHERE (t.id IS NULL OR t.org_id <> m.org_id OR t.phone_number_ref <> m.phone_number_ref) ${orgFilter('m.org_id', scope)} LIMIT ${LIMIT})`),
  },
  outbox_without_message: {
    description: 'every outbox row has its message, in the same organization',
    wabaScoped: false,
    run: (db, scope) => rows(db, sql<Violation>`
      SELECT 'outbox ' || o.id AS subject, 'message ' || o.message_id || ' missing or in another organization' AS detail
      FROM message_outbox o LEFT JOIN messages m ON m.id = o.message_id
      WHERE (m.id IS NULL OR m.org_id <> o.org_id) ${orgFilter('o.org_id', scope)} LIMIT ${LIMIT}`),
  },
  status_consistency: {
    description: 'statuses agree with delivery: sent messages have a wamid, finished outbox rows match their message, no pending status for a known wamid',
    wabaScoped: false,
    run: (db, scope) => rows(db, sql<Violation>`
      (SELECT 'message ' || m.id AS subject, 'status ' || m.status || ' without a wamid' AS detail FROM messages m
       WHERE m.direction = 'outbound' AND m.type <> 'mark_as_read' AND m.provider_message_id IS NULL
         AND m.status IN ('delivered', 'read', 'played') ${orgFilter('m.org_id', scope)} LIMIT ${LIMIT})
      UNION ALL
      (SELECT 'message ' || m.id, 'outbox ' || o.state || ' but message ' || m.status FROM message_outbox o JOIN messages m ON m.id = o.message_id
       WHERE ((o.state = 'done' AND m.status IN ('queued', 'sending')) OR (o.state = 'failed' AND m.status <> 'failed')
              OR (o.state IN ('pending', 'leased', 'parked') AND m.status NOT IN ('queued', 'sending')))
         ${orgFilter('o.org_id', scope)} LIMIT ${LIMIT})
      UNION ALL
      (SELECT 'pending status ' || ps.id, ps.status || ' for known wamid ' || ps.provider_message_id || ' was never applied'
       FROM pending_statuses ps JOIN messages m ON m.org_id = ps.org_id AND m.phone_number_ref = ps.phone_number_ref
                                              AND m.provider_message_id = ps.provider_message_id
       WHERE true ${orgFilter('ps.org_id', scope)} LIMIT ${LIMIT})`),
  },
};

/** Stored tokens of the scope, for the decrypt check (which needs the keys, so runs in the service). */
export async function listStoredTokens(db: Executor, scope: Scope) {
  let query = db
    .selectFrom('phone_numbers')
    .leftJoin('wabas', 'wabas.id', 'phone_numbers.waba_ref')
    .select(['phone_numbers.phone_number_id', 'phone_numbers.access_token_ciphertext', 'phone_numbers.access_token_key_id'])
    .where('phone_numbers.access_token_ciphertext', 'is not', null);
  if (scope.orgId) query = query.where('phone_numbers.org_id', '=', scope.orgId);
  if (scope.wabaId) query = query.where('wabas.waba_id', '=', scope.wabaId);
  return query.execute();
}
