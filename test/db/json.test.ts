import { describe, expect, it } from 'vitest';
import { asStoredText, toJsonb } from '../../src/db/json.js';

describe('toJsonb', () => {
  it('replaces NUL characters, which jsonb refuses, with U+FFFD', () => {
    expect(JSON.parse(toJsonb({ body: 'a\u0000b' }))).toEqual({ body: 'a\ufffdb' });
  });

  it('keeps a literal backslash-u0000 text untouched', () => {
    const value = { body: 'path\\u0000' };
    expect(JSON.parse(toJsonb(value))).toEqual(value);
  });

  it('replaces lone surrogates, which jsonb refuses, with U+FFFD and keeps surrogate pairs', () => {
    expect(JSON.parse(toJsonb({ body: 'a\ud800b\udfffc', 'k\udc00': 1, pair: '🙂' }))).toEqual({ body: 'a\ufffdb\ufffdc', 'k\ufffd': 1, pair: '🙂' });
  });

  it('keeps a literal backslash-ud800 text untouched', () => {
    const value = { body: 'x\\ud800' };
    expect(JSON.parse(toJsonb(value))).toEqual(value);
  });

  it('serialises undefined as null', () => {
    expect(toJsonb(undefined)).toBe('null');
  });
});

describe('asStoredText', () => {
  it('gives the text toJsonb stores: NUL and lone surrogates become U+FFFD, pairs and the rest are kept', () => {
    const value = 'a\u0000b\ud800c\udfffd🙂\udbff';
    expect(asStoredText(value)).toBe('a\ufffdb\ufffdc\ufffdd🙂\ufffd');
    expect(asStoredText(value)).toBe((JSON.parse(toJsonb({ value })) as { value: string }).value);
  });

  it('gives the text pg sends for a text parameter, which writes a lone surrogate as U+FFFD', () => {
    const value = 'x\udfffy\ud83d\ude42';
    expect(asStoredText(value)).toBe(Buffer.from(value, 'utf8').toString('utf8'));
  });
});
