/**
 * SQL of `webhook_store_failures` (migration 0011): one row per provider and webhook body hash,
 * counting the attempts whose storing failed.
 */
import { sql } from 'kysely';
import type { Executor } from '../db/database.js';

/** Counts one more failed attempt of a body (`INSERT … ON CONFLICT`, safe under concurrent redeliveries). @returns the attempts so far */
export async function incrementStoreFailure(db: Executor, values: { provider: string; bodyHash: string; error: string }): Promise<number> {
  const row = await db
    .insertInto('webhook_store_failures')
    .values({ provider: values.provider, body_hash: values.bodyHash, last_error: values.error })
    .onConflict((oc) => oc.columns(['provider', 'body_hash']).doUpdateSet({
      attempts: sql`webhook_store_failures.attempts + 1`, last_error: sql`excluded.last_error`, last_failed_at: sql`now()`,
    }))
    .returning('attempts')
    .executeTakeFirstOrThrow();
  return row.attempts;
}
