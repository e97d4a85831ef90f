/**
 * SQL for threads (one per business phone number × contact) and their co-writers, and the keyset
 * queries of the read API.
 */
import { sql } from 'kysely';
import type { Tx, Executor } from '../db/database.js';
import type { KeysetPosition } from '../shared/keyset.js';


export interface UpsertedThread {
  id: string;
  status: 'open' | 'closed';
  ownerOperatorId: string | null;
  lastInboundAt: Date | null;
  created: boolean;
}

/**
 * Returns the thread of (business number, contact), creating it when missing
 * (`ON CONFLICT … DO UPDATE`, race-safe). `inboundAt` advances last_inbound_at (the customer
 * service window) and last_message_at; both only move forward, so replays change nothing.
 */
export async function upsertThread(
  tx: Tx,
  values: { orgId: string; phoneNumberRef: string; contactId: string; inboundAt: Date | null },
): Promise<UpsertedThread> {
  const result = await sql<{ id: string; status: 'open' | 'closed'; owner_operator_id: string | null; last_inbound_at: Date | null; created: boolean }>`
    INSERT INTO threads AS t (org_id, phone_number_ref, contact_id, last_inbound_at, last_message_at)
    VALUES (${values.orgId}, ${values.phoneNumberRef}, ${values.contactId}, ${values.inboundAt}::timestamptz,
            coalesce(${values.inboundAt}::timestamptz, now()))
    ON CONFLICT (org_id, phone_number_ref, contact_id) DO UPDATE SET
      last_inbound_at = greatest(t.last_inbound_at, excluded.last_inbound_at),
      last_message_at = CASE WHEN ${values.inboundAt}::timestamptz IS NULL THEN t.last_message_at
                             ELSE greatest(t.last_message_at, excluded.last_message_at) END
    RETURNING id, status, owner_operator_id, last_inbound_at, (xmax = 0) AS created`.execute(tx);
  const row = result.rows[0]!;
  return { id: row.id, status: row.status, ownerOperatorId: row.owner_operator_id, lastInboundAt: row.last_inbound_at, created: row.created };
}

/** One (business number, contact) of an inbound batch (see upsertInboundThreads). */
export interface InboundThreadInput {
  orgId: string;
  phoneNumberRef: string;
  contactId: string;
  /** Time of the latest inbound message of this thread in the batch. */
  inboundAt: Date;
}

export interface UpsertedInboundThread extends UpsertedThread {
  orgId: string;
  phoneNumberRef: string;
  contactId: string;
}

/**
 * upsertThread for a batch of inbound messages in one statement: rows are inserted (or locked and
 * advanced) in input order, so callers pass inputs sorted by one key and concurrent batches lock in
 * one order. last_inbound_at and last_message_at only move forward.
 * @param inputs distinct (orgId, phoneNumberRef, contactId) triples (a row cannot be upserted twice in one statement)
 * @returns the threads, in no particular order (match them by orgId, phoneNumberRef, contactId)
 */
export async function upsertInboundThreads(tx: Tx, inputs: InboundThreadInput[]): Promise<UpsertedInboundThread[]> {
  if (inputs.length === 0) return [];
  const result = await sql<{
    id: string; org_id: string; phone_number_ref: string; contact_id: string; status: 'open' | 'closed';
    owner_operator_id: string | null; last_inbound_at: Date | null; created: boolean;
  }>`/* prepared: inbound_upsert_threads */
    INSERT INTO threads AS t (org_id, phone_number_ref, contact_id, last_inbound_at, last_message_at)
    SELECT org_id, phone_number_ref, contact_id, inbound_at, inbound_at
    FROM unnest(${inputs.map((i) => i.orgId)}::uuid[], ${inputs.map((i) => i.phoneNumberRef)}::uuid[], ${inputs.map((i) => i.contactId)}::uuid[],
                ${inputs.map((i) => i.inboundAt)}::timestamptz[]) WITH ORDINALITY AS x(org_id, phone_number_ref, contact_id, inbound_at, ord)
    ORDER BY ord
    ON CONFLICT (org_id, phone_number_ref, contact_id) DO UPDATE SET
      last_inbound_at = greatest(t.last_inbound_at, excluded.last_inbound_at),
      last_message_at = greatest(t.last_message_at, excluded.last_message_at)
    RETURNING id, org_id, phone_number_ref, contact_id, status, owner_operator_id, last_inbound_at, (xmax = 0) AS created`.execute(tx);
  return result.rows.map((row) => ({
    id: row.id, orgId: row.org_id, phoneNumberRef: row.phone_number_ref, contactId: row.contact_id, status: row.status,
    ownerOperatorId: row.owner_operator_id, lastInboundAt: row.last_inbound_at, created: row.created,
  }));
}

/** Reopens closed threads that just received an inbound message (one statement for a batch). */
export async function reopenThreads(tx: Tx, threads: Array<{ orgId: string; id: string }>): Promise<void> {
  if (threads.length === 0) return;
  await sql`
    UPDATE threads t SET status = 'open'
    FROM unnest(${threads.map((t) => t.orgId)}::uuid[], ${threads.map((t) => t.id)}::uuid[]) AS x(org_id, id)
    WHERE t.org_id = x.org_id AND t.id = x.id AND t.status = 'closed'`.execute(tx);
}

/** Advances last_message_at (outbound sends); never moves it back. */
export async function touchThread(tx: Tx, orgId: string, threadId: string): Promise<void> {
  await sql`UPDATE threads SET last_message_at = greatest(last_message_at, now()) WHERE org_id = ${orgId} AND id = ${threadId}`.execute(tx);
}

/** The thread with its business number, locked FOR UPDATE (sending serialises on the thread). */
export async function lockThreadForSend(tx: Tx, orgId: string, threadId: string) {
  return tx
    .selectFrom('threads')
    .innerJoin('phone_numbers', (join) =>
      join.onRef('phone_numbers.org_id', '=', 'threads.org_id').onRef('phone_numbers.id', '=', 'threads.phone_number_ref'),
    )
    .innerJoin('contacts', (join) => join.onRef('contacts.org_id', '=', 'threads.org_id').onRef('contacts.id', '=', 'threads.contact_id'))
    .select([
      'threads.id',
      'threads.phone_number_ref',
      'threads.owner_operator_id',
      'threads.last_inbound_at',
      'phone_numbers.status as phone_number_status',
      'contacts.e164',
      'contacts.bsuid',
      'contacts.blocked_at',
    ])
    .where('threads.org_id', '=', orgId)
    .where('threads.id', '=', threadId)
    .forUpdate('threads')
    .executeTakeFirst();
}

/** Claims an unowned thread for an operator; returns true when the operator owns it afterwards. */
export async function claimThreadOwnership(tx: Tx, orgId: string, threadId: string, operatorId: string): Promise<boolean> {
  const result = await tx
    .updateTable('threads')
    .set({ owner_operator_id: operatorId })
    .where('org_id', '=', orgId)
    .where('id', '=', threadId)
    .where('owner_operator_id', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function isCowriter(tx: Executor, orgId: string, threadId: string, operatorId: string): Promise<boolean> {
  const row = await tx
    .selectFrom('thread_collaborators')
    .select('operator_id')
    .where('org_id', '=', orgId)
    .where('thread_id', '=', threadId)
    .where('operator_id', '=', operatorId)
    .executeTakeFirst();
  return row !== undefined;
}

export async function addCowriter(tx: Tx, orgId: string, threadId: string, operatorId: string): Promise<void> {
  await tx
    .insertInto('thread_collaborators')
    .values({ org_id: orgId, thread_id: threadId, operator_id: operatorId })
    .onConflict((oc) => oc.columns(['org_id', 'thread_id', 'operator_id']).doNothing())
    .execute();
}

const threadListColumns = [
  'threads.id',
  'threads.status',
  'threads.owner_operator_id',
  'threads.last_inbound_at',
  'threads.last_message_at',
  'threads.created_at',
  'contacts.id as contact_id',
  'contacts.e164',
  'contacts.wa_id',
  'contacts.bsuid',
  'contacts.parent_bsuid',
  'contacts.username',
  'contacts.profile_name',
  'contacts.blocked_at',
  'phone_numbers.phone_number_id',
  'phone_numbers.display_phone_number',
] as const;


/** Unread counts stop here: the inbox shows "99+". */
export const UNREAD_COUNT_CAP = 100;

/** The last message of a thread, for list previews. */
export interface LastMessagePreview {
  type: string;
  direction: 'inbound' | 'outbound';
  status: string;
  content: Record<string, unknown>;
}

/**
 * @param viewerId the operator reading the list: adds `unread_count`, their unread inbound
 *   messages (capped at UNREAD_COUNT_CAP). Unread means newer than both the viewer's read marker
 *   and the thread's newest outbound message: a reply, from any operator, the inbox or the API,
 *   answers every inbound message before it, so it marks them read for everyone.
 */
function threadListQuery(db: Executor, orgId: string, viewerId?: string) {
  return db
    .selectFrom('threads')
    .innerJoin('contacts', (join) => join.onRef('contacts.org_id', '=', 'threads.org_id').onRef('contacts.id', '=', 'threads.contact_id'))
    .innerJoin('phone_numbers', (join) =>
      join.onRef('phone_numbers.org_id', '=', 'threads.org_id').onRef('phone_numbers.id', '=', 'threads.phone_number_ref'),
    )
    .leftJoin('operators as owner', (join) => join.onRef('owner.org_id', '=', 'threads.org_id').onRef('owner.id', '=', 'threads.owner_operator_id'))
    .select(threadListColumns)
    .select(['owner.name as owner_name', 'owner.email as owner_email'])
    .select(sql<string>`to_char(threads.last_message_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursor_at'))
    // Newest message of the thread (index messages_thread_created_at_idx), preview-sized.
    .select(sql<LastMessagePreview | null>`(
      SELECT jsonb_build_object('type', m.type, 'direction', m.direction, 'status', m.status,
        'content', jsonb_strip_nulls(jsonb_build_object(
          'body', left(coalesce(m.content->>'body', m.content->>'caption', m.content->>'text', m.content->>'name', m.content->>'emoji', m.content->>'title'), 200),
          'filename', m.content->>'filename')))
      FROM messages m WHERE m.org_id = threads.org_id AND m.thread_id = threads.id
      ORDER BY m.created_at DESC, m.id DESC LIMIT 1)`.as('last_message'))
    .select(sql<number>`(
      SELECT count(*)::int FROM (
        SELECT 1 FROM messages m
        WHERE m.org_id = threads.org_id AND m.thread_id = threads.id AND m.direction = 'inbound'
          AND m.created_at > greatest(
            coalesce((SELECT r.last_read_at FROM thread_reads r
                      WHERE r.org_id = threads.org_id AND r.thread_id = threads.id AND r.operator_id = ${viewerId ?? null}::uuid), '-infinity'),
            coalesce((SELECT max(o.created_at) FROM messages o
                      WHERE o.org_id = threads.org_id AND o.thread_id = threads.id AND o.direction = 'outbound'), '-infinity'))
        LIMIT ${UNREAD_COUNT_CAP}) unread)`.as('unread_count'))
    .where('threads.org_id', '=', orgId);
}

export type ThreadListRow = Awaited<ReturnType<typeof findThread>> & object;

export async function findThread(db: Executor, orgId: string, threadId: string, viewerId?: string) {
  return threadListQuery(db, orgId, viewerId).where('threads.id', '=', threadId).executeTakeFirst();
}

/** Inbox filters of the thread list; all optional. */
export interface ThreadListFilter {
  /** The viewer: unread counts, and `assignee: 'me'`. */
  viewerId?: string;
  assignee?: 'me' | 'unassigned' | 'all';
  status?: 'open' | 'closed' | 'all';
  /** Matches the customer's profile name (case-insensitive substring) or number (digits substring). */
  search?: string;
}

/**
 * One page of the organization's threads, newest activity first. Keyset pagination on
 * (last_message_at, id) — index threads_org_id_last_message_at_idx — never OFFSET.
 * @param after the (last_message_at, id) of the last row of the previous page
 */
export async function listThreads(db: Executor, orgId: string, limit: number, after?: KeysetPosition, filter: ThreadListFilter = {}) {
  let query = threadListQuery(db, orgId, filter.viewerId);
  if (after) {
    query = query.where(sql<boolean>`(threads.last_message_at, threads.id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
  }
  if (filter.status && filter.status !== 'all') query = query.where('threads.status', '=', filter.status);
  if (filter.assignee === 'unassigned') query = query.where('threads.owner_operator_id', 'is', null);
  if (filter.assignee === 'me' && filter.viewerId) query = query.where('threads.owner_operator_id', '=', filter.viewerId);
  const search = filter.search?.trim();
  if (search) {
    const digits = search.replace(/\D/g, '');
    const pattern = `%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    // `@name` finds a username; a BSUID is matched whole (it is an opaque id, never a fragment).
    const username = `%${search.replace(/^@/, '').replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    query = query.where((eb) => eb.or([
      eb('contacts.profile_name', 'ilike', pattern),
      eb('contacts.username', 'ilike', username),
      eb('contacts.bsuid', '=', search),
      ...(digits.length >= 3 ? [eb('contacts.e164', 'like', `%${digits}%`)] : []),
    ]));
  }
  return query.orderBy('threads.last_message_at', 'desc').orderBy('threads.id', 'desc').limit(limit).execute();
}
