/**
 * Event retention: published events older than EVENT_RETENTION_DAYS (default 7) are deleted in
 * batches by the worker's maintenance job; events a delivery still waits for are kept.
 */
import type { Db } from '../db/database.js';
import { deletePublishedEventsBefore } from './events.repository.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes published events older than `retentionDays`, `batchSize` rows per statement.
 * @returns events deleted
 */
export async function purgePublishedEvents(db: Db, retentionDays: number, batchSize = 1_000): Promise<number> {
  const cutoff = new Date(Date.now() - retentionDays * DAY_MS);
  let total = 0;
  for (;;) {
    const deleted = await deletePublishedEventsBefore(db, cutoff, batchSize);
    total += deleted;
    if (deleted < batchSize) return total;
  }
}
