/**
 * SQL of the domain-event outbox (`outbox_events`): appending events inside the caller's
 * transaction, the relay's claim / order checks / publish stamp, retention, and the stream read of
 * Server-Sent Events.
 */
import { type RawBuilder, sql } from 'kysely';
import type { Tx, Executor } from '../db/database.js';
import { toJsonb } from '../db/json.js';
import { EVENT_VERSION, type EventType, type NewEvent } from './event-types.js';


/**
 * Advisory lock (bigint key, transaction level) the relay holds while it stamps `stream_position`
 * and until it commits, so positions become visible in increasing order (migration 0005).
 * The value is the ASCII bytes "wahub" followed by 0x0005: unlikely to collide with other locks.
 */
export const STREAM_POSITION_LOCK_KEY = 33602623502417925n;

/**
 * First key of the two-key advisory locks the relay takes per aggregate (`pg_try_advisory_xact_lock(
 * AGGREGATE_LOCK_CLASS, hashtext(aggregate_id))`): two relays never publish one aggregate at once.
 */
export const AGGREGATE_LOCK_CLASS = 0x57414855; // "WAHU"

/** Channel NOTIFYed with an organization id whenever events of that organization are published. */
export const EVENTS_NOTIFY_CHANNEL = 'wahub_events';

/**
 * Appends events in the given order (their `seq` follows it), in one statement whatever their
 * number. The events travel as ONE JSON document (a VALUES list of an inbound batch's hundreds of
 * events cost PostgreSQL more to parse and plan than to insert, and text[] parameters of JSON were
 * escaped twice).
 */
export async function insertEvents(tx: Tx, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((e) => ({
    org_id: e.orgId, aggregate_id: e.aggregateId, aggregate_type: e.aggregateType, event_type: e.type, payload: e.payload,
    metadata: e.metadata ?? {}, correlation_id: e.correlationId,
  }));
  await sql`/* prepared: insert_events */
    INSERT INTO outbox_events (org_id, aggregate_id, aggregate_type, event_type, event_version, payload, metadata, correlation_id)
    SELECT org_id, aggregate_id, aggregate_type, event_type, ${EVENT_VERSION}, payload, metadata, correlation_id
    FROM ROWS FROM (jsonb_to_recordset(${toJsonb(rows)}::jsonb) AS (
           org_id uuid, aggregate_id uuid, aggregate_type text, event_type text, payload jsonb, metadata jsonb, correlation_id text))
         WITH ORDINALITY AS x(org_id, aggregate_id, aggregate_type, event_type, payload, metadata, correlation_id, ord)
    ORDER BY ord`.execute(tx);
}

export interface MessageEventInput {
  orgId: string;
  messageId: string;
  type: Extract<EventType, 'message.received' | 'message.queued' | 'message.status_changed' | 'message.failed'>;
  correlationId: string | null;
  metadata: Record<string, unknown>;
}

/** The SQL expression giving each field of a message event's payload (see messageEventPayload). */
export interface MessageEventPayloadSql {
  messageId: RawBuilder<unknown>;
  threadId: RawBuilder<unknown>;
  contactId: RawBuilder<unknown>;
  phoneNumberRef: RawBuilder<unknown>;
  phoneNumberId: RawBuilder<unknown>;
  direction: RawBuilder<unknown>;
  type: RawBuilder<unknown>;
  status: RawBuilder<unknown>;
  errorCode: RawBuilder<unknown>;
  errorTitle: RawBuilder<unknown>;
  providerMessageId: RawBuilder<unknown>;
}

/**
 * The payload of every `message.*` event, built by PostgreSQL: one definition for the writers that
 * read it from a stored message (insertMessageEvents) and from an inbound batch's input
 * (inbound/inbound-messages.repository.ts). It holds the ids the inbox needs, direction, type,
 * status and error; never the content. Pass fixed SQL (column references, literals) only, so that
 * a prepared statement keeps one text.
 */
export function messageEventPayload(f: MessageEventPayloadSql): RawBuilder<unknown> {
  return sql`jsonb_build_object(
    'message_id', ${f.messageId}, 'thread_id', ${f.threadId}, 'contact_id', ${f.contactId},
    'phone_number_ref', ${f.phoneNumberRef}, 'phone_number_id', ${f.phoneNumberId},
    'direction', ${f.direction}, 'type', ${f.type}, 'status', ${f.status},
    'error_code', ${f.errorCode}, 'error_title', ${f.errorTitle}, 'provider_message_id', ${f.providerMessageId})`;
}

/**
 * Appends message events whose payload is read from the message as it is now (inside the caller's
 * transaction): ids the inbox needs, direction, type, status and error; never the content.
 * @param onlyStatus when set, a message whose status is not this one is skipped (used after a
 *   conditional status update: no event when the update did not apply)
 */
export async function insertMessageEvents(tx: Tx, inputs: MessageEventInput[], onlyStatus?: string): Promise<void> {
  if (inputs.length === 0) return;
  await sql`
    INSERT INTO outbox_events (org_id, aggregate_id, aggregate_type, event_type, event_version, payload, metadata, correlation_id)
    SELECT m.org_id, m.id, 'message', x.event_type, ${EVENT_VERSION},
           ${messageEventPayload({
             messageId: sql`m.id`, threadId: sql`m.thread_id`, contactId: sql`t.contact_id`, phoneNumberRef: sql`m.phone_number_ref`,
             phoneNumberId: sql`p.phone_number_id`, direction: sql`m.direction`, type: sql`m.type`, status: sql`m.status`,
             errorCode: sql`m.error_code`, errorTitle: sql`m.error_title`, providerMessageId: sql`m.provider_message_id`,
           })},
           x.metadata::jsonb, x.correlation_id
    FROM unnest(${inputs.map((i) => i.orgId)}::uuid[], ${inputs.map((i) => i.messageId)}::uuid[], ${inputs.map((i) => i.type)}::text[],
                ${inputs.map((i) => i.correlationId)}::text[], ${inputs.map((i) => toJsonb(i.metadata))}::text[])
         WITH ORDINALITY AS x(org_id, id, event_type, correlation_id, metadata, ord)
    JOIN messages m ON m.org_id = x.org_id AND m.id = x.id
    JOIN threads t ON t.org_id = m.org_id AND t.id = m.thread_id
    JOIN phone_numbers p ON p.org_id = m.org_id AND p.id = m.phone_number_ref
    WHERE ${onlyStatus ?? null}::text IS NULL OR m.status = ${onlyStatus ?? null}::text
    ORDER BY x.ord`.execute(tx);
}

/** An unpublished event as the relay sees it. */
export interface OutboxEvent {
  id: string;
  seq: string;
  org_id: string;
  aggregate_id: string;
  aggregate_type: string;
  event_type: string;
  event_version: number;
  payload: Record<string, unknown>;
  metadata: Record<string, unknown>;
  correlation_id: string | null;
  created_at: Date;
  /** Set once its HTTP deliveries exist (null: not yet). */
  deliveries_created_at: Date | null;
}

/** Which relay cursor a claim follows: NATS publication, or the HTTP deliveries' creation. */
export type RelayCursor = 'published' | 'deliveries';

const AWAITING: Record<RelayCursor, ReturnType<typeof sql.raw>> = {
  published: sql.raw('published_at IS NULL'),
  // Every event with deliveries_created_at null is unpublished too: the first test uses the unpublished index.
  deliveries: sql.raw('published_at IS NULL AND deliveries_created_at IS NULL'),
};

/**
 * Locks up to `limit` unpublished events, oldest (`seq`) first, skipping rows another relay holds.
 * The caller keeps the transaction open while it publishes, then stamps them with markPublished.
 */
export async function claimUnpublishedEvents(tx: Tx, limit: number, cursor: RelayCursor = 'published'): Promise<OutboxEvent[]> {
  const result = await sql<OutboxEvent>`
    SELECT id, seq, org_id, aggregate_id, aggregate_type, event_type, event_version, payload, metadata, correlation_id, created_at, deliveries_created_at
    FROM outbox_events WHERE ${AWAITING[cursor]}
    ORDER BY seq LIMIT ${limit}
    FOR UPDATE SKIP LOCKED`.execute(tx);
  return result.rows;
}

/** Takes the per-aggregate advisory locks it can; returns the aggregate ids now held by this transaction. */
export async function tryLockAggregates(tx: Tx, aggregateIds: string[]): Promise<Set<string>> {
  if (aggregateIds.length === 0) return new Set();
  const result = await sql<{ aggregate_id: string }>`
    SELECT a::text AS aggregate_id FROM (SELECT DISTINCT a FROM unnest(${aggregateIds}::uuid[]) AS a ORDER BY a) s
    WHERE pg_try_advisory_xact_lock(${AGGREGATE_LOCK_CLASS}, hashtext(a::text))`.execute(tx);
  return new Set(result.rows.map((row) => row.aggregate_id));
}

/**
 * For each aggregate, the lowest `seq` of an unpublished event that is NOT among `claimedIds` (one
 * another relay holds, or one beyond the batch). Claimed events at or after it must wait.
 */
export async function findUnclaimedEarliest(tx: Tx, aggregateIds: string[], claimedIds: string[], cursor: RelayCursor = 'published'): Promise<Map<string, bigint>> {
  if (aggregateIds.length === 0) return new Map();
  const result = await sql<{ aggregate_id: string; seq: string }>`
    SELECT aggregate_id, min(seq) AS seq FROM outbox_events
    WHERE ${AWAITING[cursor]} AND aggregate_id = ANY(${aggregateIds}::uuid[]) AND NOT (id = ANY(${claimedIds}::uuid[]))
    GROUP BY aggregate_id`.execute(tx);
  return new Map(result.rows.map((row) => [row.aggregate_id, BigInt(row.seq)]));
}

/**
 * Creates one pending delivery per (event, subscription of its organization that wants its type),
 * in event order. Redelivery after a crash is harmless (unique per subscription × event).
 * @returns deliveries created
 */
export async function insertDeliveriesFor(tx: Tx, eventIds: string[]): Promise<number> {
  if (eventIds.length === 0) return 0;
  const result = await sql`
    INSERT INTO event_deliveries (org_id, subscription_id, event_id, aggregate_id, event_seq)
    SELECT e.org_id, s.id, e.id, e.aggregate_id, e.seq
    FROM outbox_events e
    JOIN event_subscriptions s ON s.org_id = e.org_id AND (e.event_type = ANY(s.event_types) OR '*' = ANY(s.event_types))
    WHERE e.id = ANY(${eventIds}::uuid[])
    ORDER BY e.seq, s.id
    ON CONFLICT (subscription_id, event_id) DO NOTHING`.execute(tx);
  return Number(result.numAffectedRows ?? 0);
}

/** Stamps events whose HTTP deliveries were created while NATS did not acknowledge them. */
export async function markDeliveriesCreated(tx: Tx, eventIds: string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await sql`UPDATE outbox_events SET deliveries_created_at = now() WHERE id = ANY(${eventIds}::uuid[]) AND deliveries_created_at IS NULL`.execute(tx);
}

/**
 * Marks events published, in the given (publish) order: under STREAM_POSITION_LOCK_KEY, each gets
 * `stream_position = nextval('outbox_events_stream_position_seq')`, then `NOTIFY wahub_events` once
 * per organization. The lock is held until the caller commits, which makes positions
 * commit-ordered: a reader that saw position n will never later see a new position < n.
 * Call it last in the relay's transaction and commit right after.
 */
export async function markPublished(tx: Tx, eventIds: string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await sql`SELECT pg_advisory_xact_lock(${STREAM_POSITION_LOCK_KEY}::bigint)`.execute(tx);
  const result = await sql<{ org_id: string }>`
    WITH positions AS (
      SELECT x.id, nextval('outbox_events_stream_position_seq') AS position
      FROM unnest(${eventIds}::uuid[]) WITH ORDINALITY AS x(id, ord)
    )
    UPDATE outbox_events e SET published_at = now(), stream_position = positions.position,
      deliveries_created_at = coalesce(e.deliveries_created_at, now())
    FROM positions WHERE e.id = positions.id AND e.published_at IS NULL
    RETURNING e.org_id`.execute(tx);
  const orgIds = [...new Set(result.rows.map((row) => row.org_id))].sort();
  await sql`SELECT pg_notify(${EVENTS_NOTIFY_CHANNEL}, o) FROM unnest(${orgIds}::text[]) AS o`.execute(tx);
}

/** Events of an organization published after `afterPosition`, in stream order (Server-Sent Events). */
export async function listPublishedEventsAfter(db: Executor, orgId: string, afterPosition: string, limit: number) {
  return db
    .selectFrom('outbox_events')
    .select(['id', 'stream_position', 'aggregate_type', 'aggregate_id', 'event_type', 'event_version', 'payload', 'correlation_id', 'created_at'])
    .where('org_id', '=', orgId)
    .where('stream_position', '>', afterPosition)
    .orderBy('stream_position')
    .limit(limit)
    .execute();
}

/**
 * Deletes up to `limit` events published before `cutoff` that no delivery is still waiting for.
 * @returns rows deleted (call again until 0)
 */
export async function deletePublishedEventsBefore(db: Executor, cutoff: Date, limit: number): Promise<number> {
  const result = await sql`
    DELETE FROM outbox_events WHERE id IN (
      SELECT e.id FROM outbox_events e
      WHERE e.published_at IS NOT NULL AND e.published_at < ${cutoff}
        AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = e.id AND d.state = 'pending')
      LIMIT ${limit})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

/** Deletes every event (published or not) about these aggregates (GDPR erasure). */
export async function deleteEventsOfAggregates(tx: Tx, orgId: string, aggregateIds: string[]): Promise<number> {
  if (aggregateIds.length === 0) return 0;
  const result = await sql`
    DELETE FROM outbox_events WHERE org_id = ${orgId} AND aggregate_id = ANY(${aggregateIds}::uuid[])`.execute(tx);
  return Number(result.numAffectedRows ?? 0);
}
