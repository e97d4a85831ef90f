/**
 * Publishes domain events the way the relay does (issue 5 contract, migration 0005): a row in
 * `outbox_events` with `published_at` and the next `stream_position`, then
 * `NOTIFY wahub_events, '<org_id>'`.
 */
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';

export async function publishEvent(
  db: Db,
  values: { orgId: string; eventType: string; aggregateId: string; aggregateType?: string; payload?: Record<string, unknown>; notify?: boolean },
): Promise<string> {
  const result = await sql<{ stream_position: string }>`
    INSERT INTO outbox_events (org_id, aggregate_id, aggregate_type, event_type, payload, published_at, stream_position)
    VALUES (${values.orgId}, ${values.aggregateId}, ${values.aggregateType ?? 'message'}, ${values.eventType},
            ${JSON.stringify(values.payload ?? {})}::jsonb, now(), nextval('outbox_events_stream_position_seq'))
    RETURNING stream_position`.execute(db);
  if (values.notify !== false) await sql`SELECT pg_notify('wahub_events', ${values.orgId})`.execute(db);
  return result.rows[0]!.stream_position;
}
