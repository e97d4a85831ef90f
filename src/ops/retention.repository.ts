/**
 * SQL of the retention jobs: batched deletes of rows older than a cutoff, each batch read through
 * the table's time index (migration 0011) and locked with SKIP LOCKED so that two workers running
 * the job at once never wait for each other.
 */
import { sql } from 'kysely';
import type { Executor } from '../db/database.js';

/** The tables a retention job purges, and the time column each is purged by. */
export const RETENTION_TABLES = {
  pending_statuses: 'received_at',
  webhook_dead_letters: 'created_at',
  webhook_store_failures: 'last_failed_at',
  account_events: 'received_at',
  audit_log: 'created_at',
} as const;

export type RetentionTable = keyof typeof RETENTION_TABLES;

/**
 * Deletes up to `limit` rows of `table` older than `cutoff`.
 * @returns rows deleted (fewer than `limit`: nothing older is left, or the rest is locked)
 */
export async function deleteRowsBefore(db: Executor, table: RetentionTable, cutoff: Date, limit: number): Promise<number> {
  const column = sql.ref(RETENTION_TABLES[table]);
  const result = await sql`
    DELETE FROM ${sql.table(table)} WHERE ctid IN (
      SELECT ctid FROM ${sql.table(table)} WHERE ${column} < ${cutoff} ORDER BY ${column} LIMIT ${limit} FOR UPDATE SKIP LOCKED
    )`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
