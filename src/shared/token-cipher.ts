/**
 * Encryption at rest for provider access tokens (SPEC §2.4): AES-256-GCM from `node:crypto`, a
 * fresh 12-byte IV per encryption, the key id stored beside the ciphertext so keys can rotate.
 * Stored form: base64url(iv ‖ auth tag (16 bytes) ‖ ciphertext).
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import type { TokenKey } from '../config/config.js';

export interface EncryptedToken {
  ciphertext: string;
  keyId: string;
}

const IV_BYTES = 12;
const TAG_BYTES = 16;

export class TokenCipher {
  private readonly byId: Map<string, Buffer>;

  /** @param keys the first key encrypts; every key decrypts. Throws when empty. */
  constructor(private readonly keys: TokenKey[]) {
    if (keys.length === 0) throw new Error('TokenCipher needs at least one key');
    this.byId = new Map(keys.map((k) => [k.id, k.key]));
  }

  /** Id of the key that encrypts (the first configured). */
  get currentKeyId(): string {
    return this.keys[0]!.id;
  }

  /**
   * A 32-byte key for another purpose, derived (HKDF-SHA256) from the newest key and `label`, so
   * one configured secret does not serve two purposes. Changes when the first key changes.
   */
  deriveKey(label: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.keys[0]!.key, Buffer.alloc(0), label, 32));
  }

  /**
   * The same derivation from every configured key, newest first: what was derived from a key that
   * a rotation moved down the list (`k2:…,k1:…`) still checks until that key is dropped.
   */
  deriveKeys(label: string): Buffer[] {
    return this.keys.map(({ key }) => Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), label, 32)));
  }

  /** Encrypts a plaintext token with the newest (first) key. */
  encrypt(plaintext: string): EncryptedToken {
    const { id, key } = this.keys[0]!;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv);
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return { ciphertext: Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url'), keyId: id };
  }

  /**
   * Decrypts a stored token.
   * @throws Error when the key id is unknown or the ciphertext was altered (GCM tag mismatch)
   */
  decrypt(token: EncryptedToken): string {
    const key = this.byId.get(token.keyId);
    if (!key) throw new Error(`unknown token encryption key id "${token.keyId}"`);
    const bytes = Buffer.from(token.ciphertext, 'base64url');
    if (bytes.length < IV_BYTES + TAG_BYTES) throw new Error('token ciphertext is truncated');
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  }
}

/** A new random key in `TOKEN_ENCRYPTION_KEYS` form: `key_id:base64(32 bytes)`. */
export function generateTokenKey(id: string): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}
