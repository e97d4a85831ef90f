/**
 * `wahub keys rotate`: re-encrypts every stored token with the newest key (the first of
 * `TOKEN_ENCRYPTION_KEYS`). Works in keyset batches, each row updated only if unchanged since it
 * was read, so it is safe to run while the hub runs and safe to re-run after an interruption.
 */
import type { Db } from '../db/database.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { countTokensToRotate, listTokensToRotate, replaceTokenCiphertext } from './numbers.repository.js';

export interface RotationProgress {
  total: number;
  rotated: number;
  /** Tokens that do not decrypt with any configured key (left as they are; `wahub doctor` lists them). */
  failed: number;
}

/**
 * @param onProgress called after each batch
 * @returns the final counts
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
