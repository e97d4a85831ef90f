/**
 * SQL of GDPR export and erasure: every row about one client — the client, its contacts,
 * preferences, OTP challenges, threads, messages (and, by cascade, their outbox rows and
 * co-writers), domain events about any of them, and pending statuses that mention one of its
 * numbers. Dead letters that mention them: `../ops/dead-letters.service.ts`.
 */
import { sql } from 'kysely';
import type { Tx, Executor } from '../db/database.js';


/** The client, locked FOR UPDATE (erasure), or undefined. */
export async function lockClient(tx: Tx, orgId: string, clientId: string) {
  return tx.selectFrom('clients').selectAll().where('org_id', '=', orgId).where('id', '=', clientId).forUpdate().executeTakeFirst();
}

/** The client of the organization, or undefined (absent, or another organization's). */
export async function findClient(db: Executor, orgId: string, clientId: string) {
  return db.selectFrom('clients').selectAll().where('org_id', '=', orgId).where('id', '=', clientId).executeTakeFirst();
}

/** The client's contacts, oldest first; `lock` takes them FOR UPDATE (erasure, after the client's lock). */
export async function listClientContacts(db: Executor, orgId: string, clientId: string, lock = false) {
  const query = db.selectFrom('contacts').selectAll().where('org_id', '=', orgId).where('client_id', '=', clientId).orderBy('created_at');
  return lock ? (query.forUpdate() as typeof query).execute() : query.execute();
}

/** The threads of these contacts, oldest first; none for no contacts. */
export async function listThreadsOfContacts(db: Executor, orgId: string, contactIds: string[]) {
  if (contactIds.length === 0) return [];
  return db.selectFrom('threads').selectAll().where('org_id', '=', orgId).where('contact_id', 'in', contactIds).orderBy('created_at').execute();
}

/** Every message of these threads (all columns; the service drops `request_hash`), oldest first. */
export async function listMessagesOfThreads(db: Executor, orgId: string, threadIds: string[]) {
  if (threadIds.length === 0) return [];
  return db.selectFrom('messages').selectAll().where('org_id', '=', orgId).where('thread_id', 'in', threadIds).orderBy('created_at').orderBy('id').execute();
}

/** The ids of every message of these threads (erasure: the aggregates whose events go). */
export async function listMessageIdsOfThreads(db: Executor, orgId: string, threadIds: string[]): Promise<string[]> {
  if (threadIds.length === 0) return [];
  const rows = await db.selectFrom('messages').select('id').where('org_id', '=', orgId).where('thread_id', 'in', threadIds).execute();
  return rows.map((row) => row.id);
}

/** The outbox rows of these messages, without lease columns. */
export async function listOutboxRowsOfMessages(db: Executor, orgId: string, messageIds: string[]) {
  if (messageIds.length === 0) return [];
  return db.selectFrom('message_outbox')
    .select(['id', 'message_id', 'state', 'attempts', 'next_attempt_at', 'last_error', 'created_at', 'completed_at'])
    .where('org_id', '=', orgId).where('message_id', 'in', messageIds).orderBy('id').execute();
}

/** The client's preferences row, if it has one. */
export async function findClientPreferences(db: Executor, orgId: string, clientId: string) {
  return db.selectFrom('client_preferences').selectAll().where('org_id', '=', orgId).where('client_id', '=', clientId).executeTakeFirst();
}

/** OTP challenges of contacts, without their hashes (secrets do not leave, even to the data subject). */
/** Identities the client's contacts used before (a changed number or BSUID, one a merge absorbed). */
export async function listContactIdentities(db: Executor, orgId: string, contactIds: string[]) {
  if (contactIds.length === 0) return [];
  return db.selectFrom('contact_identities').select(['contact_id', 'kind', 'value', 'reason', 'replaced_at'])
    .where('org_id', '=', orgId).where('contact_id', 'in', contactIds).orderBy('replaced_at').execute();
}

export async function listOtpChallenges(db: Executor, orgId: string, contactIds: string[]) {
  if (contactIds.length === 0) return [];
  return db.selectFrom('otp_challenges')
    .select(['id', 'contact_id', 'message_id', 'created_at', 'expires_at', 'attempts', 'consumed_at'])
    .where('org_id', '=', orgId).where('contact_id', 'in', contactIds).orderBy('created_at').execute();
}

/** Domain events about these aggregates (client, contacts, threads, messages), in `seq` order. */
export async function listEventsOfAggregates(db: Executor, orgId: string, aggregateIds: string[]) {
  if (aggregateIds.length === 0) return [];
  return db.selectFrom('outbox_events')
    .select(['id', 'aggregate_type', 'aggregate_id', 'event_type', 'event_version', 'payload', 'correlation_id', 'created_at', 'published_at'])
    .where('org_id', '=', orgId).where('aggregate_id', 'in', aggregateIds).orderBy('seq').execute();
}

/** Rows a DELETE removed. */
function count(result: { numAffectedRows?: bigint }): number {
  return Number(result.numAffectedRows ?? 0);
}

/** LIKE pattern of any of the digit strings (E.164 without "+", wa_id). */
function mentions(column: ReturnType<typeof sql>, digits: string[]) {
  return sql<boolean>`${column} LIKE ANY(${digits.map((d) => `%${d}%`)}::text[])`;
}

/** Pending statuses of the organization whose payload mentions one of the digit strings. */
export async function listPendingStatusesMentioning(db: Executor, orgId: string, digits: string[]) {
  if (digits.length === 0) return [];
  return db.selectFrom('pending_statuses').selectAll().where('org_id', '=', orgId).where(mentions(sql`payload::text`, digits)).execute();
}

/**
 * Erasure, first part: deletes the events about the client's aggregates, its messages (their outbox
 * rows and co-writers by cascade), its threads, and the pending statuses that mention its numbers.
 * @returns how many rows went, per table (`pending_statuses` only when there are digits)
 */
export async function deleteClientHistory(
  tx: Tx,
  values: { orgId: string; threadIds: string[]; aggregateIds: string[]; digits: string[] },
): Promise<Record<string, number>> {
  const { orgId, threadIds, aggregateIds, digits } = values;
  const deleted: Record<string, number> = {};
  deleted.outbox_events = aggregateIds.length === 0 ? 0
    : count(await sql`DELETE FROM outbox_events WHERE org_id = ${orgId} AND aggregate_id = ANY(${aggregateIds}::uuid[])`.execute(tx));
  // Messages, their outbox rows and co-writers go with the threads (ON DELETE CASCADE).
  deleted.messages = threadIds.length === 0 ? 0
    : count(await sql`DELETE FROM messages WHERE org_id = ${orgId} AND thread_id = ANY(${threadIds}::uuid[])`.execute(tx));
  deleted.threads = threadIds.length === 0 ? 0
    : count(await sql`DELETE FROM threads WHERE org_id = ${orgId} AND id = ANY(${threadIds}::uuid[])`.execute(tx));
  if (digits.length > 0) {
    const patterns = digits.map((d) => `%${d}%`);
    deleted.pending_statuses = count(await sql`
      DELETE FROM pending_statuses WHERE org_id = ${orgId} AND payload::text LIKE ANY(${patterns}::text[])`.execute(tx));
  }
  return deleted;
}

/**
 * Erasure, last part: deletes the client's contacts (their OTP challenges by cascade) and the
 * client (its preferences by cascade).
 * @returns how many rows went, per table
 */
export async function deleteClientAndContacts(
  tx: Tx,
  values: { orgId: string; clientId: string; contactIds: string[] },
): Promise<{ contacts: number; clients: number }> {
  const { orgId, contactIds } = values;
  const contacts = contactIds.length === 0 ? 0
    : count(await sql`DELETE FROM contacts WHERE org_id = ${orgId} AND id = ANY(${contactIds}::uuid[])`.execute(tx));
  const clients = count(await sql`DELETE FROM clients WHERE org_id = ${orgId} AND id = ${values.clientId}`.execute(tx));
  return { contacts, clients };
}

/**
 * Clients with no sign of life since `cutoff`: created before it, no inbound message from any of
 * their numbers (`last_active_at`) and no message in any of their threads since. Keyset on id.
 */
export async function listInactiveClients(db: Executor, cutoff: Date, afterId: string | null, limit: number) {
  const result = await sql<{ id: string; org_id: string }>`
    SELECT c.id, c.org_id FROM clients c
    WHERE c.created_at < ${cutoff} AND (${afterId}::uuid IS NULL OR c.id > ${afterId}::uuid)
      AND NOT EXISTS (SELECT 1 FROM contacts k WHERE k.org_id = c.org_id AND k.client_id = c.id AND k.last_active_at >= ${cutoff})
      AND NOT EXISTS (
        SELECT 1 FROM contacts k JOIN threads t ON t.org_id = k.org_id AND t.contact_id = k.id
        WHERE k.org_id = c.org_id AND k.client_id = c.id AND t.last_message_at >= ${cutoff})
    ORDER BY c.id
    LIMIT ${limit}`.execute(db);
  return result.rows;
}

/** True when the client showed a sign of life since `cutoff` (see listInactiveClients); call under the client's lock. */
export async function isClientActiveSince(db: Executor, orgId: string, clientId: string, cutoff: Date): Promise<boolean> {
  const result = await sql<{ active: boolean }>`
    SELECT EXISTS (SELECT 1 FROM contacts k WHERE k.org_id = ${orgId} AND k.client_id = ${clientId} AND k.last_active_at >= ${cutoff})
        OR EXISTS (SELECT 1 FROM contacts k JOIN threads t ON t.org_id = k.org_id AND t.contact_id = k.id
                   WHERE k.org_id = ${orgId} AND k.client_id = ${clientId} AND t.last_message_at >= ${cutoff}) AS active`.execute(db);
  return result.rows[0]!.active;
}

/** How many clients listInactiveClients would list in all (the total of the retention run's progress). */
export async function countInactiveClients(db: Executor, cutoff: Date): Promise<number> {
  const result = await sql<{ n: string }>`
    SELECT count(*) AS n FROM clients c
    WHERE c.created_at < ${cutoff}
      AND NOT EXISTS (SELECT 1 FROM contacts k WHERE k.org_id = c.org_id AND k.client_id = c.id AND k.last_active_at >= ${cutoff})
      AND NOT EXISTS (
        SELECT 1 FROM contacts k JOIN threads t ON t.org_id = k.org_id AND t.contact_id = k.id
        WHERE k.org_id = c.org_id AND k.client_id = c.id AND t.last_message_at >= ${cutoff})`.execute(db);
  return Number(result.rows[0]!.n);
}
