/**
 * SQL of the per-number throughput governor (GCRA, "generic cell rate algorithm"): each number has
 * a theoretical arrival time `tat`; reserving n send slots moves it to
 * `greatest(tat, now(), throttled_until) + n · interval`. Workers reserve one block per claimed
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

/**
 * Reserves blocks of send slots.
 * @returns per number, the delay from now (ms, ≥ 0) of its first reserved slot. Delays are computed
 *   by the database clock alone, so workers on other machines need no synchronised clocks.
 */
export async function reserveSendSlots(db: Db, requests: SlotRequest[]): Promise<Map<string, number>> {
  if (requests.length === 0) return new Map();
  const result = await sql<{ phone_number_ref: string; delay_ms: number }>`
    WITH reserved AS (
      INSERT INTO send_governors AS g (phone_number_ref, org_id, tat)
      SELECT x.ref, x.org_id, now() + x.n * x.interval_ms * interval '1 millisecond'
      FROM unnest(${requests.map((r) => r.phoneNumberRef)}::uuid[], ${requests.map((r) => r.orgId)}::uuid[],
                  ${requests.map((r) => r.count)}::int[], ${requests.map((r) => r.intervalMs)}::float8[]) AS x(ref, org_id, n, interval_ms)
      ORDER BY x.ref
      ON CONFLICT (phone_number_ref) DO UPDATE SET
        -- excluded.tat - now() is this request's n · interval.
        tat = greatest(g.tat, now(), g.throttled_until) + (excluded.tat - now()),
        updated_at = now()
      RETURNING g.phone_number_ref, g.tat
    )
    SELECT r.phone_number_ref,
           greatest(0, extract(epoch FROM (r.tat - x.n * x.interval_ms * interval '1 millisecond') - clock_timestamp()) * 1000)::float8 AS delay_ms
    FROM reserved r
    JOIN unnest(${requests.map((r) => r.phoneNumberRef)}::uuid[], ${requests.map((r) => r.count)}::int[],
                ${requests.map((r) => r.intervalMs)}::float8[]) AS x(ref, n, interval_ms) ON x.ref = r.phone_number_ref`.execute(db);
  return new Map(result.rows.map((row) => [row.phone_number_ref, Number(row.delay_ms)]));
}

/** After Meta's 130429 (throughput reached): no slot of this number starts before `pauseMs` from now. */
export async function throttleNumber(db: Db, values: { phoneNumberRef: string; orgId: string; pauseMs: number }): Promise<void> {
  await sql`
    INSERT INTO send_governors AS g (phone_number_ref, org_id, throttled_until)
    VALUES (${values.phoneNumberRef}, ${values.orgId}, now() + ${values.pauseMs} * interval '1 millisecond')
    ON CONFLICT (phone_number_ref) DO UPDATE SET throttled_until = greatest(g.throttled_until, excluded.throttled_until), updated_at = now()`.execute(db);
}
