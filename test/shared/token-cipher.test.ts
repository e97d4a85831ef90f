import { describe, expect, it } from 'vitest';
import { generateTokenKey, TokenCipher } from '../../src/shared/token-cipher.js';

const keyA = { id: 'a', key: Buffer.alloc(32, 1) };
const keyB = { id: 'b', key: Buffer.alloc(32, 2) };

describe('TokenCipher', () => {
  it('round-trips a token and never stores it in clear', () => {
    const cipher = new TokenCipher([keyA]);
    const token = 'EAAG-very-secret-token';
    const encrypted = cipher.encrypt(token);
    expect(encrypted.keyId).toBe('a');
    expect(encrypted.ciphertext).not.toContain(token);
    expect(Buffer.from(encrypted.ciphertext, 'base64url').toString('latin1')).not.toContain('secret');
    expect(cipher.decrypt(encrypted)).toBe(token);
  });

  it('uses a fresh IV each time, so equal tokens give different ciphertexts', () => {
    const cipher = new TokenCipher([keyA]);
    expect(cipher.encrypt('same').ciphertext).not.toBe(cipher.encrypt('same').ciphertext);
  });

  it('encrypts with the first key and still decrypts with older keys', () => {
    const old = new TokenCipher([keyA]).encrypt('t1');
    const rotated = new TokenCipher([keyB, keyA]);
    expect(rotated.encrypt('t2').keyId).toBe('b');
    expect(rotated.decrypt(old)).toBe('t1');
  });

  it('refuses an altered ciphertext and an unknown key id', () => {
    const cipher = new TokenCipher([keyA]);
    const encrypted = cipher.encrypt('token');
    const bytes = Buffer.from(encrypted.ciphertext, 'base64url');
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    expect(() => cipher.decrypt({ ...encrypted, ciphertext: bytes.toString('base64url') })).toThrow();
    expect(() => cipher.decrypt({ ...encrypted, keyId: 'zzz' })).toThrow(/unknown token encryption key id/);
  });

  it('generates keys in TOKEN_ENCRYPTION_KEYS form', () => {
    const [id, secret] = generateTokenKey('k9').split(':');
    expect(id).toBe('k9');
    expect(Buffer.from(secret!, 'base64')).toHaveLength(32);
  });
});
