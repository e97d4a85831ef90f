/**
 * What the dispatcher records after a send (SPEC §4 "Delivery"): accepted sends in batches (one
 * transaction for up to COMPLETION_BATCH rows: outbox rows done, wamid + `sent`, statuses that raced
 * ahead applied, through `../conversations/message-status.ts`), and failures one by one, as the
 * provider classified them (PROTOCOL.md §3.4, §7):
 * - retryable → back off exponentially with jitter, up to `maxAttempts`, then `failed`;
 * - pair rate limit (Meta 131056) → that recipient's row waits 4^X s; other recipients go on; no
 *   attempt is used up, but the message fails once it has waited `pairRateLimitMaxMs`;
 * - throughput reached (Meta 130429) → the number's governor pauses, the row retries (not counted);
 * - reauth (Meta 190, Twilio 20003) → the number becomes `reauth_required`, the row is parked
 *   until `wahub number set-token` resumes it;
 * - anything else → `failed` with the provider's code and title.
 * The decision itself is `failure-policy.ts` (pure); this module writes it.
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
import { decideAfterFailure } from './failure-policy.js';
import * as outbox from './outbox.repository.js';

/** Default of OUTBOX_PAIR_RATE_LIMIT_MAX_MS: 24 h. */
const DEFAULT_PAIR_RATE_LIMIT_MAX_MS = 86_400_000;

/** Accepted sends wait at most this long, ms, to be recorded together. */
const COMPLETION_FLUSH_MS = 5;
const COMPLETION_BATCH = 200;

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
  /** A recipient still pair-rate-limited this long after queueing fails the message, ms. Default 24 h. */
  pairRateLimitMaxMs?: number;
  /** The rows' lease TTL, ms: a failed write of accepted sends is retried for up to half of it. */
  leaseTtlMs: number;
}

/** Records the outcomes of one dispatcher's sends. */
export class OutcomeRecorder {
  private pendingCompletions: Array<Sent & { done: () => void }> = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();

  constructor(private readonly options: OutcomeRecorderOptions) {}

  /** Retries, parks or fails a row as `failure-policy.ts` decides. */
  async handleFailure(row: outbox.ClaimedOutboxRow, error: ProviderSendError, log: Logger): Promise<void> {
    const policy = { maxAttempts: this.options.maxAttempts, retryBaseMs: this.options.retryBaseMs, pairRateLimitMaxMs: this.options.pairRateLimitMaxMs ?? DEFAULT_PAIR_RATE_LIMIT_MAX_MS };
    const decision = decideAfterFailure(error, { attempts: row.attempts, queuedAt: row.queued_at }, policy, Date.now());
    if (decision.kind === 'park') return this.park(row, error, log);
    if (decision.kind === 'fail') return this.fail(row, decision.error, log);
    if (decision.pauseNumberMs !== undefined) {
      metrics.governorThrottles.inc({ phone_number_ref: row.phone_number_ref });
      await throttleNumber(this.options.db, { phoneNumberRef: row.phone_number_ref, orgId: row.org_id, pauseMs: decision.pauseNumberMs });
    }
    const { delayMs, countAttempt } = decision;
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
    this.flushing = this.flushing.then(() => this.writeCompletionsRetrying(batch)).catch((error) => {
      this.options.logger.error({ err: error, rows: batch.length }, 'recording sends failed; their leases will expire and the rows be retried');
    }).finally(() => batch.forEach((item) => item.done()));
    return this.flushing;
  }
  /**
   * Writes accepted sends, retrying a failed write (a database restart, a serialization failure)
   * with backoff while the rows' leases still hold (they are refreshed until this resolves): once a
   * provider accepted a message, losing the record means sending it again.
   * @throws the last error when the writes failed for half the lease TTL
   */
  private async writeCompletionsRetrying(batch: Sent[]): Promise<void> {
    const giveUpAt = Date.now() + this.options.leaseTtlMs / 2;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.writeCompletions(batch);
      } catch (error) {
        const delayMs = Math.min(50 * 2 ** attempt, 2_000);
        if (Date.now() + delayMs >= giveUpAt) throw error;
        this.options.logger.warn({ err: error, rows: batch.length, attempt }, 'recording sends failed; retrying while the leases hold');
        await new Promise((resolve) => setTimeout(resolve, delayMs));
      }
    }
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
