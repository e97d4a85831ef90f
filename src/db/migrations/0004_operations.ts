/**
 * Migration 0004: operations. An index on finished outbox rows by completion time, so that
 * "sent/failed in the last 5 minutes" (`/metrics-json`) is a short range scan.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX message_outbox_completed_at_idx ON message_outbox (completed_at) WHERE completed_at IS NOT NULL`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX IF EXISTS message_outbox_completed_at_idx`.execute(db);
}
