/**
 * What follows a failed send: a pure decision (no database, no clock of its own), from the error as
 * the provider classified it (`ProviderSendError.class` and `.backoff`, set by `providers/`, so no
 * provider code is read here) and the row's history. Sources: Meta's "Error codes" and
 * "Throughput" pages (PROTOCOL.md §3.4, §4): 130429 pauses the number, 131056 asks to wait 4^X s
 * before writing to the same user again.
 */
import type { ProviderSendError } from '../providers/types.js';

/** Longest single retry delay, ms (15 min). */
export const MAX_RETRY_DELAY_MS = 15 * 60_000;
/** How long a number pauses after its throughput limit was reached, ms. */
export const THROTTLE_PAUSE_MS = 1_000;

export interface FailurePolicy {
  /** Attempts before a retryable error becomes final. */
  maxAttempts: number;
  /** First retry delay, ms; doubles each attempt (capped at 15 min), with jitter. */
  retryBaseMs: number;
  /** A recipient still pair-rate-limited this long after the message was queued fails it, ms. */
  pairRateLimitMaxMs: number;
}

/** The row's history the decision needs. */
export interface FailedRow {
  /** Attempts so far, this one included. */
  attempts: number;
  /** When the message was queued. */
  queuedAt: Date;
}

export type FailureDecision =
  /** Back to pending after `delayMs`; `pauseNumberMs` first pauses the whole number's governor. */
  | { kind: 'retry'; delayMs: number; countAttempt: boolean; pauseNumberMs?: number }
  /** The number's credential was refused: wait for re-authorisation. */
  | { kind: 'park' }
  /** Final: the message fails with this error. */
  | { kind: 'fail'; error: ProviderSendError };

/** Backoff for the n-th attempt: base·2^(n-1), capped, with ±25 % jitter so retries spread out. */
export function retryDelayMs(attempt: number, baseMs: number): number {
  const delay = Math.min(baseMs * 2 ** Math.max(0, attempt - 1), MAX_RETRY_DELAY_MS);
  return Math.round(delay * (0.75 + Math.random() * 0.5));
}

/** Meta's pair-rate-limit backoff for the n-th consecutive hit: 4^X s with X = 0, 1, 2… (capped at 15 min). */
export function pairRateLimitDelayMs(attempt: number): number {
  return Math.min(4 ** Math.max(0, attempt - 1) * 1000, MAX_RETRY_DELAY_MS);
}

/**
 * The 4^X s wait for a recipient that has been rate-limited since `ageMs` ago: X is how many waits
 * of 1, 4, 16, … s fit in that age (1 + 4 + … + 4^(X-1) = (4^X − 1)/3 s), so the waits grow as
 * Meta asks without counting attempts.
 */
export function pairRateLimitDelayForAgeMs(ageMs: number): number {
  const x = Math.floor(Math.log(3 * Math.max(0, ageMs) / 1000 + 1) / Math.log(4));
  return pairRateLimitDelayMs(x + 1);
}

/**
 * Decides what follows a failed send.
 * @param now epoch ms (the caller's clock)
 */
export function decideAfterFailure(error: ProviderSendError, row: FailedRow, policy: FailurePolicy, now: number): FailureDecision {
  if (error.class === 'reauth') return { kind: 'park' };
  if (error.class === 'permanent') return { kind: 'fail', error };
  // Limits of the provider's rate are not the message's fault: they use up no attempt.
  if (error.backoff === 'throughput') return { kind: 'retry', delayMs: THROTTLE_PAUSE_MS, countAttempt: false, pauseNumberMs: THROTTLE_PAUSE_MS };
  if (error.backoff === 'pair_rate_limit') {
    const ageMs = now - row.queuedAt.getTime();
    if (ageMs >= policy.pairRateLimitMaxMs) {
      return { kind: 'fail', error: { ...error, title: `${error.title} (still rate-limited ${Math.round(ageMs / 60_000)} min after the message was queued)` } };
    }
    return { kind: 'retry', delayMs: pairRateLimitDelayForAgeMs(ageMs), countAttempt: false };
  }
  if (row.attempts >= policy.maxAttempts) return { kind: 'fail', error };
  return { kind: 'retry', delayMs: retryDelayMs(row.attempts, policy.retryBaseMs), countAttempt: true };
}
