/**
 * `wahub keys rotate`: re-encrypts every secret stored encrypted (SPEC §2.4) with the newest key
 * (the first of `TOKEN_ENCRYPTION_KEYS`): the numbers' access tokens and Auth Tokens here, the event
 * subscriptions' signing secrets through `../events/subscriptions.service.ts`. Works in keyset
 * batches, each row updated only if unchanged since it was read, so it is safe to run while the hub
 * runs and safe to re-run after an interruption.
 */
import type { Db } from '../db/database.js';
import { rotateSubscriptionSecrets } from '../events/subscriptions.service.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { countTokensToRotate, listTokensToRotate, replaceTokenCiphertext } from './token-rotation.repository.js';

export interface RotationProgress {
  total: number;
  rotated: number;
  /** Tokens that do not decrypt with any configured key (left as they are; `wahub doctor` lists them). */
  failed: number;
}

/**
 * Re-encrypts the numbers' tokens with the newest key.
 * @param options.batchSize rows per keyset batch, default 100
 * @param options.onProgress called after each batch
 * @returns the final counts and the key id now used
 */
export async function rotateTokenKeys(
  db: Db,
  cipher: TokenCipher,
  options: { batchSize?: number; onProgress?: (progress: RotationProgress) => void } = {},
): Promise<RotationProgress & { keyId: string }> {
  const keyId = cipher.currentKeyId;
  const progress: RotationProgress = { total: await countTokensToRotate(db, keyId), rotated: 0, failed: 0 };
  let afterId: string | null = null;
  for (;;) {
    const rows = await listTokensToRotate(db, keyId, afterId, options.batchSize ?? 100);
    if (rows.length === 0) break;
    for (const row of rows) {
      try {
        const plaintext = cipher.decrypt({ ciphertext: row.access_token_ciphertext!, keyId: row.access_token_key_id ?? '' });
        const encrypted = cipher.encrypt(plaintext);
        if (await replaceTokenCiphertext(db, { id: row.id, oldCiphertext: row.access_token_ciphertext!, ciphertext: encrypted.ciphertext, keyId: encrypted.keyId })) {
          progress.rotated++;
        }
      } catch {
        progress.failed++;
      }
    }
    afterId = rows.at(-1)!.id;
    options.onProgress?.({ ...progress });
  }
  return { ...progress, keyId };
}

/** What `wahub keys rotate` did: the number tokens' counts and key id, and the subscription secrets' counts. */
export type KeyRotationResult = RotationProgress & { keyId: string; subscription_secrets: { rotated: number; failed: number } };

/**
 * `wahub keys rotate`: the numbers' tokens first (with progress), then the event subscriptions'
 * secrets. Secrets that do not decrypt with any configured key are counted as `failed` and left as
 * they are (the CLI then exits non-zero).
 * @param options.onProgress called after each batch of number tokens
 */
export async function rotateEncryptionKeys(
  db: Db,
  cipher: TokenCipher,
  options: { onProgress?: (progress: RotationProgress) => void } = {},
): Promise<KeyRotationResult> {
  const tokens = await rotateTokenKeys(db, cipher, { onProgress: options.onProgress });
  return { ...tokens, subscription_secrets: await rotateSubscriptionSecrets(db, cipher) };
}
