/**
 * SQL of an inbound batch's messages: the messages and their domain events in ONE statement. The
 * events (`contact.created`, `conversation.started`, `message.received`, with the payloads
 * conversations/open-conversation.ts and messageEventPayload give) are built by
 * PostgreSQL from the rows just inserted, so a duplicate (a redelivered wamid) raises none, and
 * neither the payloads nor another round trip cross the wire (bench/inbound: the batch's JSON was the largest write of the hub).
 */
import { sql } from 'kysely';
import type { Tx } from '../db/database.js';
import { asStoredText, toJsonb } from '../db/json.js';
import { EVENT_VERSION } from '../events/event-types.js';
import { messageEventPayload } from '../events/events.repository.js';

/** One inbound message of a batch, with what its events need. */
export interface InboundMessageRow {
  /**
   * The new message's id, a UUIDv7 (time-ordered, RFC 9562): consecutive messages then land on the
   * rightmost pages of the id indexes instead of random ones, which at 10 M messages no longer
   * fit in shared_buffers (bench/growth). Unused when the wamid is a duplicate.
   */
  id: string;
  orgId: string;
  threadId: string;
  phoneNumberRef: string;
  /** The business number's `phone_number_id` (Meta id, or `whatsapp:+E164` for Twilio). */
  phoneNumberId: string;
  contactId: string;
  clientId: string;
  /** The customer, E.164 and wa_id, BSUID, parent BSUID and username, as the message named them (for `contact.created`). */
  e164: string | null;
  waId: string | null;
  bsuid: string | null;
  parentBsuid: string | null;
  username: string | null;
  type: string;
  content: Record<string, unknown>;
  /** Meta wamid or Twilio MessageSid. */
  wamid: string;
  providerTimestamp: Date;
  raw: unknown;
  /** A blocked contact's message is stored flagged and raises no events at all. */
  blocked: boolean;
  /** The upsert created the contact / the thread: the first stored message of each announces it. */
  contactCreated: boolean;
  threadCreated: boolean;
  /** Request id of the webhook that carried the message. */
  correlationId: string | null;
}

/**
 * Key of an inbound message in a batch: a number's wamids are unique. The wamid is taken as stored
 * (asStoredText), so two ids PostgreSQL cannot tell apart are one message here too.
 */
export function inboundMessageKey(orgId: string, phoneNumberRef: string, wamid: string): string {
  return `${orgId}\u0000${phoneNumberRef}\u0000${asStoredText(wamid)}`;
}

/**
 * Inserts the messages in input order (`created_at` is clock_timestamp(), so it follows that
 * order), skipping every wamid the number already has, and appends the events of those stored, in
 * that order: for each message `contact.created` (first stored message of a created contact),
 * `conversation.started` (first of a created thread), then `message.received`.
 * @param rows distinct (orgId, phoneNumberRef, wamid) triples
 * @returns the new messages' ids by inboundMessageKey; duplicates are absent
 */
export async function insertInboundMessagesWithEvents(tx: Tx, rows: InboundMessageRow[]): Promise<Map<string, string>> {
  const inserted = new Map<string, string>();
  if (rows.length === 0) return inserted;
  // The batch travels as ONE JSON document: content and raw stay objects inside it, so they are
  // neither stringified twice nor escaped again as elements of a text[] literal.
  const json = rows.map((r) => ({
    id: r.id, org_id: r.orgId, thread_id: r.threadId, phone_number_ref: r.phoneNumberRef, phone_number_id: r.phoneNumberId, contact_id: r.contactId,
    client_id: r.clientId, e164: r.e164, wa_id: r.waId, bsuid: r.bsuid, parent_bsuid: r.parentBsuid, username: r.username, type: r.type, content: r.content, wamid: r.wamid, provider_timestamp: r.providerTimestamp,
    raw: r.raw ?? null, blocked: r.blocked, contact_created: r.contactCreated, thread_created: r.threadCreated, correlation_id: r.correlationId,
  }));
  const result = await sql<{ id: string; org_id: string; phone_number_ref: string; provider_message_id: string }>`/* prepared: inbound_insert_messages */
    WITH input AS (
      SELECT * FROM ROWS FROM (jsonb_to_recordset(${toJsonb(json)}::jsonb) AS (
             id uuid, org_id uuid, thread_id uuid, phone_number_ref uuid, phone_number_id text, contact_id uuid, client_id uuid, e164 text, wa_id text,
             bsuid text, parent_bsuid text, username text, type text, content jsonb, wamid text, provider_timestamp timestamptz, raw jsonb, blocked boolean, contact_created boolean,
             thread_created boolean, correlation_id text))
           WITH ORDINALITY AS x(id, org_id, thread_id, phone_number_ref, phone_number_id, contact_id, client_id, e164, wa_id, bsuid, parent_bsuid,
                                username, type, content, wamid,
                                provider_timestamp, raw, blocked, contact_created, thread_created, correlation_id, ord)
    ), inserted AS (
      INSERT INTO messages (id, org_id, thread_id, phone_number_ref, direction, type, content, provider_message_id, status, provider_timestamp,
                            raw, from_blocked_contact)
      SELECT id, org_id, thread_id, phone_number_ref, 'inbound', type, content, wamid, 'received', provider_timestamp, raw, blocked
      FROM input ORDER BY ord
      ON CONFLICT (org_id, phone_number_ref, provider_message_id) WHERE provider_message_id IS NOT NULL DO NOTHING
      RETURNING id, org_id, phone_number_ref, provider_message_id
    ), stored AS (
      SELECT x.*, m.id AS message_id,
             row_number() OVER (PARTITION BY x.org_id, x.contact_id ORDER BY x.ord) AS contact_rank,
             row_number() OVER (PARTITION BY x.org_id, x.thread_id ORDER BY x.ord) AS thread_rank
      FROM inserted m JOIN input x ON x.org_id = m.org_id AND x.phone_number_ref = m.phone_number_ref AND x.wamid = m.provider_message_id
      WHERE NOT x.blocked
    ), events AS (
      INSERT INTO outbox_events (org_id, aggregate_id, aggregate_type, event_type, event_version, payload, metadata, correlation_id)
      SELECT org_id, aggregate_id, aggregate_type, event_type, ${EVENT_VERSION}, payload, '{"source": "webhook"}'::jsonb, correlation_id
      FROM (
        SELECT ord, 1 AS k, org_id, contact_id AS aggregate_id, 'contact' AS aggregate_type, 'contact.created' AS event_type,
               jsonb_build_object('contact_id', contact_id, 'client_id', client_id, 'e164', e164, 'wa_id', wa_id,
                                  'bsuid', bsuid, 'parent_bsuid', parent_bsuid, 'username', username) AS payload, correlation_id
        FROM stored WHERE contact_created AND contact_rank = 1
        UNION ALL
        SELECT ord, 2, org_id, thread_id, 'thread', 'conversation.started',
               jsonb_build_object('thread_id', thread_id, 'contact_id', contact_id, 'phone_number_ref', phone_number_ref), correlation_id
        FROM stored WHERE thread_created AND thread_rank = 1
        UNION ALL
        SELECT ord, 3, org_id, message_id, 'message', 'message.received',
               ${messageEventPayload({
                 messageId: sql`message_id`, threadId: sql`thread_id`, contactId: sql`contact_id`, phoneNumberRef: sql`phone_number_ref`,
                 phoneNumberId: sql`phone_number_id`, direction: sql`'inbound'`, type: sql`type`, status: sql`'received'`,
                 errorCode: sql`NULL`, errorTitle: sql`NULL`, providerMessageId: sql`wamid`,
               })},
               correlation_id
        FROM stored
      ) e
      ORDER BY ord, k
    )
    SELECT id, org_id, phone_number_ref, provider_message_id FROM inserted`.execute(tx);
  for (const row of result.rows) inserted.set(inboundMessageKey(row.org_id, row.phone_number_ref, row.provider_message_id), row.id);
  return inserted;
}
