/**
 * SQL of `wahub keys rotate` for number tokens: keyset batches of tokens not yet encrypted with the
 * newest key, and a compare-and-set replacement, so rotation runs safely beside a live hub.
 */
import type { Executor } from '../db/database.js';

/** Next batch of stored tokens not encrypted with `keyId`, after `afterId` (keyset, for rotation). */
export async function listTokensToRotate(db: Executor, keyId: string, afterId: string | null, limit: number) {
  let query = db
    .selectFrom('phone_numbers')
    .select(['id', 'phone_number_id', 'access_token_ciphertext', 'access_token_key_id'])
    .where('access_token_ciphertext', 'is not', null)
    .where('access_token_key_id', '<>', keyId)
    .orderBy('id')
    .limit(limit);
  if (afterId) query = query.where('id', '>', afterId);
  return query.execute();
}

/** How many stored tokens are not encrypted with `keyId` yet (the total of a rotation's progress). */
export async function countTokensToRotate(db: Executor, keyId: string): Promise<number> {
  const row = await db
    .selectFrom('phone_numbers')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('access_token_ciphertext', 'is not', null)
    .where('access_token_key_id', '<>', keyId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/**
 * Stores a re-encrypted token unless the row changed meanwhile (same old ciphertext required).
 * @returns false when a concurrent write (set-token, move, disconnect) got there first
 */
export async function replaceTokenCiphertext(db: Executor, values: { id: string; oldCiphertext: string; ciphertext: string; keyId: string }): Promise<boolean> {
  const result = await db
    .updateTable('phone_numbers')
    .set({ access_token_ciphertext: values.ciphertext, access_token_key_id: values.keyId })
    .where('id', '=', values.id)
    .where('access_token_ciphertext', '=', values.oldCiphertext)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
