/**
 * The failure policy is pure: what follows a failed send, from the provider's classification and
 * the row's history alone (no database, no clock of its own).
 */
import { describe, expect, it } from 'vitest';
import { decideAfterFailure, pairRateLimitDelayForAgeMs, THROTTLE_PAUSE_MS } from '../../../src/outbound/failure-policy.js';
import type { ProviderSendError } from '../../../src/providers/types.js';

const policy = { maxAttempts: 3, retryBaseMs: 1_000, pairRateLimitMaxMs: 3_600_000 };
const now = Date.UTC(2026, 11, 6, 12);
const error = (overrides: Partial<ProviderSendError>): ProviderSendError =>
  ({ class: 'retryable', code: 131000, title: 'Something went wrong', details: null, httpStatus: 500, ...overrides });
const row = (attempts: number, ageMs = 0) => ({ attempts, queuedAt: new Date(now - ageMs) });

describe('decideAfterFailure', () => {
  it('parks on a refused credential and fails a permanent error at once', () => {
    expect(decideAfterFailure(error({ class: 'reauth', code: 190 }), row(1), policy, now)).toEqual({ kind: 'park' });
    const permanent = error({ class: 'permanent', code: 131047 });
    expect(decideAfterFailure(permanent, row(1), policy, now)).toEqual({ kind: 'fail', error: permanent });
  });

  it('retries with exponential, jittered backoff until the attempts are used up, then fails', () => {
    for (let i = 0; i < 50; i++) {
      const second = decideAfterFailure(error({}), row(2), policy, now);
      expect(second).toMatchObject({ kind: 'retry', countAttempt: true });
      // 1 s · 2^(2-1) ± 25 %.
      expect((second as { delayMs: number }).delayMs).toBeGreaterThanOrEqual(1_500);
      expect((second as { delayMs: number }).delayMs).toBeLessThanOrEqual(2_500);
    }
    expect(decideAfterFailure(error({}), row(3), policy, now)).toMatchObject({ kind: 'fail' });
  });

  it('pauses the number on its throughput limit without counting the attempt, even past the attempts', () => {
    expect(decideAfterFailure(error({ code: 130429, backoff: 'throughput' }), row(3), policy, now))
      .toEqual({ kind: 'retry', delayMs: THROTTLE_PAUSE_MS, countAttempt: false, pauseNumberMs: THROTTLE_PAUSE_MS });
  });

  it('backs off a pair-rate-limited recipient 4^X s by how long it has waited, without counting attempts, until the total time', () => {
    const limited = error({ code: 131056, backoff: 'pair_rate_limit' });
    expect(decideAfterFailure(limited, row(5, 0), policy, now)).toEqual({ kind: 'retry', delayMs: 1_000, countAttempt: false });
    // Waits of 1 + 4 s lie behind: the next is 16 s.
    expect(decideAfterFailure(limited, row(5, 5_000), policy, now)).toEqual({ kind: 'retry', delayMs: 16_000, countAttempt: false });
    const final = decideAfterFailure(limited, row(5, 3_600_000), policy, now);
    expect(final).toMatchObject({ kind: 'fail', error: { code: 131056 } });
    expect((final as { error: ProviderSendError }).error.title).toMatch(/still rate-limited 60 min after the message was queued/);
  });
});

describe('pairRateLimitDelayForAgeMs', () => {
  it('grows 1, 4, 16, 64 s as the cumulative waits pass, and stops at 15 minutes', () => {
    expect([0, 999, 1_000, 4_999, 5_000, 21_000, 85_000].map(pairRateLimitDelayForAgeMs)).toEqual([1_000, 1_000, 4_000, 4_000, 16_000, 64_000, 256_000]);
    expect(pairRateLimitDelayForAgeMs(24 * 3_600_000)).toBe(15 * 60_000);
  });
});
