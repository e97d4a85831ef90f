/**
 * Settings of the outbox and its dispatcher (`OUTBOX_*`), read by `config.ts` with every other
 * variable (same validation, same error report).
 */
import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The environment variables (merged into config.ts's schema). */
export const outboxEnv = {
  /** Outbox lease time-to-live, ms. Default 60000. */
  OUTBOX_LEASE_TTL_MS: positiveInt(60_000),
  /** Lease refresh period for rows in flight, ms; below half the TTL. Default a third of OUTBOX_LEASE_TTL_MS. */
  OUTBOX_LEASE_REFRESH_MS: z.preprocess((value) => (value === '' ? undefined : value), z.coerce.number().int().positive().optional()),
  /** Rows claimed per dispatcher round. Default 100. */
  OUTBOX_BATCH_SIZE: positiveInt(100),
  /** Rows one worker holds at once (waiting for a send slot or in flight). Default 2000. */
  OUTBOX_MAX_IN_FLIGHT: positiveInt(2_000),
  /** Dispatcher poll interval when idle, ms. Default 250. */
  OUTBOX_POLL_INTERVAL_MS: positiveInt(250),
  /** Delivery attempts before a retryable failure becomes permanent. Default 8. */
  OUTBOX_MAX_ATTEMPTS: positiveInt(8),
  /** First retry delay, ms (doubles each attempt, with jitter). Default 1000. */
  OUTBOX_RETRY_BASE_MS: positiveInt(1_000),
  /** A recipient still pair-rate-limited (Meta 131056) this long after the message was queued fails it, ms. Default 86400000 (24 h). */
  OUTBOX_PAIR_RATE_LIMIT_MAX_MS: positiveInt(86_400_000),
};

type OutboxValues = z.output<z.ZodObject<typeof outboxEnv>>;

/** The dispatcher's settings (`Dispatcher` options). All durations in ms. */
export interface OutboxConfig {
  leaseTtlMs: number;
  leaseRefreshMs: number;
  batchSize: number;
  maxInFlight: number;
  pollIntervalMs: number;
  maxAttempts: number;
  retryBaseMs: number;
  pairRateLimitMaxMs: number;
}

/** Problems between the variables (the lease refresh must be below half the TTL), as "NAME: reason". */
export function outboxProblems(values: OutboxValues): string[] {
  // A refresh must land well before expiry: at half the TTL one slow refresh already loses the lease.
  if (values.OUTBOX_LEASE_REFRESH_MS !== undefined && values.OUTBOX_LEASE_REFRESH_MS >= values.OUTBOX_LEASE_TTL_MS / 2) {
    return [`OUTBOX_LEASE_REFRESH_MS: must be below half of OUTBOX_LEASE_TTL_MS (${values.OUTBOX_LEASE_TTL_MS} ms)`];
  }
  return [];
}

/** The dispatcher's settings from validated variables; the refresh period defaults to a third of the TTL. */
export function outboxConfig(values: OutboxValues): OutboxConfig {
  return {
    leaseTtlMs: values.OUTBOX_LEASE_TTL_MS,
    leaseRefreshMs: values.OUTBOX_LEASE_REFRESH_MS ?? Math.floor(values.OUTBOX_LEASE_TTL_MS / 3),
    batchSize: values.OUTBOX_BATCH_SIZE,
    maxInFlight: values.OUTBOX_MAX_IN_FLIGHT,
    pollIntervalMs: values.OUTBOX_POLL_INTERVAL_MS,
    maxAttempts: values.OUTBOX_MAX_ATTEMPTS,
    retryBaseMs: values.OUTBOX_RETRY_BASE_MS,
    pairRateLimitMaxMs: values.OUTBOX_PAIR_RATE_LIMIT_MAX_MS,
  };
}
