/**
 * Retention: erase clients inactive for N days (`wahub retention run --inactive-days N`, and the
 * worker's scheduled job when RETENTION_INACTIVE_DAYS is set). Inactive = created before the
 * cutoff, no inbound message from any of its numbers and no message in any of its threads since.
 * Clients are erased one transaction each (eraseClient, with its tombstone), in batches, with
 * progress; inactivity is checked again under each client's lock (a client that just wrote is
 * kept), a client another run erased first is skipped, and one that fails is counted and skipped.
 */
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';
import { AppError, toError } from '../shared/errors.js';
import { countInactiveClients, listInactiveClients } from './gdpr.repository.js';
import { eraseClient } from './gdpr.service.js';

const DAY_MS = 24 * 60 * 60 * 1000;

export interface RetentionProgress {
  /** Clients inactive when the run started. */
  total: number;
  erased: number;
  /** Became active meanwhile, or erased by someone else first. */
  skipped: number;
  failed: number;
}

/**
 * @param options.inactiveDays clients silent this many days are erased
 * @param options.batchSize clients listed per batch (default 100)
 * @param options.onProgress called after every batch
 */
export async function purgeInactiveClients(
  db: Db,
  options: { inactiveDays: number; batchSize?: number; onProgress?: (progress: RetentionProgress) => void; logger?: Logger; source?: 'cli' | 'worker' },
): Promise<RetentionProgress & { cutoff: string }> {
  const cutoff = new Date(Date.now() - options.inactiveDays * DAY_MS);
  const batchSize = options.batchSize ?? 100;
  const progress: RetentionProgress = { total: await countInactiveClients(db, cutoff), erased: 0, skipped: 0, failed: 0 };
  let afterId: string | null = null;
  for (;;) {
    const batch = await listInactiveClients(db, cutoff, afterId, batchSize);
    if (batch.length === 0) break;
    for (const client of batch) {
      try {
        const erased = await eraseClient(db, client.org_id, client.id, { correlationId: null, source: options.source ?? 'worker' }, { onlyIfInactiveSince: cutoff });
        if (erased) progress.erased++;
        else progress.skipped++;
      } catch (error) {
        if (error instanceof AppError && error.code === 'not_found') {
          progress.skipped++;
          continue;
        }
        progress.failed++;
        options.logger?.error({ err: toError(error), client_id: client.id }, 'retention: erasing a client failed; skipped');
      }
    }
    afterId = batch.at(-1)!.id;
    options.onProgress?.({ ...progress });
  }
  return { ...progress, cutoff: cutoff.toISOString() };
}
