/**
 * Cheap queries for health, metrics and `/metrics-json`. Each is served by an index (partial
 * indexes on unfinished outbox rows and unpublished events, the completed_at index) or by small
 * tables, so scraping never scans message history.
 */
import { sql } from 'kysely';
import type { Db } from '../db/database.js';

/** SELECT 1 within `timeoutMs`; rejects on timeout or error. */
export async function pingDatabase(db: Db, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`database did not answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([sql`SELECT 1`.execute(db), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Unfinished outbox rows by state, and the age (s) of the oldest due pending row. */
export async function outboxDepth(db: Db): Promise<{ byState: Record<string, number>; lagSeconds: number }> {
  const states = await sql<{ state: string; n: string }>`
    SELECT state, count(*) AS n FROM message_outbox WHERE state IN ('pending', 'leased', 'parked') GROUP BY state`.execute(db);
  const lag = await sql<{ lag: number | null }>`
    SELECT extract(epoch FROM now() - min(next_attempt_at))::float8 AS lag FROM message_outbox
    WHERE state = 'pending' AND next_attempt_at <= now()`.execute(db);
  const byState: Record<string, number> = { pending: 0, leased: 0, parked: 0 };
  for (const row of states.rows) byState[row.state] = Number(row.n);
  return { byState, lagSeconds: Math.max(0, lag.rows[0]?.lag ?? 0) };
}

/** Outbox rows finished in the last `seconds`, by final state (index message_outbox_completed_at_idx). */
export async function recentlyFinished(db: Db, seconds: number): Promise<{ done: number; failed: number }> {
  const result = await sql<{ state: string; n: string }>`
    SELECT state, count(*) AS n FROM message_outbox
    WHERE completed_at > now() - ${seconds} * interval '1 second' GROUP BY state`.execute(db);
  const counts = { done: 0, failed: 0 };
  for (const row of result.rows) if (row.state === 'done' || row.state === 'failed') counts[row.state] = Number(row.n);
  return counts;
}

/** Numbers by status (a small table). */
export async function numbersByStatus(db: Db): Promise<Record<string, number>> {
  const result = await sql<{ status: string; n: string }>`SELECT status, count(*) AS n FROM phone_numbers GROUP BY status`.execute(db);
  return Object.fromEntries(result.rows.map((row) => [row.status, Number(row.n)]));
}

/** Age (s) of the oldest unpublished domain event, the first in `seq` order (partial index outbox_events_unpublished_seq_idx). */
export async function relayLagSeconds(db: Db): Promise<number> {
  const result = await sql<{ lag: number | null }>`
    SELECT extract(epoch FROM now() - created_at)::float8 AS lag FROM outbox_events WHERE published_at IS NULL ORDER BY seq LIMIT 1`.execute(db);
  return Math.max(0, result.rows[0]?.lag ?? 0);
}
