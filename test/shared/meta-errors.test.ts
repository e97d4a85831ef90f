import { describe, expect, it } from 'vitest';
import { classifyMetaError, metaBackoff } from '../../src/providers/meta/errors.js';

describe('classifyMetaError', () => {
  it('retries Meta\'s temporary codes', () => {
    for (const code of [130429, 131056, 4, 80007, 131000, 1, 2, 131016, 133004, 131057]) {
      expect(classifyMetaError(code, 400)).toBe('retryable');
    }
  });

  it('fails permanent codes at once', () => {
    for (const code of [131047, 131026, 100, 132000, 132001, 131051, 368]) {
      expect(classifyMetaError(code, 400)).toBe('permanent');
    }
  });

  it('asks for re-authorisation on 190', () => {
    expect(classifyMetaError(190, 401)).toBe('reauth');
  });

  it('retries 5xx, 429 and network failures without a Meta code, not other 4xx', () => {
    expect(classifyMetaError(null, 503)).toBe('retryable');
    expect(classifyMetaError(null, 429)).toBe('retryable');
    expect(classifyMetaError(null, null)).toBe('retryable');
    expect(classifyMetaError(null, 404)).toBe('permanent');
  });

  it('retries an unknown code when Meta answered with a server error, and fails it on a 4xx', () => {
    expect(classifyMetaError(987654, 500)).toBe('retryable');
    expect(classifyMetaError(987654, 503)).toBe('retryable');
    expect(classifyMetaError(987654, 400)).toBe('permanent');
    expect(classifyMetaError(131047, 500)).toBe('retryable');
  });
});

describe('metaBackoff', () => {
  it('names the backoff of the throughput and pair rate limits, and none for other codes', () => {
    expect(metaBackoff(130429)).toBe('throughput');
    expect(metaBackoff(131056)).toBe('pair_rate_limit');
    expect([131000, 190, null].map(metaBackoff)).toEqual([undefined, undefined, undefined]);
  });
});
