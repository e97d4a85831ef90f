/**
 * SQL of the event stream: published domain events of one organization after a stream position
 * (unique index outbox_events_stream_position_key on (org_id, stream_position)).
 */
import { sql } from 'kysely';
import type { Db } from '../db/database.js';

export interface StreamEventRow {
  id: string;
  stream_position: string;
  event_type: string;
  aggregate_type: string;
  aggregate_id: string;
  payload: Record<string, unknown>;
  created_at: Date;
}

/** Events of `orgId` with stream_position > `after`, in stream order. Positions are bigint strings. */
export async function listEventsAfter(db: Db, orgId: string, after: string, limit: number): Promise<StreamEventRow[]> {
  const result = await sql<StreamEventRow>`
    SELECT id, stream_position, event_type, aggregate_type, aggregate_id, payload, created_at
    FROM outbox_events
    WHERE org_id = ${orgId} AND stream_position > ${after}::bigint
    ORDER BY stream_position
    LIMIT ${limit}`.execute(db);
  return result.rows;
}

/** The organization's newest stream position, or '0' when it has none. */
export async function latestStreamPosition(db: Db, orgId: string): Promise<string> {
  const result = await sql<{ position: string | null }>`
    SELECT max(stream_position) AS position FROM outbox_events WHERE org_id = ${orgId} AND stream_position IS NOT NULL`.execute(db);
  return result.rows[0]?.position ?? '0';
}
