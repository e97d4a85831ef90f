/**
 * SQL of the per-number throughput governor (GCRA, "generic cell rate algorithm"): each number has
 * a theoretical arrival time `tat`; reserving n send slots moves it to
 * `greatest(tat, now + lead, throttled_until) + n · interval`. Workers reserve one block per claimed
 * batch — one row update per batch, not per message — and send slot i at `start + i · interval`,
 * so across all workers a number's sends are spaced by `interval` and never exceed its
 * throughput in any one-second window (Meta: 80 mps by default, up to 1,000; PROTOCOL.md §4).
 */
import { sql } from 'kysely';
import type { Db } from '../db/database.js';

export interface SlotRequest {
  phoneNumberRef: string;
  orgId: string;
  /** Number of consecutive slots to reserve. */
  count: number;
  /** Spacing between slots, ms (1000 / mps, plus a safety margin). */
  intervalMs: number;
}

/** A reserved block of slots: its first slot and the database's clock when it answered, epoch ms by the database clock. */
export interface SlotBlock {
  startMs: number;
  dbNowMs: number;
}

/**
 * Reserves blocks of send slots.
 * @param leadMs an idle number's block starts this long after the current time, so that the
 *   worker has its answer before the first slot
 * @returns per number, its block. Times are the database's, so all workers agree on them; each
 *   worker maps them to its own clock (the dispatcher estimates the offset from `dbNowMs`).
 */
export async function reserveSendSlots(db: Db, requests: SlotRequest[], leadMs = 0): Promise<Map<string, SlotBlock>> {
  if (requests.length === 0) return new Map();
  const result = await sql<{ phone_number_ref: string; start_ms: number; db_now_ms: number }>`
    WITH clock AS (SELECT clock_timestamp() AS t), reserved AS (
      INSERT INTO send_governors AS g (phone_number_ref, org_id, tat, updated_at)
      SELECT x.ref, x.org_id, clock.t + (${leadMs} + x.n * x.interval_ms) * interval '1 millisecond', clock.t
      FROM unnest(${requests.map((r) => r.phoneNumberRef)}::uuid[], ${requests.map((r) => r.orgId)}::uuid[],
                  ${requests.map((r) => r.count)}::int[], ${requests.map((r) => r.intervalMs)}::float8[]) AS x(ref, org_id, n, interval_ms), clock
      ORDER BY x.ref
      ON CONFLICT (phone_number_ref) DO UPDATE SET
        -- excluded.updated_at is the current time (clock_timestamp, not the transaction's start: a
        -- block dated in the past would overlap the next one); excluded.tat - excluded.updated_at
        -- is the lead plus this request's n · interval.
        tat = greatest(g.tat, excluded.updated_at + ${leadMs} * interval '1 millisecond', g.throttled_until)
              + (excluded.tat - excluded.updated_at - ${leadMs} * interval '1 millisecond'),
        updated_at = excluded.updated_at
      RETURNING g.phone_number_ref, g.tat
    )
    SELECT r.phone_number_ref,
           (extract(epoch FROM r.tat - x.n * x.interval_ms * interval '1 millisecond') * 1000)::float8 AS start_ms,
           (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS db_now_ms
    FROM reserved r
    JOIN unnest(${requests.map((r) => r.phoneNumberRef)}::uuid[], ${requests.map((r) => r.count)}::int[],
                ${requests.map((r) => r.intervalMs)}::float8[]) AS x(ref, n, interval_ms) ON x.ref = r.phone_number_ref`.execute(db);
  return new Map(result.rows.map((row) => [row.phone_number_ref, { startMs: Number(row.start_ms), dbNowMs: Number(row.db_now_ms) }]));
}

/** After Meta's 130429 (throughput reached): no slot of this number starts before `pauseMs` from now. */
export async function throttleNumber(db: Db, values: { phoneNumberRef: string; orgId: string; pauseMs: number }): Promise<void> {
  await sql`
    INSERT INTO send_governors AS g (phone_number_ref, org_id, throttled_until)
    VALUES (${values.phoneNumberRef}, ${values.orgId}, now() + ${values.pauseMs} * interval '1 millisecond')
    ON CONFLICT (phone_number_ref) DO UPDATE SET throttled_until = greatest(g.throttled_until, excluded.throttled_until), updated_at = now()`.execute(db);
}
