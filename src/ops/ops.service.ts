/**
 * Health, readiness and the figures behind `/metrics` and `/metrics-json`.
 *
 * - Liveness (`/healthz`): the process answers; no dependency is checked.
 * - Readiness (`/readyz`): the database answers within 1 s, every migration is applied, the
 *   process is not shutting down, and (worker roles) each background loop ticked recently.
 */
import type { Db } from '../db/database.js';
import { poolStats } from '../db/database.js';
import { migrationStatus } from '../db/migrate.js';
import { metrics } from './metrics.js';
import { numbersByStatus, outboxDepth, pingDatabase, recentlyFinished, relayLagSeconds } from './ops.repository.js';

/** A background loop whose liveness readiness checks (the dispatcher, later the event relay). */
export interface LoopProbe {
  name: string;
  /** Epoch ms of the loop's last completed round, or undefined before the first. */
  lastTickAt(): number | undefined;
  /** A loop silent for longer than this (ms) is stuck. */
  maxSilenceMs: number;
}

export interface ReadinessOptions {
  db: Db;
  isShuttingDown(): boolean;
  loops: LoopProbe[];
  /** Database answer deadline, ms. Default 1000. */
  databaseTimeoutMs?: number;
}

export interface CheckOutcome {
  name: string;
  ok: boolean;
  detail?: string;
}

let migrationsCurrent = false;

async function checkMigrations(db: Db): Promise<CheckOutcome> {
  // Once all are applied they stay applied for this process's code, so the query runs until true.
  if (!migrationsCurrent) migrationsCurrent = (await migrationStatus(db)).every((m) => m.executedAt !== null);
  return migrationsCurrent ? { name: 'migrations', ok: true } : { name: 'migrations', ok: false, detail: 'pending migrations: run wahub migrate up' };
}

/** Runs every readiness check; `ready` only when all pass. */
export async function checkReadiness(options: ReadinessOptions): Promise<{ ready: boolean; checks: CheckOutcome[] }> {
  const checks: CheckOutcome[] = [];
  checks.push(options.isShuttingDown() ? { name: 'lifecycle', ok: false, detail: 'shutting down' } : { name: 'lifecycle', ok: true });
  try {
    await pingDatabase(options.db, options.databaseTimeoutMs ?? 1_000);
    checks.push({ name: 'database', ok: true });
    checks.push(await checkMigrations(options.db));
  } catch (error) {
    checks.push({ name: 'database', ok: false, detail: error instanceof Error ? error.message : String(error) });
  }
  for (const loop of options.loops) {
    const last = loop.lastTickAt();
    const silentMs = last === undefined ? Infinity : Date.now() - last;
    checks.push(silentMs <= loop.maxSilenceMs
      ? { name: loop.name, ok: true }
      : { name: loop.name, ok: false, detail: last === undefined ? 'has not run yet' : `silent for ${Math.round(silentMs)} ms` });
  }
  return { ready: checks.every((check) => check.ok), checks };
}

/** Refreshes the gauges that come from the database, right before a scrape. */
export async function refreshScrapeGauges(db: Db): Promise<void> {
  const depth = await outboxDepth(db);
  for (const [state, count] of Object.entries(depth.byState)) metrics.outboxRows.set({ state }, count);
  metrics.outboxLag.set(depth.lagSeconds);
  metrics.relayLag.set(await relayLagSeconds(db));
  const pool = poolStats(db);
  if (pool) for (const [state, count] of Object.entries(pool)) metrics.dbPool.set({ state }, count);
}

/** `/metrics-json`: the figures a person or a simple monitor wants at a glance. */
export async function metricsJson(db: Db) {
  const [depth, finished, numbers, relayLag] = await Promise.all([outboxDepth(db), recentlyFinished(db, 300), numbersByStatus(db), relayLagSeconds(db)]);
  return {
    activeAccounts: numbers.active ?? 0,
    queuedCount: depth.byState.pending ?? 0,
    processingCount: depth.byState.leased ?? 0,
    parkedCount: depth.byState.parked ?? 0,
    sentLast5m: finished.done,
    failedLast5m: finished.failed,
    reconnectCount: numbers.reauth_required ?? 0,
    outboxLagSeconds: Math.round(depth.lagSeconds * 1000) / 1000,
    relayLagSeconds: Math.round(relayLag * 1000) / 1000,
    generatedAt: new Date().toISOString(),
  };
}
