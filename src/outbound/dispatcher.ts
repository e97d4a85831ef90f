/**
 * The outbox dispatcher: the only code that calls the provider's send endpoint (SPEC §4).
 *
 * A loop claims batches of due rows under a lease, reserves send slots for them from each
 * number's governor (governor.repository.ts), and sends each row at its slot over HTTP. Results
 * are recorded in batches (one transaction for many rows: outbox done, wamid + `sent`, statuses
 * that raced ahead applied), every write fenced by the row's lease token. Each row goes through
 * the provider interface of its number's provider (`MessageSender`: Meta's Graph API or Twilio's
 * Messages API), which classifies failures by the provider's code (PROTOCOL.md §3.4, §7):
 * - retryable → back off exponentially with jitter, up to `maxAttempts`, then `failed`;
 * - 131056 (pair rate limit) → that recipient's row waits 4^n s; other recipients go on;
 * - 130429 (throughput reached) → the number's governor pauses, the row retries (not counted);
 * - reauth (Meta 190, Twilio 20003) → the number becomes `reauth_required`, the row is parked
 *   until `wahub number set-token` resumes it;
 * - anything else → `failed` with the provider's code and title.
 * Leases of held rows are refreshed every `leaseRefreshMs`; a send starts only while the row's
 * lease is confirmed to run for a while yet (a row whose lease was lost or nearly expired is
 * dropped unsent: another worker may hold it). A worker killed mid-send loses
 * nothing, its rows are re-claimed when their lease expires. `stop()` stops claiming, releases rows
 * not yet sent, and waits for sends in flight. Inserts wake idle workers by LISTEN/NOTIFY.
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { recordReauthRequired } from '../events/event-writer.js';
import { advanceMessageStatus, recordSends } from '../conversations/message-status.js';
import { metrics } from '../ops/metrics.js';
import { markPhoneNumberReauthRequired } from '../numbers/phone-numbers.repository.js';
import type { GraphApiClient } from '../providers/meta/graph.client.js';
import { MetaSender } from '../providers/meta/meta.sender.js';
import type { MessageSender, ProviderName, ProviderSendError } from '../providers/types.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { throttleNumber } from './governor.repository.js';
import { fromStoredContent } from './message-content.js';
import * as outbox from './outbox.repository.js';
import { SlotReserver } from './slot-reserver.js';

export interface DispatcherOptions {
  db: Db;
  cipher: TokenCipher;
  /** Sends for numbers of provider `meta`. */
  graph: GraphApiClient;
  /** Sends for numbers of provider `twilio` (a TwilioMessagesClient); without it their messages fail. */
  twilio?: MessageSender;
  logger: Logger;
  /** Lease TTL, ms (default 60 000 in config). */
  leaseTtlMs: number;
  /** Lease refresh period for in-flight rows, ms. Default leaseTtlMs / 2. */
  leaseRefreshMs?: number;
  /** Rows claimed per round. */
  batchSize: number;
  /** Poll interval when idle and no notification arrives, ms. */
  pollIntervalMs: number;
  /** Attempts before a retryable error becomes final. */
  maxAttempts: number;
  /** First retry delay, ms; doubles each attempt (capped at 15 min), with jitter. */
  retryBaseMs: number;
  /** Rows held at once (claimed, waiting for their slot or in flight). Default 20 · batchSize. */
  maxInFlight?: number;
  /** Connection string for LISTEN/NOTIFY wake-ups; without it the dispatcher only polls. */
  listenUrl?: string;
  workerId?: string;
}

/**
 * Slots are spaced 5 % wider than 1/mps, so mps slots span 1,050 ms: a send may start up to
 * LATE_TOLERANCE_MS late and still arrive with up to 30 ms of jitter while any 1 s window stays
 * ≤ mps; the cost is 5 % of the number's throughput. (3 % and 10 ms, measured at the simulator on a
 * busy 2-core machine: windows of 81–84 per 80 and, from late sends giving up their slots, 75–89 %
 * utilisation; 5 % and 20 ms: ≤ 80 and about 95 %.)
 */
const SLOT_SAFETY_FACTOR = 1.05;
const LATE_TOLERANCE_MS = 20;
const HORIZON_MS = 2_000;
const SECONDS_PER_NUMBER = 2;
const MAX_RETRY_DELAY_MS = 15 * 60_000;
const THROTTLE_PAUSE_MS = 1_000;
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

/** Spacing of one number's send slots, ms. */
export function slotIntervalMs(throughputMps: number): number {
  return (1000 / throughputMps) * SLOT_SAFETY_FACTOR;
}

interface Held {
  row: outbox.ClaimedOutboxRow;
  timer: NodeJS.Timeout | undefined;
  started: boolean;
  settle: () => void;
  /**
   * Local time (ms) after which this worker must not start the send: its lease, as last confirmed
   * (claim or refresh, measured from when that query was issued), minus a safety margin.
   */
  sendableUntil: number;
}

interface Sent {
  row: outbox.ClaimedOutboxRow;
  wamid: string | null;
}

/** Map.groupBy arrives in Node 21; wahub supports Node 20. */
function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const group = groups.get(k);
    if (group) group.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

export class Dispatcher {
  readonly workerId: string;
  /** Epoch ms of the loop's last completed round (readiness: a stuck loop stops ticking). */
  lastTickAt: number | undefined;
  private running = false;
  /** Set by stop(): rows not yet sent are released, so no timer may start a send any more. */
  private stopping = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private readonly held = new Map<string, Held>();
  private readonly deliveries = new Set<Promise<void>>();
  private pendingCompletions: Array<Sent & { done: () => void }> = [];
  /** Rows dropped unsent because their lease was about to run out: given back in batches. */
  private givenBack: Array<{ id: string; leaseToken: string }> = [];
  private giveBackTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private refreshTimer: NodeJS.Timeout | undefined;
  private listener: pg.Client | undefined;
  private readonly maxInFlight: number;
  private readonly leaseRefreshMs: number;
  private readonly leaseMarginMs: number;
  private readonly slots: SlotReserver;
  /** The provider interface per number provider (`phone_numbers.provider`). */
  private readonly senders: Partial<Record<ProviderName, MessageSender>>;

  constructor(private readonly options: DispatcherOptions) {
    this.workerId = options.workerId ?? `worker-${randomUUID().slice(0, 8)}`;
    this.senders = { meta: new MetaSender(options.graph), twilio: options.twilio };
    this.maxInFlight = options.maxInFlight ?? options.batchSize * 20;
    this.leaseRefreshMs = options.leaseRefreshMs ?? options.leaseTtlMs / 2;
    // Half the slack between a refresh and the lease's expiry: a send starts only while the lease
    // has at least that long to run, so it reaches Meta before another worker may re-claim the row.
    this.leaseMarginMs = Math.max(0, (options.leaseTtlMs - this.leaseRefreshMs) / 2);
    this.slots = new SlotReserver(options.db, LATE_TOLERANCE_MS, HORIZON_MS / 4);
  }

  /** Starts claiming (and listening for wake-ups). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.refreshTimer = setInterval(() => void this.refreshLeases(), this.leaseRefreshMs);
    void this.listen();
    this.loop = this.run();
  }

  /** Stops claiming, releases rows not yet sent, waits for sends in flight and records them. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    this.wake?.();
    await this.loop;
    const unsent = [...this.held.values()].filter((held) => !held.started);
    for (const held of unsent) {
      clearTimeout(held.timer);
      this.held.delete(held.row.id);
      held.settle();
    }
    clearTimeout(this.giveBackTimer);
    const released = await outbox.releaseOutboxRows(this.options.db, [
      ...this.givenBack.splice(0), ...unsent.map((held) => ({ id: held.row.id, leaseToken: held.row.lease_token })),
    ]);
    await Promise.allSettled([...this.deliveries]);
    await this.flushCompletions();
    clearInterval(this.refreshTimer);
    await this.listener?.end().catch(() => undefined);
    this.listener = undefined;
    this.options.logger.info({ released }, 'dispatcher stopped');
  }

  /** Wakes an idle loop at once. */
  notify(): void {
    this.wake?.();
  }

  /** Rows this worker holds right now (claimed, waiting or in flight). */
  get heldCount(): number {
    return this.held.size;
  }

  /** Claims one batch, sends it at its slots and records the results. @returns rows claimed */
  async runOnce(): Promise<number> {
    const { claimed, settled } = await this.claimAndSchedule(this.options.batchSize);
    await settled;
    await this.flushCompletions();
    return claimed;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let claimed = 0;
      try {
        const room = this.maxInFlight - this.held.size;
        if (room > 0) claimed = (await this.claimAndSchedule(Math.min(room, this.options.batchSize))).claimed;
      } catch (error) {
        this.options.logger.error({ err: error }, 'dispatcher claim failed');
      }
      this.lastTickAt = Date.now();
      if (claimed === 0 && this.running) await this.idle();
    }
  }

  private idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.options.pollIntervalMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  private async listen(): Promise<void> {
    if (!this.options.listenUrl) return;
    try {
      const client = new pg.Client({ connectionString: this.options.listenUrl });
      client.on('error', (error) => {
        this.options.logger.warn({ err: error }, 'outbox LISTEN connection lost; polling until it is back');
        this.listener = undefined;
        if (this.running) setTimeout(() => void this.listen(), 1_000);
      });
      client.on('notification', () => this.wake?.());
      await client.connect();
      await client.query('LISTEN wahub_outbox');
      if (!this.running) await client.end();
      else this.listener = client;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'outbox LISTEN failed; polling only');
    }
  }

  private async refreshLeases(): Promise<void> {
    const helds = [...this.held.values()];
    const issuedAt = Date.now();
    try {
      const kept = new Set(await outbox.refreshLeases(this.options.db, helds.map((held) => ({ id: held.row.id, leaseToken: held.row.lease_token })), this.options.leaseTtlMs));
      // A row whose lease is gone now belongs to another worker (or was just completed by this
      // one, which is not a loss): a row not yet sent is dropped here, so it is never sent twice.
      let lost = 0;
      for (const held of helds) {
        if (kept.has(held.row.id)) held.sendableUntil = issuedAt + this.options.leaseTtlMs - this.leaseMarginMs;
        else if (!held.started && this.held.get(held.row.id) === held) {
          lost++;
          this.drop(held);
        }
      }
      if (lost > 0) this.options.logger.warn({ lost }, 'leases lost before the send; those rows are left to the worker that holds them now');
    } catch (error) {
      this.options.logger.error({ err: error }, 'lease refresh failed');
    }
  }

  private async claimAndSchedule(limit: number): Promise<{ claimed: number; settled: Promise<void> }> {
    const claimedAt = Date.now();
    const rows = await outbox.claimOutboxBatch(this.options.db, {
      workerId: this.workerId, limit, leaseTtlMs: this.options.leaseTtlMs, horizonMs: HORIZON_MS, secondsPerNumber: SECONDS_PER_NUMBER,
    });
    metrics.claimDuration.observe((Date.now() - claimedAt) / 1000);
    if (rows.length === 0) return { claimed: 0, settled: Promise.resolve() };
    const reclaimed = rows.filter((row) => row.reclaimed).length;
    if (reclaimed > 0) metrics.leaseExpiries.inc(reclaimed);
    const byNumber = groupBy(rows, (row) => row.phone_number_ref);
    // Details first, slots last: a block may start right away, so nothing else should delay its first sends.
    const details = await this.loadDetails(rows);
    const starts = await this.slots.reserve([...byNumber].map(([phoneNumberRef, group]) => ({
      phoneNumberRef, orgId: group[0]!.org_id, count: group.length, intervalMs: slotIntervalMs(group[0]!.throughput_mps),
    })));
    const settles: Array<Promise<void>> = [];
    const sendableUntil = claimedAt + this.options.leaseTtlMs - this.leaseMarginMs;
    for (const [phoneNumberRef, group] of byNumber) {
      const start = starts.get(phoneNumberRef) ?? Date.now();
      const interval = slotIntervalMs(group[0]!.throughput_mps);
      group.forEach((row, index) => settles.push(this.schedule(row, details.get(row.message_id), start + index * interval, sendableUntil)));
    }
    return { claimed: rows.length, settled: Promise.all(settles).then(() => undefined) };
  }

  private async loadDetails(rows: outbox.ClaimedOutboxRow[]): Promise<Map<string, outbox.DeliveryDetails>> {
    const details = new Map<string, outbox.DeliveryDetails>();
    for (const [orgId, group] of groupBy(rows, (row) => row.org_id)) {
      for (const detail of await outbox.findDeliveryDetails(this.options.db, orgId, group.map((row) => row.message_id))) details.set(detail.id, detail);
    }
    return details;
  }

  /** Holds a row until its slot, then delivers it. Resolves when its outcome is recorded. */
  private schedule(row: outbox.ClaimedOutboxRow, details: outbox.DeliveryDetails | undefined, dueAt: number, sendableUntil: number): Promise<void> {
    return new Promise<void>((settle) => {
      const held: Held = { row, timer: undefined, started: false, settle, sendableUntil };
      this.held.set(row.id, held);
      const fire = (due: number) => {
        held.timer = setTimeout(() => {
          // Released (stop) or dropped (lease lost) meanwhile, e.g. while a new slot was reserved.
          if (this.held.get(row.id) !== held) return;
          // The lease may have expired (a stalled event loop or database delayed the claim, the
          // slot or the refreshes): another worker may hold the row now, so this one must not send it.
          if (Date.now() > held.sendableUntil) {
            this.giveBack(held);
            return;
          }
          if (this.stopping) return; // stop() released the row and settled it
          // A send that starts late could bunch up with the next block of slots: take a new slot instead.
          if (Date.now() - due > LATE_TOLERANCE_MS) {
            void this.slots.reserveOne({ phoneNumberRef: row.phone_number_ref, orgId: row.org_id, intervalMs: slotIntervalMs(row.throughput_mps) })
              .then((slot) => {
                if (!this.stopping) fire(slot);
              })
              .catch((error) => this.abandon(held, error));
            return;
          }
          held.started = true;
          const delivery = this.deliver(row, details)
            .catch((error) => this.options.logger.error({ err: error, outbox_id: row.id }, 'delivery failed unexpectedly; the lease will expire and the row be retried'))
            .finally(() => {
              this.deliveries.delete(delivery);
              this.held.delete(row.id);
              settle();
            });
          this.deliveries.add(delivery);
        }, Math.max(0, due - Date.now()));
      };
      fire(dueAt);
    });
  }

  private abandon(held: Held, error: unknown): void {
    this.options.logger.error({ err: error, outbox_id: held.row.id }, 'could not reserve a send slot; the lease will expire and the row be retried');
    this.drop(held);
  }

  /** Forgets a row that was not sent (its lease expires, or is already another worker's). */
  private drop(held: Held): void {
    clearTimeout(held.timer);
    if (this.held.get(held.row.id) === held) this.held.delete(held.row.id);
    held.settle();
  }

  /**
   * Drops a row whose lease is too close to expiry to send it, and releases it (fenced by its lease
   * token, in batches) so that it is claimable at once and the unused claim is not counted as an attempt.
   */
  private giveBack(held: Held): void {
    this.drop(held);
    this.givenBack.push({ id: held.row.id, leaseToken: held.row.lease_token });
    this.giveBackTimer ??= setTimeout(() => {
      this.giveBackTimer = undefined;
      const rows = this.givenBack.splice(0);
      outbox.releaseOutboxRows(this.options.db, rows).then(
        (released) => this.options.logger.warn({ rows: rows.length, released }, 'leases too close to expiry to send: rows given back unsent'),
        (error) => this.options.logger.warn({ err: error, rows: rows.length }, 'could not give back rows; their leases will expire'),
      );
    }, COMPLETION_FLUSH_MS);
  }

  private async deliver(row: outbox.ClaimedOutboxRow, details: outbox.DeliveryDetails | undefined): Promise<void> {
    const log = () => this.options.logger.child({ message_id: row.message_id, outbox_id: row.id, correlation_id: row.correlation_id });
    if (!details?.access_token_ciphertext || !details.access_token_key_id) {
      await this.fail(row, { class: 'permanent', code: null, title: 'phone number has no access token', details: null, httpStatus: null }, log());
      return;
    }
    let token: string;
    try {
      token = this.options.cipher.decrypt({ ciphertext: details.access_token_ciphertext, keyId: details.access_token_key_id });
    } catch (error) {
      log().error({ err: error }, 'access token does not decrypt');
      await this.fail(row, { class: 'permanent', code: null, title: 'access token does not decrypt', details: null, httpStatus: null }, log());
      return;
    }
    const sender = this.senders[details.provider];
    if (!sender) {
      await this.fail(row, { class: 'permanent', code: null, title: `no sender configured for provider ${details.provider}`, details: null, httpStatus: null }, log());
      return;
    }
    const sendStarted = performance.now();
    const result = await sender.sendMessage({
      from: { phoneNumberId: details.phone_number_id, e164: details.from_e164, accountSid: details.twilio_account_sid },
      credential: token,
      to: details.e164,
      message: fromStoredContent(details.type, details.content),
    });
    metrics.sendDuration.observe({ outcome: result.ok ? 'accepted' : result.error.class }, (performance.now() - sendStarted) / 1000);
    if (!result.ok) metrics.providerErrors.inc({ code: String(result.error.code ?? 'none'), class: result.error.class });
    if (result.ok) await this.recordSent({ row, wamid: result.providerMessageId });
    else await this.handleFailure(row, result.error, log());
  }

  private async handleFailure(row: outbox.ClaimedOutboxRow, error: ProviderSendError, log: Logger): Promise<void> {
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
  private recordSent(sent: Sent): Promise<void> {
    return new Promise<void>((done) => {
      this.pendingCompletions.push({ ...sent, done });
      if (this.pendingCompletions.length >= COMPLETION_BATCH) void this.flushCompletions();
      else this.flushTimer ??= setTimeout(() => void this.flushCompletions(), COMPLETION_FLUSH_MS);
    });
  }

  private flushCompletions(): Promise<void> {
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

  private async park(row: outbox.ClaimedOutboxRow, error: ProviderSendError, log: Logger): Promise<void> {
    await withTransaction(this.options.db, async (tx) => {
      if (!(await outbox.parkOutboxRow(tx, row.id, row.lease_token, error))) return;
      if (await markPhoneNumberReauthRequired(tx, row.phone_number_ref)) {
        await recordReauthRequired(tx, { correlationId: row.correlation_id, source: 'worker' }, row.org_id, row.phone_number_ref);
      }
    });
    log.error({ code: error.code }, 'access token rejected: phone number needs re-authorisation; its messages wait');
  }

  private async fail(row: outbox.ClaimedOutboxRow, error: ProviderSendError, log: Logger): Promise<void> {
    await withTransaction(this.options.db, async (tx) => {
      if (!(await outbox.failOutboxRow(tx, row.id, row.lease_token, error))) return;
      await advanceMessageStatus(tx, { correlationId: row.correlation_id, source: 'worker' }, {
        orgId: row.org_id, messageId: row.message_id, status: 'failed', errorCode: error.code, errorTitle: error.title,
      });
    });
    log.warn({ code: error.code, http_status: error.httpStatus }, `message failed: ${error.title}`);
  }
}
