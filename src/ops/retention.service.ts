/**
 * Retention of what would otherwise grow for ever (issue 19), run by the worker's maintenance
 * scheduler: statuses kept for wamids that never appeared (`pending_statuses`, default 7 days),
 * webhook dead letters and store-failure counters (30 days), `account_events` and the audit log
 * (365 days). Each table is purged in batches; `wahub_retention_deleted_rows_total{table}` counts
 * the rows removed.
 */
import type { Db } from '../db/database.js';
import { metrics } from './metrics.js';
import { deleteRowsBefore, type RetentionTable } from './retention.repository.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/** Days each kind of row is kept (RETENTION_* settings). */
export interface RetentionSettings {
  /** RETENTION_PENDING_STATUSES_DAYS, default 7. */
  pendingStatusesDays: number;
  /** RETENTION_DEAD_LETTERS_DAYS, default 30 (also the webhook store-failure counters). */
  deadLettersDays: number;
  /** RETENTION_ACCOUNT_EVENTS_DAYS, default 365. */
  accountEventsDays: number;
  /** RETENTION_AUDIT_LOG_DAYS, default 365. */
  auditLogDays: number;
}

/** Deletes every row of `table` older than `days`, `batchSize` per statement. @returns rows deleted */
async function purgeTable(db: Db, table: RetentionTable, days: number, batchSize: number): Promise<number> {
  const cutoff = new Date(Date.now() - days * DAY_MS);
  let total = 0;
  for (;;) {
    const deleted = await deleteRowsBefore(db, table, cutoff, batchSize);
    total += deleted;
    if (deleted > 0) metrics.retentionDeletedRows.inc({ table }, deleted);
    if (deleted < batchSize) return total;
  }
}

/**
 * Runs every retention purge once. @returns rows deleted per table (the maintenance log line)
 * @param batchSize rows per DELETE, default 1000
 */
export async function purgeExpiredRows(db: Db, settings: RetentionSettings, batchSize = 1_000): Promise<Record<RetentionTable, number>> {
  return {
    pending_statuses: await purgeTable(db, 'pending_statuses', settings.pendingStatusesDays, batchSize),
    webhook_dead_letters: await purgeTable(db, 'webhook_dead_letters', settings.deadLettersDays, batchSize),
    webhook_store_failures: await purgeTable(db, 'webhook_store_failures', settings.deadLettersDays, batchSize),
    account_events: await purgeTable(db, 'account_events', settings.accountEventsDays, batchSize),
    audit_log: await purgeTable(db, 'audit_log', settings.auditLogDays, batchSize),
  };
}
