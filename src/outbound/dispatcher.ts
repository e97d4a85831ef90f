/**
 * The outbox dispatcher: the only code that calls the provider's send endpoint (SPEC §4).
 *
 * Loop: claim a batch under a lease → send each row over HTTP → in one transaction per row, fenced
 * by the lease token: record the wamid and `sent`, apply statuses that arrived early, or schedule a
 * retry (exponential backoff with jitter), or fail with Meta's code and title. Error 190 marks the
 * number `reauth_required`; its rows wait (they are not claimable) until it is active again.
 * A row whose worker dies mid-send is re-claimed when its lease expires.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import * as messages from '../messages/messages.repository.js';
import type { GraphApiClient, GraphApiError } from '../providers/meta/graph.client.js';
import { buildMetaSendRequest } from '../providers/meta/send.schema.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { fromStoredContent } from './message-content.js';
import * as outbox from './outbox.repository.js';

export interface DispatcherOptions {
  db: Db;
  cipher: TokenCipher;
  graph: GraphApiClient;
  logger: Logger;
  /** Lease TTL, ms. */
  leaseTtlMs: number;
  batchSize: number;
  /** Sleep between polls when there was nothing to do, ms. */
  pollIntervalMs: number;
  /** Attempts before a retryable error becomes final. */
  maxAttempts: number;
  /** First retry delay, ms; doubles each attempt (capped at 15 min), with jitter. */
  retryBaseMs: number;
  workerId?: string;
}

const MAX_RETRY_DELAY_MS = 15 * 60_000;
const STATUS_ORDER = ['sent', 'delivered', 'read', 'played', 'failed'] as const;

/** Backoff for the n-th attempt: base·2^(n-1), capped, with ±25 % jitter so retries spread out. */
export function retryDelayMs(attempt: number, baseMs: number): number {
  const delay = Math.min(baseMs * 2 ** Math.max(0, attempt - 1), MAX_RETRY_DELAY_MS);
  return Math.round(delay * (0.75 + Math.random() * 0.5));
}

export class Dispatcher {
  readonly workerId: string;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly options: DispatcherOptions) {
    this.workerId = options.workerId ?? `worker-${randomUUID().slice(0, 8)}`;
  }

  /** Starts the polling loop. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops claiming and waits for in-flight rows to finish. */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
  }

  /** Wakes an idle loop at once (e.g. right after a message was queued in this process). */
  notify(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let processed = 0;
      try {
        processed = await this.runOnce();
      } catch (error) {
        this.options.logger.error({ err: error }, 'dispatcher round failed');
      }
      if (processed === 0 && this.running) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, this.options.pollIntervalMs);
          this.wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.wake = undefined;
      }
    }
  }

  /** Claims one batch and delivers it. @returns the number of rows claimed */
  async runOnce(): Promise<number> {
    const rows = await outbox.claimOutboxBatch(this.options.db, {
      workerId: this.workerId, limit: this.options.batchSize, leaseTtlMs: this.options.leaseTtlMs,
    });
    await Promise.all(rows.map((row) => this.deliver(row)));
    return rows.length;
  }

  private async deliver(row: outbox.ClaimedOutboxRow): Promise<void> {
    const log = this.options.logger.child({ message_id: row.message_id, outbox_id: row.id, correlation_id: row.correlation_id });
    const details = await outbox.findDeliveryDetails(this.options.db, row.org_id, row.message_id);
    if (!details?.access_token_ciphertext || !details.access_token_key_id) {
      await this.fail(row, { class: 'permanent', code: null, title: 'phone number has no access token', details: null, httpStatus: null }, log);
      return;
    }
    let token: string;
    try {
      token = this.options.cipher.decrypt({ ciphertext: details.access_token_ciphertext, keyId: details.access_token_key_id });
    } catch (error) {
      log.error({ err: error }, 'access token does not decrypt');
      await this.fail(row, { class: 'permanent', code: null, title: 'access token does not decrypt', details: null, httpStatus: null }, log);
      return;
    }
    const body = buildMetaSendRequest(details.e164, fromStoredContent(details.type, details.content));
    const result = await this.options.graph.sendMessage(details.phone_number_id, token, body);
    if (result.ok) await this.complete(row, result.wamid, log);
    else if (result.error.class === 'reauth') await this.park(row, result.error, log);
    else if (result.error.class === 'retryable' && row.attempts < this.options.maxAttempts) await this.retry(row, result.error, log);
    else await this.fail(row, result.error, log);
  }

  private async complete(row: outbox.ClaimedOutboxRow, wamid: string | null, log: Logger): Promise<void> {
    await withTransaction(this.options.db, async (tx) => {
      if (!(await outbox.completeOutboxRow(tx, row.id, row.lease_token))) {
        log.warn('lease lost before completion; another worker owns the row');
        return;
      }
      if (wamid) await messages.setProviderMessageId(tx, row.org_id, row.message_id, wamid);
      await messages.advanceMessageStatus(tx, { orgId: row.org_id, messageId: row.message_id, status: 'sent' });
      if (!wamid) return;
      // Statuses that raced ahead of this commit were parked in pending_statuses; apply them now.
      await messages.lockWamid(tx, row.phone_number_ref, wamid);
      const pending = await messages.takePendingStatuses(tx, row.org_id, row.phone_number_ref, wamid);
      pending.sort((a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status));
      for (const status of pending) {
        await messages.advanceMessageStatus(tx, {
          orgId: row.org_id, messageId: row.message_id, status: status.status, errorCode: status.error_code, errorTitle: status.error_title,
        });
      }
    });
    log.info({ wamid }, 'message sent');
  }

  private async retry(row: outbox.ClaimedOutboxRow, error: GraphApiError, log: Logger): Promise<void> {
    const delayMs = retryDelayMs(row.attempts, this.options.retryBaseMs);
    await outbox.retryOutboxRow(this.options.db, { id: row.id, leaseToken: row.lease_token, delayMs, lastError: error, countAttempt: true });
    log.warn({ code: error.code, http_status: error.httpStatus, attempt: row.attempts, delay_ms: delayMs }, `send failed, retrying: ${error.title}`);
  }

  private async park(row: outbox.ClaimedOutboxRow, error: GraphApiError, log: Logger): Promise<void> {
    await withTransaction(this.options.db, async (tx) => {
      if (!(await outbox.retryOutboxRow(tx, { id: row.id, leaseToken: row.lease_token, delayMs: 0, lastError: error, countAttempt: false }))) return;
      await outbox.markPhoneNumberReauthRequired(tx, row.phone_number_ref);
    });
    log.error({ code: error.code }, 'access token rejected: phone number needs re-authorisation; its messages wait');
  }

  private async fail(row: outbox.ClaimedOutboxRow, error: GraphApiError, log: Logger): Promise<void> {
    await withTransaction(this.options.db, async (tx) => {
      if (!(await outbox.failOutboxRow(tx, row.id, row.lease_token, error))) return;
      await messages.advanceMessageStatus(tx, {
        orgId: row.org_id, messageId: row.message_id, status: 'failed', errorCode: error.code, errorTitle: error.title,
      });
    });
    log.warn({ code: error.code, http_status: error.httpStatus }, `message failed: ${error.title}`);
  }
}
