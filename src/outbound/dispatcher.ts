/**
 * The outbox dispatcher: the only code that calls the provider's send endpoint (SPEC §4).
 *
 * A loop claims batches of due rows under a lease, reserves send slots for them from each
 * number's governor (governor.repository.ts), and sends each row at its slot over HTTP. Results
 * are recorded in batches (one transaction for many rows: outbox done, wamid + `sent`, statuses
 * that raced ahead applied), every write fenced by the row's lease token. Each row goes through
 * the provider interface of its number's provider (`deliver.ts`: Meta's Graph API or Twilio's
 * Messages API), which classifies failures by the provider's code; what follows a failure (retry,
 * pause, park, fail) is `dispatch-outcomes.ts`.
 * Leases of held rows are refreshed every `leaseRefreshMs`; a send starts only while the row's
 * lease is confirmed to run for a while yet (a row whose lease was lost or nearly expired is
 * dropped unsent: another worker may hold it). A worker killed mid-send loses
 * nothing, its rows are re-claimed when their lease expires. `stop()` stops claiming, releases rows
 * not yet sent, and waits for sends in flight. Inserts wake idle workers by LISTEN/NOTIFY (`outbox-wakeup.ts`).
 */
import { randomUUID } from 'node:crypto';
import { metrics } from '../ops/metrics.js';
import { MetaSender } from '../providers/meta/meta.sender.js';
import type { MessageSender, ProviderName } from '../providers/types.js';
import { groupBy } from '../shared/group-by.js';
import * as outbox from './outbox.repository.js';
import { deliverRow, loadDeliveryDetails } from './deliver.js';
import type { DispatcherOptions } from './dispatcher.options.js';
import { OutcomeRecorder } from './dispatch-outcomes.js';
import { OutboxWakeup } from './outbox-wakeup.js';
import { SlotReserver, slotIntervalMs } from './slot-reserver.js';

export type { DispatcherOptions } from './dispatcher.options.js';

const LATE_TOLERANCE_MS = 20;
const HORIZON_MS = 2_000;
const SECONDS_PER_NUMBER = 2;
/** How long rows given back unsent wait to be released together, ms. */
const GIVE_BACK_FLUSH_MS = 5;

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

export class Dispatcher {
  readonly workerId: string;
  /** Epoch ms of the loop's last completed round (readiness: a stuck loop stops ticking). */
  lastTickAt: number | undefined;
  private running = false;
  /** Set by stop(): rows not yet sent are released, so no timer may start a send any more. */
  private stopping = false;
  private loop: Promise<void> | undefined;
  private readonly held = new Map<string, Held>();
  private readonly deliveries = new Set<Promise<void>>();
  /** Rows dropped unsent because their lease was about to run out: given back in batches. */
  private givenBack: Array<{ id: string; leaseToken: string }> = [];
  private giveBackTimer: NodeJS.Timeout | undefined;
  private refreshTimer: NodeJS.Timeout | undefined;
  /** Idle waits, woken by NOTIFY wahub_outbox (or the poll interval). */
  private readonly wakeup: OutboxWakeup;
  private readonly maxInFlight: number;
  private readonly leaseRefreshMs: number;
  private readonly leaseMarginMs: number;
  private readonly slots: SlotReserver;
  /** The provider interface per number provider (`phone_numbers.provider`). */
  private readonly senders: Partial<Record<ProviderName, MessageSender>>;
  /** Records each send's outcome: sends in batches, failures, retries, parks. */
  private readonly outcomes: OutcomeRecorder;

  constructor(private readonly options: DispatcherOptions) {
    this.workerId = options.workerId ?? `worker-${randomUUID().slice(0, 8)}`;
    this.senders = { meta: new MetaSender(options.graph), twilio: options.twilio };
    this.maxInFlight = options.maxInFlight ?? options.batchSize * 20;
    this.leaseRefreshMs = options.leaseRefreshMs ?? options.leaseTtlMs / 2;
    // Half the slack between a refresh and the lease's expiry: a send starts only while the lease
    // has at least that long to run, so it reaches Meta before another worker may re-claim the row.
    this.leaseMarginMs = Math.max(0, (options.leaseTtlMs - this.leaseRefreshMs) / 2);
    this.slots = new SlotReserver(options.db, LATE_TOLERANCE_MS, HORIZON_MS / 4);
    this.outcomes = new OutcomeRecorder(options);
    this.wakeup = new OutboxWakeup({ listenUrl: options.listenUrl, pollIntervalMs: options.pollIntervalMs, logger: options.logger });
  }

  /** Starts claiming (and listening for wake-ups). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = false;
    this.refreshTimer = setInterval(() => void this.refreshLeases(), this.leaseRefreshMs);
    this.wakeup.start();
    this.loop = this.run();
  }

  /** Stops claiming, releases rows not yet sent, waits for sends in flight and records them. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    this.wakeup.wake();
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
    await this.outcomes.flush();
    clearInterval(this.refreshTimer);
    await this.wakeup.stop();
    this.options.logger.info({ released }, 'dispatcher stopped');
  }

  /** Wakes an idle loop at once. */
  notify(): void {
    this.wakeup.wake();
  }

  /** Rows this worker holds right now (claimed, waiting or in flight). */
  get heldCount(): number {
    return this.held.size;
  }

  /** Claims one batch, sends it at its slots and records the results. @returns rows claimed */
  async runOnce(): Promise<number> {
    const { claimed, settled } = await this.claimAndSchedule(this.options.batchSize);
    await settled;
    await this.outcomes.flush();
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
      if (claimed === 0 && this.running) await this.wakeup.idle();
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
    const details = await loadDeliveryDetails(this.options.db, rows);
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
          const delivery = deliverRow({ cipher: this.options.cipher, senders: this.senders, outcomes: this.outcomes, logger: this.options.logger }, row, details)
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
    }, GIVE_BACK_FLUSH_MS);
  }







}
