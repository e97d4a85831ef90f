/**
 * Delivers domain events to HTTP event subscriptions (worker role).
 *
 * Each `event_deliveries` row is claimed under a lease (SKIP LOCKED, several workers share the
 * work), POSTed with a signed JSON body (signature.ts), and then:
 * - 2xx → `delivered`;
 * - anything else (status, timeout, connection error) → retried after
 *   `min(base · 2^(attempt-1), max)` ± 20 % jitter (defaults 10 s doubling, capped at 1 h);
 * - still failing `giveUpMs` (default 24 h) after the delivery was created → `dead` (dead-lettered),
 *   listed by `GET /v1/event-subscriptions/{id}/deliveries?state=dead` and re-driven by
 *   `POST …/deliveries/{delivery_id}/retry`.
 * One subscription receives one aggregate's events in order: a delivery waits while an earlier one
 * of the same aggregate is pending (subscriptions.repository.ts claimDueDeliveries).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { type Dispatcher, request } from 'undici';
import type { Db } from '../db/database.js';
import type { EgressGuard } from '../shared/egress.js';
import { toError } from '../shared/errors.js';
import { PollingLoop } from '../shared/polling-loop.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { SIGNATURE_HEADER, signEventBody, TIMESTAMP_HEADER } from './signature.js';
import * as repo from './subscriptions.repository.js';

export interface DelivererOptions {
  db: Db;
  cipher: TokenCipher;
  logger: Logger;
  /** Which addresses a delivery may reach (SSRF): checked on every connection, after DNS. */
  egress: EgressGuard;
  /** Timeout of one POST, ms (EVENT_DELIVERY_TIMEOUT_MS, default 10 000). */
  timeoutMs: number;
  /** First retry delay, ms (default 10 000); doubles per attempt. */
  retryBaseMs: number;
  /** Longest retry delay, ms (default 3 600 000). */
  retryMaxMs: number;
  /** Dead-letter a delivery still failing this long after it was created, ms (default 86 400 000). */
  giveUpMs: number;
  /** Deliveries claimed per round. Default 50. */
  batchSize?: number;
  /** Sleep when idle, ms. */
  pollIntervalMs: number;
}

/** Delay before the attempt after `attempt` failed ones: base·2^(attempt-1), capped, ±20 % jitter. */
export function deliveryBackoffMs(attempt: number, baseMs: number, maxMs: number): number {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.min(attempt - 1, 30));
  return Math.round(raw * (0.8 + Math.random() * 0.4));
}

/** The JSON body POSTed for one delivery attempt. */
export function deliveryBody(delivery: repo.ClaimedDelivery, timestamp: number): string {
  return JSON.stringify({
    id: delivery.event_id,
    type: delivery.event_type,
    version: delivery.event_version,
    org_id: delivery.org_id,
    aggregate_type: delivery.aggregate_type,
    aggregate_id: delivery.aggregate_id,
    correlation_id: delivery.correlation_id,
    created_at: delivery.event_created_at.toISOString(),
    delivery: { id: delivery.id, attempt: delivery.attempts, timestamp },
    data: delivery.payload,
  });
}

export class EventDeliverer extends PollingLoop {
  private readonly dispatcher: Dispatcher;

  constructor(private readonly options: DelivererOptions) {
    super({
      logger: options.logger, pollIntervalMs: options.pollIntervalMs, failureMessage: 'event delivery round failed; retrying', logContext: { worker: randomUUID() },
    });
    this.dispatcher = options.egress.dispatcher({ connectTimeoutMs: options.timeoutMs });
  }

  /** Runs one round. @returns deliveries attempted */
  async runOnce(): Promise<number> {
    // The lease outlasts the POST timeout, so no other worker takes a delivery still in flight.
    const claimed = await repo.claimDueDeliveries(this.options.db, this.options.batchSize ?? 50, this.options.timeoutMs * 2 + 5_000);
    await Promise.all(claimed.map((delivery) => this.deliver(delivery)));
    return claimed.length;
  }

  private async post(delivery: repo.ClaimedDelivery): Promise<{ status: number | null; error: string | null }> {
    const secret = this.options.cipher.decrypt({ ciphertext: delivery.secret_ciphertext, keyId: delivery.secret_key_id });
    const timestamp = Math.floor(Date.now() / 1000);
    const body = deliveryBody(delivery, timestamp);
    try {
      const response = await request(delivery.url, {
        method: 'POST',
        dispatcher: this.dispatcher,
        body,
        headers: {
          'content-type': 'application/json',
          'user-agent': 'wahub-events/1',
          'x-wahub-event-id': delivery.event_id,
          'x-wahub-event-type': delivery.event_type,
          'x-wahub-delivery-id': delivery.id,
          [TIMESTAMP_HEADER]: String(timestamp),
          [SIGNATURE_HEADER]: signEventBody(secret, body),
        },
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
      });
      await response.body.dump();
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      return { status: response.statusCode, error: ok ? null : `HTTP ${response.statusCode}` };
    } catch (error) {
      return { status: null, error: toError(error).message };
    }
  }

  private async deliver(delivery: repo.ClaimedDelivery): Promise<void> {
    const { status, error } = await this.post(delivery);
    const log = this.options.logger.child({ delivery_id: delivery.id, event_id: delivery.event_id, event_type: delivery.event_type, attempt: delivery.attempts });
    if (error === null) {
      await repo.markDelivered(this.options.db, delivery.id, delivery.lease_token, status!);
      return;
    }
    const delayMs = deliveryBackoffMs(delivery.attempts, this.options.retryBaseMs, this.options.retryMaxMs);
    const dead = Date.now() + delayMs - delivery.created_at.getTime() > this.options.giveUpMs;
    await repo.markAttemptFailed(this.options.db, { id: delivery.id, leaseToken: delivery.lease_token, status, error, delayMs, dead });
    if (dead) log.error({ http_status: status, error }, 'event delivery dead-lettered after its retry window');
    else log.warn({ http_status: status, error, delay_ms: delayMs }, 'event delivery failed; retrying');
  }
}
