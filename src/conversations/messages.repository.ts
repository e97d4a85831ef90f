/**
 * SQL for messages (inbound batches: inbound/inbound-messages.repository.ts): outbound inserts keyed by
 * Idempotency-Key, forward-only status updates, statuses that arrive before their wamid
 * (`pending_statuses`), and the message page of a thread.
 */
import { sql } from 'kysely';
import type { Tx, Executor } from '../db/database.js';
import { toJsonb } from '../db/json.js';
import type { MessageRow, MessageStatus } from '../db/schema.js';
import type { KeysetPosition } from '../shared/keyset.js';

export type DeliveryStatus = 'sent' | 'delivered' | 'read' | 'played' | 'failed';

/** The columns of an outbound message as it is queued. */
export interface OutboundMessageValues {
  orgId: string;
  threadId: string;
  /** The thread's business number (`phone_numbers.id`). */
  phoneNumberRef: string;
  /** Message type (`text`, `template`, …) and its stored content (message-content.ts toStoredContent). */
  type: string;
  content: Record<string, unknown>;
  sentByOperatorId: string;
  /** `Idempotency-Key` of the request, unique per organization; null when the caller sent none. */
  idempotencyKey: string | null;
  /** SHA-256 (hex) of the request the key belongs to, compared when the key comes again; null without a key. */
  requestHash: string | null;
}

/**
 * Inserts an outbound message in `queued`.
 * @returns the new id, or undefined when the Idempotency-Key is already used in the organization
 */
export async function insertOutboundMessage(
  tx: Tx,
  values: OutboundMessageValues,
): Promise<string | undefined> {
  const result = await sql<{ id: string }>`
    INSERT INTO messages (org_id, thread_id, phone_number_ref, direction, type, content, status, sent_by_operator_id, idempotency_key, request_hash)
    VALUES (${values.orgId}, ${values.threadId}, ${values.phoneNumberRef}, 'outbound', ${values.type}, ${toJsonb(values.content)}::jsonb,
            'queued', ${values.sentByOperatorId}, ${values.idempotencyKey}, ${values.requestHash})
    ON CONFLICT (org_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING id`.execute(tx);
  return result.rows[0]?.id;
}

export async function findMessageByIdempotencyKey(db: Executor, orgId: string, key: string) {
  return db
    .selectFrom('messages')
    .select(['id', 'thread_id', 'request_hash'])
    .where('org_id', '=', orgId)
    .where('idempotency_key', '=', key)
    .executeTakeFirst();
}

export async function findMessage(db: Executor, orgId: string, id: string): Promise<MessageRow | undefined> {
  return db.selectFrom('messages').selectAll().where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
}

/** The message of a business number with this wamid (inbound or outbound). */
export async function findMessageByWamid(db: Executor, orgId: string, phoneNumberRef: string, wamid: string) {
  return db
    .selectFrom('messages')
    .select(['id', 'direction', 'thread_id', 'status'])
    .where('org_id', '=', orgId)
    .where('phone_number_ref', '=', phoneNumberRef)
    .where('provider_message_id', '=', wamid)
    .executeTakeFirst();
}

/**
 * Serialises everything that concerns one wamid of one number until the transaction ends. The
 * inbound path (status for an unknown wamid → pending) and the dispatcher (record wamid → apply
 * pending) both take it, so a status can never slip between the two and stay pending forever.
 */
export async function lockWamid(tx: Tx, phoneNumberRef: string, wamid: string): Promise<void> {
  await sql`SELECT pg_advisory_xact_lock(hashtextextended(${`${phoneNumberRef}:${wamid}`}, 0))`.execute(tx);
}

/**
 * Moves an outbound message's status forward: queued < sending < sent < delivered < read < played;
 * `failed` is terminal and reachable from any state. Anything else is ignored. Writes no event:
 * call it through message-status.ts advanceMessageStatus, which does.
 * @returns the new status when the row changed, undefined when the update was a regression or no-op
 */
export async function updateMessageStatusForward(
  tx: Tx,
  values: { orgId: string; messageId: string; status: MessageStatus; errorCode?: number | null; errorTitle?: string | null },
): Promise<MessageStatus | undefined> {
  const failed = values.status === 'failed';
  const result = await sql<{ status: MessageStatus }>`
    UPDATE messages SET
      status = ${values.status},
      status_updated_at = now(),
      error_code = CASE WHEN ${failed} THEN ${values.errorCode ?? null}::integer ELSE error_code END,
      error_title = CASE WHEN ${failed} THEN ${values.errorTitle ?? null}::text ELSE error_title END
    WHERE org_id = ${values.orgId} AND id = ${values.messageId} AND direction = 'outbound'
      AND status <> 'failed'
      AND (${failed} OR message_status_rank(status) < message_status_rank(${values.status}))
    RETURNING status`.execute(tx);
  return result.rows[0]?.status;
}

/** Records the wamid Meta returned for an outbound message. */
export async function setProviderMessageId(tx: Tx, orgId: string, messageId: string, wamid: string): Promise<void> {
  await tx
    .updateTable('messages')
    .set({ provider_message_id: wamid })
    .where('org_id', '=', orgId)
    .where('id', '=', messageId)
    .execute();
}

/** Keeps a status whose wamid is not recorded yet; a redelivery of the same status is a no-op. */
export async function insertPendingStatus(
  tx: Tx,
  values: {
    orgId: string;
    phoneNumberRef: string;
    wamid: string;
    status: DeliveryStatus;
    providerTimestamp: Date;
    errorCode: number | null;
    errorTitle: string | null;
    payload: unknown;
  },
): Promise<void> {
  await sql`
    INSERT INTO pending_statuses (org_id, phone_number_ref, provider_message_id, status, provider_timestamp, error_code, error_title, payload)
    VALUES (${values.orgId}, ${values.phoneNumberRef}, ${values.wamid}, ${values.status}, ${values.providerTimestamp},
            ${values.errorCode}, ${values.errorTitle}, ${toJsonb(values.payload)}::jsonb)
    ON CONFLICT (org_id, phone_number_ref, provider_message_id, status) DO NOTHING`.execute(tx);
}

/** Removes and returns the pending statuses of a wamid, oldest status first. */
export async function takePendingStatuses(tx: Tx, orgId: string, phoneNumberRef: string, wamid: string) {
  const result = await sql<{ status: DeliveryStatus; error_code: number | null; error_title: string | null }>`
    DELETE FROM pending_statuses
    WHERE org_id = ${orgId} AND phone_number_ref = ${phoneNumberRef} AND provider_message_id = ${wamid}
    RETURNING status, error_code, error_title, provider_timestamp`.execute(tx);
  return result.rows;
}

const messageColumns = [
  'id', 'thread_id', 'direction', 'type', 'status', 'provider_message_id', 'content', 'error_code', 'error_title', 'provider_timestamp', 'created_at',
] as const;

/**
 * One page of a thread's messages, newest first, keyset on (created_at, id) — index
 * messages_thread_created_at_idx — never OFFSET.
 */
export async function listThreadMessages(db: Executor, orgId: string, threadId: string, limit: number, after?: KeysetPosition) {
  let query = db
    .selectFrom('messages')
    .select(messageColumns)
    .select(sql<string>`to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursor_at'))
    .where('org_id', '=', orgId)
    .where('thread_id', '=', threadId);
  if (after) query = query.where(sql<boolean>`(created_at, id) < (${after.at}::timestamptz, ${after.id}::uuid)`);
  return query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}

/**
 * Records the outcome of accepted sends in one statement: the wamid Meta returned (none for read
 * receipts) and `sent`, unless the message already moved further (a status webhook won the race).
 */
export async function recordSentMessages(tx: Tx, rows: Array<{ orgId: string; messageId: string; wamid: string | null }>): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    UPDATE messages m SET
      provider_message_id = coalesce(x.wamid, m.provider_message_id),
      status = CASE WHEN m.status <> 'failed' AND message_status_rank(m.status) < message_status_rank('sent') THEN 'sent' ELSE m.status END,
      status_updated_at = now()
    FROM unnest(${rows.map((r) => r.orgId)}::uuid[], ${rows.map((r) => r.messageId)}::uuid[], ${rows.map((r) => r.wamid)}::text[]) AS x(org_id, id, wamid)
    WHERE m.org_id = x.org_id AND m.id = x.id`.execute(tx);
}

/** lockWamid for many wamids at once, in one fixed order (by lock key) so two batches cannot deadlock. */
export async function lockWamids(tx: Tx, rows: Array<{ phoneNumberRef: string; wamid: string }>): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    SELECT pg_advisory_xact_lock(k.key) FROM (
      SELECT DISTINCT hashtextextended(x.ref || ':' || x.wamid, 0) AS key
      FROM unnest(${rows.map((r) => r.phoneNumberRef)}::text[], ${rows.map((r) => r.wamid)}::text[]) AS x(ref, wamid)
      ORDER BY 1) k`.execute(tx);
}

/** Removes and returns the pending statuses of many wamids. */
export async function takePendingStatusesFor(tx: Tx, rows: Array<{ orgId: string; phoneNumberRef: string; wamid: string }>) {
  if (rows.length === 0) return [];
  const result = await sql<{ org_id: string; phone_number_ref: string; provider_message_id: string; status: DeliveryStatus; error_code: number | null; error_title: string | null }>`
    DELETE FROM pending_statuses p
    USING unnest(${rows.map((r) => r.orgId)}::uuid[], ${rows.map((r) => r.phoneNumberRef)}::uuid[], ${rows.map((r) => r.wamid)}::text[]) AS x(org_id, ref, wamid)
    WHERE p.org_id = x.org_id AND p.phone_number_ref = x.ref AND p.provider_message_id = x.wamid
    RETURNING p.org_id, p.phone_number_ref, p.provider_message_id, p.status, p.error_code, p.error_title`.execute(tx);
  return result.rows;
}
