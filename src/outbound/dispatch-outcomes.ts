/**
 * What the dispatcher records after a send (SPEC §4 "Delivery"): accepted sends in batches (one
 * transaction for up to COMPLETION_BATCH rows: outbox rows done, wamid + `sent`, statuses that raced
 * ahead applied, through `../conversations/message-status.ts`), and failures one by one, as the
 * provider classified them (PROTOCOL.md §3.4, §7):
 * - retryable → back off exponentially with jitter, up to `maxAttempts`, then `failed`;
 * - 131056 (pair rate limit) → that recipient's row waits 4^n s; other recipients go on;
 * - 130429 (throughput reached) → the number's governor pauses, the row retries (not counted);
 * - reauth (Meta 190, Twilio 20003) → the number becomes `reauth_required`, the row is parked
 *   until `wahub number set-token` resumes it;
 * - anything else → `failed` with the provider's code and title.
 * Every write is fenced by the row's lease token: a row another worker re-claimed is left alone.
 */
import type { Logger } from 'pino';
import { advanceMessageStatus, recordSends } from '../conversations/message-status.js';
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { recordReauthRequired } from '../events/event-writer.js';
import { markPhoneNumberReauthRequired } from '../numbers/phone-numbers.repository.js';
import { metrics } from '../ops/metrics.js';
import type { ProviderSendError } from '../providers/types.js';
import { throttleNumber } from './governor.repository.js';
import * as outbox from './outbox.repository.js';

const MAX_RETRY_DELAY_MS = 15 * 60_000;
const THROTTLE_PAUSE_MS = 1_000;
/** Accepted sends wait at most this long, ms, to be recorded together. */
const COMPLETION_FLUSH_MS = 5;
const COMPLETION_BATCH = 200;
const PAIR_RATE_LIMIT_CODE = 131056;
const THROUGHPUT_LIMIT_CODE = 130429;

/** Backoff for the n-th attempt: base·2^(n-1), capped, with ±25 % jitter so retries spread out. */
export function retryDelayMs(attempt: number, baseMs: number): number {
  const delay = Math.min(baseMs * 2 ** Math.max(0, attempt - 1), MAX_RETRY_DELAY_MS);
  return Math.round(delay * (0.75 + Math.random() * 0.5));
}

/** Meta's pair-rate-limit backoff: 4^X s with X = 0, 1, 2… (PROTOCOL.md §4, [M-PLAT]). */
export function pairRateLimitDelayMs(attempt: number): number {
  return Math.min(4 ** Math.max(0, attempt - 1) * 1000, MAX_RETRY_DELAY_MS);
}

/** A row the provider accepted, with its wamid (Meta) or Message SID (Twilio). */
export interface Sent {
  row: outbox.ClaimedOutboxRow;
  wamid: string | null;
}

export interface OutcomeRecorderOptions {
  db: Db;
  logger: Logger;
  /** Attempts before a retryable error becomes final. */
  maxAttempts: number;
  /** First retry delay, ms; doubles each attempt (capped at 15 min), with jitter. */
  retryBaseMs: number;
}

/** Records the outcomes of one dispatcher's sends. */
export class OutcomeRecorder {
  private pendingCompletions: Array<Sent & { done: () => void }> = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly options: OutcomeRecorderOptions) {}

  /** Retries, parks or fails a row by its provider error class and code (see the module docstring). */
  async handleFailure(row: outbox.ClaimedOutboxRow, error: ProviderSendError, log: Logger): Promise<void> {
    if (error.class === 'reauth') return this.park(row, error, log);
    if (error.class === 'permanent' || row.attempts >= this.options.maxAttempts) return this.fail(row, error, log);
    let delayMs = retryDelayMs(row.attempts, this.options.retryBaseMs);
    let countAttempt = true;
    if (error.code === PAIR_RATE_LIMIT_CODE) delayMs = pairRateLimitDelayMs(row.attempts);
    if (error.code === THROUGHPUT_LIMIT_CODE) {
      metrics.governorThrottles.inc({ phone_number_ref: row.phone_number_ref });
      await throttleNumber(this.options.db, { phoneNumberRef: row.phone_number_ref, orgId: row.org_id, pauseMs: THROTTLE_PAUSE_MS });
      delayMs = THROTTLE_PAUSE_MS;
      countAttempt = false;
    }
    await outbox.retryOutboxRow(this.options.db, { id: row.id, leaseToken: row.lease_token, delayMs, lastError: error, countAttempt });
    log.warn({ code: error.code, http_status: error.httpStatus, attempt: row.attempts, delay_ms: delayMs }, `send failed, retrying: ${error.title}`);
  }
  /** Queues a successful send for the next batched write; resolves once it is committed. */
  recordSent(sent: Sent): Promise<void> {
    return new Promise<void>((done) => {
      this.pendingCompletions.push({ ...sent, done });
      if (this.pendingCompletions.length >= COMPLETION_BATCH) void this.flush();
      else this.flushTimer ??= setTimeout(() => void this.flush(), COMPLETION_FLUSH_MS);
    });
  }
  /** Writes the sends queued so far (now, not after the batching delay); resolves when committed. */
  flush(): Promise<void> {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    const batch = this.pendingCompletions;
    this.pendingCompletions = [];
    if (batch.length === 0) return this.flushing;
    // One flush at a time keeps the transactions small and their lock order simple.
    this.flushing = this.flushing.then(() => this.writeCompletions(batch)).catch((error) => {
      this.options.logger.error({ err: error, rows: batch.length }, 'recording sends failed; their leases will expire and the rows be retried');
    }).finally(() => batch.forEach((item) => item.done()));
    return this.flushing;
  }
  private async writeCompletions(batch: Sent[]): Promise<void> {
    await withTransaction(this.options.db, async (tx) => {
      const completed = await outbox.completeOutboxRows(tx, batch.map(({ row }) => ({ id: row.id, leaseToken: row.lease_token })));
      const kept = new Set(completed.map((row) => row.id));
      if (kept.size < batch.length) this.options.logger.warn({ lost: batch.length - kept.size }, 'leases lost before completion; another worker owns those rows');
      const mine = batch.filter(({ row }) => kept.has(row.id));
      // Also applies the statuses that raced ahead of this commit (parked in pending_statuses).
      await recordSends(tx, mine.map(({ row, wamid }) => ({
        orgId: row.org_id, messageId: row.message_id, phoneNumberRef: row.phone_number_ref, wamid, correlationId: row.correlation_id,
      })));
    });
  }
  /** Parks a row whose token was rejected and marks its number `reauth_required` (once, with its event). */
  private async park(row: outbox.ClaimedOutboxRow, error: ProviderSendError, log: Logger): Promise<void> {
    await withTransaction(this.options.db, async (tx) => {
      if (!(await outbox.parkOutboxRow(tx, row.id, row.lease_token, error))) return;
      if (await markPhoneNumberReauthRequired(tx, row.phone_number_ref)) {
        await recordReauthRequired(tx, { correlationId: row.correlation_id, source: 'worker' }, row.org_id, row.phone_number_ref);
      }
    });
    log.error({ code: error.code }, 'access token rejected: phone number needs re-authorisation; its messages wait');
  }
  /** Fails a row for good: outbox row `failed`, message `failed` with the provider's code and title. */
  async fail(row: outbox.ClaimedOutboxRow, error: ProviderSendError, log: Logger): Promise<void> {
    await withTransaction(this.options.db, async (tx) => {
      if (!(await outbox.failOutboxRow(tx, row.id, row.lease_token, error))) return;
      await advanceMessageStatus(tx, { correlationId: row.correlation_id, source: 'worker' }, {
        orgId: row.org_id, messageId: row.message_id, status: 'failed', errorCode: error.code, errorTitle: error.title,
      });
    });
    log.warn({ code: error.code, http_status: error.httpStatus }, `message failed: ${error.title}`);
  }
}
