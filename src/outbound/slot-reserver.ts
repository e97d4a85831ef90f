/**
 * Send slots for one worker process, mapped to its own clock. The governor
 * (governor.repository.ts) states slots by the database clock so that every worker agrees on
 * them; this class estimates the database's clock offset and turns blocks into local epoch ms.
 * It also batches the single slots that late sends ask for: every row that missed its slot in one
 * turn of the event loop gets its new slot from the same statement (one per turn, not one per
 * row), so a stall that makes many sends late does not turn into a storm of governor writes.
 */
import type { Db } from '../db/database.js';
import { reserveSendSlots, type SlotRequest } from './governor.repository.js';

/** A clock-offset sample is replaced by a later one with a longer round trip only after this long. */
const CLOCK_SAMPLE_TTL_MS = 60_000;

interface LateRequest {
  phoneNumberRef: string;
  orgId: string;
  intervalMs: number;
  resolve: (startMs: number) => void;
  reject: (error: unknown) => void;
}

export class SlotReserver {
  /** Database clock minus this process's clock (ms), from the reservation answered fastest. */
  private clockOffset = { ms: 0, rttMs: Infinity, at: 0 };
  /** Smoothed round trip of reservations (ms): an idle number's block starts that far ahead. */
  private reserveRttMs: number;
  private late: LateRequest[] = [];
  private lateScheduled = false;

  /**
   * @param initialLeadMs first estimate of a reservation's round trip, ms
   * @param maxLeadMs an idle number's block never starts later than this from now, ms
   */
  constructor(private readonly db: Db, initialLeadMs: number, private readonly maxLeadMs: number) {
    this.reserveRttMs = initialLeadMs;
  }

  /**
   * Reserves one block per request. @returns per number, the local time (epoch ms) of its first slot.
   * The offset to the database clock is estimated like NTP, from the reservation with the shortest
   * round trip in the last minute (error ≤ half that round trip), so no synchronised clocks are
   * needed. (Anchoring a delay from "now" at the moment the answer was processed shifted blocks
   * later by the answer's latency and event-loop lag, onto the next block: more than mps sends in a
   * second, with no send looking late.) An idle number's block starts one smoothed round trip
   * ahead, so its first slots are not missed.
   */
  async reserve(requests: SlotRequest[]): Promise<Map<string, number>> {
    const issuedAt = Date.now();
    const blocks = await reserveSendSlots(this.db, requests, Math.min(this.reserveRttMs, this.maxLeadMs));
    const answeredAt = Date.now();
    const rttMs = answeredAt - issuedAt;
    this.reserveRttMs = 0.8 * this.reserveRttMs + 0.2 * rttMs;
    const sample = blocks.values().next().value;
    if (sample && (rttMs <= this.clockOffset.rttMs || answeredAt - this.clockOffset.at > CLOCK_SAMPLE_TTL_MS)) {
      this.clockOffset = { ms: sample.dbNowMs - (issuedAt + answeredAt) / 2, rttMs, at: answeredAt };
    }
    return new Map([...blocks].map(([ref, block]) => [ref, block.startMs - this.clockOffset.ms]));
  }

  /**
   * One new slot for a send that missed its own. Requests made in the same turn of the event loop
   * are reserved together, consecutive slots per number. @returns the slot, local epoch ms
   */
  reserveOne(request: Omit<SlotRequest, 'count'>): Promise<number> {
    return new Promise<number>((resolve, reject) => {
      this.late.push({ ...request, resolve, reject });
      if (this.lateScheduled) return;
      this.lateScheduled = true;
      setImmediate(() => void this.flushLate());
    });
  }

  private async flushLate(): Promise<void> {
    this.lateScheduled = false;
    const batch = this.late.splice(0);
    const byNumber = new Map<string, LateRequest[]>();
    for (const request of batch) {
      const group = byNumber.get(request.phoneNumberRef);
      if (group) group.push(request);
      else byNumber.set(request.phoneNumberRef, [request]);
    }
    try {
      const starts = await this.reserve([...byNumber.values()].map((group) => ({
        phoneNumberRef: group[0]!.phoneNumberRef, orgId: group[0]!.orgId, count: group.length, intervalMs: group[0]!.intervalMs,
      })));
      for (const [ref, group] of byNumber) {
        const start = starts.get(ref) ?? Date.now();
        group.forEach((request, index) => request.resolve(start + index * request.intervalMs));
      }
    } catch (error) {
      for (const request of batch) request.reject(error);
    }
  }
}

/**
 * Slots are spaced 5 % wider than 1/mps, so mps slots span 1,050 ms: a send may start up to
 * LATE_TOLERANCE_MS late and still arrive with up to 30 ms of jitter while any 1 s window stays
 * ≤ mps; the cost is 5 % of the number's throughput. (3 % and 10 ms, measured at the simulator on a
 * busy 2-core machine: windows of 81–84 per 80 and, from late sends giving up their slots, 75–89 %
 * utilisation; 5 % and 20 ms: ≤ 80 and about 95 %.)
 */
export const SLOT_SAFETY_FACTOR = 1.05;

/** Spacing of one number's send slots, ms. */
export function slotIntervalMs(throughputMps: number): number {
  return (1000 / throughputMps) * SLOT_SAFETY_FACTOR;
}
