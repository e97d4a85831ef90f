/**
 * Migration 0005: domain events. `outbox_events.stream_position` is a commit-ordered position the
 * relay stamps when it publishes an event: it is taken from a sequence while the relay holds a
 * transaction-level advisory lock (so positions become visible in increasing order, with no gaps
 * that fill later). Readers that resume from a position (Server-Sent Events with `Last-Event-ID`)
 * therefore never skip an event that committed late.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE SEQUENCE outbox_events_stream_position_seq;
    ALTER TABLE outbox_events ADD COLUMN stream_position bigint;
    CREATE UNIQUE INDEX outbox_events_stream_position_key ON outbox_events (org_id, stream_position)
      WHERE stream_position IS NOT NULL;
    ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_stream_position_published_check
      CHECK (stream_position IS NULL OR published_at IS NOT NULL);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE outbox_events DROP CONSTRAINT IF EXISTS outbox_events_stream_position_published_check;
    DROP INDEX IF EXISTS outbox_events_stream_position_key;
    ALTER TABLE outbox_events DROP COLUMN IF EXISTS stream_position;
    DROP SEQUENCE IF EXISTS outbox_events_stream_position_seq;
  `.execute(db);
}
