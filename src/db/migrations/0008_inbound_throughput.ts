/**
 * Migration 0008: one index fewer to maintain per domain event (issue 9, inbound throughput).
 * `outbox_events_unpublished_idx (created_at, id) WHERE published_at IS NULL` served only the
 * relay-lag gauge; since migration 0005 the relay reads unpublished events in `seq` order, and the
 * gauge now reads the oldest unpublished event through `outbox_events_unpublished_seq_idx` too.
 * Every inbound message writes at least one event, so the dropped index was one of five index
 * inserts per event row.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS outbox_events_unpublished_idx`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX IF NOT EXISTS outbox_events_unpublished_idx ON outbox_events (created_at, id) WHERE published_at IS NULL`.execute(db);
}
