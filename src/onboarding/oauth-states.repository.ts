/**
 * SQL for Embedded Signup states (`oauth_states`): stored as sha256 only, bound to organization
 * and operator, short-lived, single use.
 */
import { sql } from 'kysely';
import type { Executor } from '../db/database.js';


export async function insertOAuthState(db: Executor, values: { orgId: string; operatorId: string; stateHash: string; ttlMs: number }) {
  return db
    .insertInto('oauth_states')
    .values({
      org_id: values.orgId,
      operator_id: values.operatorId,
      state_hash: values.stateHash,
      expires_at: sql<Date>`now() + ${values.ttlMs} * interval '1 millisecond'`,
    })
    .returning(['id', 'expires_at'])
    .executeTakeFirstOrThrow();
}

export async function findOAuthState(db: Executor, stateHash: string) {
  return db
    .selectFrom('oauth_states')
    .select(['id', 'org_id', 'operator_id', 'expires_at', 'consumed_at', sql<boolean>`expires_at <= now()`.as('expired')])
    .where('state_hash', '=', stateHash)
    .executeTakeFirst();
}

/** Marks a state used. @returns false when it was already used or expired meanwhile (single use under concurrency). */
export async function consumeOAuthState(db: Executor, id: string): Promise<boolean> {
  const result = await db
    .updateTable('oauth_states')
    .set({ consumed_at: sql`now()` })
    .where('id', '=', id)
    .where('consumed_at', 'is', null)
    .where(sql<boolean>`expires_at > now()`)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * The unexpired signup states, newest first, each with whether its organization already holds a
 * WABA of `ownerBusinessId` (what a PARTNER_ADDED webhook says about the customer). At most `limit`.
 */
export async function listPendingOAuthStates(db: Executor, ownerBusinessId: string | null, limit = 100) {
  return db
    .selectFrom('oauth_states as s')
    .select(['s.org_id', 's.operator_id'])
    .select(sql<boolean>`${ownerBusinessId}::text IS NOT NULL AND EXISTS (
      SELECT 1 FROM wabas w WHERE w.org_id = s.org_id AND w.owner_business_id = ${ownerBusinessId}::text)`.as('owns_business'))
    .where(sql<boolean>`s.expires_at > now()`)
    .orderBy('s.created_at', 'desc')
    .limit(limit)
    .execute();
}
