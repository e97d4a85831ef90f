import { describe, expect, it } from 'vitest';
import { e164ToWaId, toE164, waIdToE164 } from '../../src/shared/phone.js';

describe('toE164', () => {
  it('normalises formatted international numbers', () => {
    expect(toE164('+1 (415) 555-0123')).toBe('+14155550123');
    expect(toE164('+44 7700 900123')).toBe('+447700900123');
  });

  it('refuses numbers without a country code and impossible numbers', () => {
    expect(toE164('4155550123')).toBeNull();
    expect(toE164('+123')).toBeNull();
    expect(toE164('+1 415 CALL ME')).toBeNull();
  });
});

describe('waIdToE164', () => {
  it('prefixes + to a wa_id', () => {
    expect(waIdToE164('5511987654321')).toBe('+5511987654321');
    expect(e164ToWaId('+5511987654321')).toBe('5511987654321');
  });

  it('keeps an old 12-digit Brazilian wa_id as Meta sent it', () => {
    expect(waIdToE164('551187654321')).toBe('+551187654321');
  });

  it('gives null for empty or non-digit wa_ids (BSUID-only senders)', () => {
    expect(waIdToE164('')).toBeNull();
    expect(waIdToE164('BR.abc123')).toBeNull();
  });
});
