/**
 * The read side of the event stream, for the web inbox's Server-Sent Events endpoint.
 *
 * Contract (migration 0005): the relay stamps each published event with `stream_position`, taken
 * from `outbox_events_stream_position_seq` while it holds `pg_advisory_xact_lock(
 * STREAM_POSITION_LOCK_KEY)` until commit, then `NOTIFY wahub_events, '<org_id>'` (once per
 * organization in the batch). Positions therefore become visible in increasing order: a reader
 * that resumes after position n (`Last-Event-ID: n`) never misses an event committed later with a
 * smaller position, because there is none.
 *
 * A reader: LISTEN `wahub_events`; on start and on every notification for its organization, call
 * readEventStream(db, orgId, lastPosition) until it returns fewer than `limit` rows, sending each
 * row with `id: <stream_position>`.
 */
import type { Db, Tx } from '../db/database.js';
import { EVENTS_NOTIFY_CHANNEL, listPublishedEventsAfter, STREAM_POSITION_LOCK_KEY } from './events.repository.js';

export { EVENTS_NOTIFY_CHANNEL, STREAM_POSITION_LOCK_KEY };

export interface StreamEvent {
  /** Commit-ordered position (decimal string of a bigint): the SSE `id`. */
  position: string;
  id: string;
  type: string;
  version: number;
  aggregate_type: string;
  aggregate_id: string;
  correlation_id: string | null;
  created_at: string;
  data: Record<string, unknown>;
}

/**
 * Published events of one organization after `afterPosition`, in stream order.
 * @param afterPosition the last position the reader has (`'0'` from the start of retention)
 * @param limit at most this many rows (default 500)
 */
export async function readEventStream(db: Db | Tx, orgId: string, afterPosition: string, limit = 500): Promise<StreamEvent[]> {
  const rows = await listPublishedEventsAfter(db, orgId, /^\d{1,19}$/.test(afterPosition) ? afterPosition : '0', limit);
  return rows.map((row) => ({
    position: row.stream_position!,
    id: row.id,
    type: row.event_type,
    version: row.event_version,
    aggregate_type: row.aggregate_type,
    aggregate_id: row.aggregate_id,
    correlation_id: row.correlation_id,
    created_at: row.created_at.toISOString(),
    data: row.payload,
  }));
}
