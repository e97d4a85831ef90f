/**
 * SQL of the event stream that the events domain does not already provide: where a new client
 * starts (the organization's newest stream position). Reading events after a position is
 * `readEventStream` of events/stream.ts (the relay's own read side).
 */
import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/** The organization's newest stream position (unique index outbox_events_stream_position_key), or '0'. */
export async function latestStreamPosition(db: Db, orgId: string): Promise<string> {
  const result = await sql<{ position: string | null }>`
    SELECT max(stream_position) AS position FROM outbox_events WHERE org_id = ${orgId} AND stream_position IS NOT NULL`.execute(db);
  return result.rows[0]?.position ?? '0';
}
