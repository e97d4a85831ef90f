/**
 * Webhooks whose storing keeps failing for a reason other than an unavailable database (a bug, a
 * constraint the payload trips): each failure is counted per provider and sha256 of the raw body;
 * below `maxAttempts` the caller answers 500 so the provider redelivers, and at `maxAttempts` the
 * body is kept as a dead letter `store_failed` with the error and the caller answers 200, so Meta
 * stops retrying it for 7 days. `wahub_webhook_store_failures_total{provider,outcome}` alerts.
 */
import { createHash } from 'node:crypto';
import type { Db } from '../db/database.js';
import { recordDeadLetter } from './dead-letters.service.js';
import { metrics } from './metrics.js';
import { incrementStoreFailure } from './store-failures.repository.js';

/**
 * Counts a failed store of `rawBody`; at `maxAttempts` keeps it as a dead letter `store_failed`.
 * @returns true when it was dead-lettered (answer 200), false when the provider should retry (answer 500)
 */
export async function noteStoreFailure(
  db: Db,
  input: { provider: 'meta' | 'twilio'; rawBody: string; error: Error; correlationId: string | null; maxAttempts: number },
): Promise<boolean> {
  const bodyHash = createHash('sha256').update(input.rawBody).digest('hex');
  const detail = `storing failed: ${input.error.message}`.slice(0, 2_000);
  const attempts = await incrementStoreFailure(db, { provider: input.provider, bodyHash, error: detail });
  if (attempts < input.maxAttempts) {
    metrics.webhookStoreFailures.inc({ provider: input.provider, outcome: 'retry' });
    return false;
  }
  await recordDeadLetter(db, {
    orgId: null, provider: input.provider, reason: 'store_failed', detail: `${detail} (attempt ${attempts})`, wabaId: null, phoneNumberId: null, field: null,
    payload: null, rawBody: input.rawBody, correlationId: input.correlationId,
  });
  metrics.webhookStoreFailures.inc({ provider: input.provider, outcome: 'dead_lettered' });
  metrics.deadLetters.inc({ reason: 'store_failed' });
  return true;
}
