/**
 * SQL for operator sessions, operator passwords and login look-ups.
 */
import { sql } from 'kysely';
import type { Executor } from '../db/database.js';


/** Operators with this email (case-insensitive) in any organization, with their organization's name. */
export async function findOperatorsByEmail(db: Executor, email: string) {
  return db
    .selectFrom('operators')
    .innerJoin('organizations', 'organizations.id', 'operators.org_id')
    .select(['operators.id', 'operators.org_id', 'operators.email', 'operators.name', 'operators.role', 'operators.password_hash', 'operators.disabled_at'])
    .where(sql<boolean>`lower(operators.email) = lower(${email})`)
    .orderBy('operators.created_at')
    .limit(20)
    .execute();
}

/** Replaces an operator's password hash. @returns false when the operator is not in the organization */
export async function setOperatorPasswordHash(db: Executor, orgId: string, operatorId: string, passwordHash: string): Promise<boolean> {
  const result = await db
    .updateTable('operators')
    .set({ password_hash: passwordHash })
    .where('org_id', '=', orgId)
    .where('id', '=', operatorId)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function insertSession(
  db: Executor,
  values: { orgId: string; operatorId: string; tokenHash: string; csrfTokenHash: string; ttlMs: number },
): Promise<{ id: string; expires_at: Date }> {
  return db
    .insertInto('operator_sessions')
    .values({
      org_id: values.orgId, operator_id: values.operatorId, token_hash: values.tokenHash, csrf_token_hash: values.csrfTokenHash,
      expires_at: sql<Date>`now() + ${values.ttlMs} * interval '1 millisecond'`,
    })
    .returning(['id', 'expires_at'])
    .executeTakeFirstOrThrow();
}

/** The unexpired session with this token hash, joined to its operator and organization. */
export async function findLiveSessionByTokenHash(db: Executor, tokenHash: string) {
  return db
    .selectFrom('operator_sessions')
    .innerJoin('operators', (join) =>
      join.onRef('operators.org_id', '=', 'operator_sessions.org_id').onRef('operators.id', '=', 'operator_sessions.operator_id'),
    )
    .select([
      'operator_sessions.id', 'operator_sessions.org_id', 'operator_sessions.operator_id', 'operator_sessions.csrf_token_hash',
      'operator_sessions.last_seen_at', 'operator_sessions.expires_at', 'operators.role', 'operators.disabled_at',
    ])
    .where('operator_sessions.token_hash', '=', tokenHash)
    .where('operator_sessions.expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
}

/** Slides a session's expiry to now + ttl, never past `maxAgeMs` after it was created. */
export async function renewSession(db: Executor, id: string, ttlMs: number, maxAgeMs: number): Promise<void> {
  await sql`
    UPDATE operator_sessions SET last_seen_at = now(),
      expires_at = least(now() + ${ttlMs} * interval '1 millisecond', created_at + ${maxAgeMs} * interval '1 millisecond')
    WHERE id = ${id}`.execute(db);
}

/** Ends every session of an operator (password changed). */
export async function deleteOperatorSessions(db: Executor, orgId: string, operatorId: string): Promise<void> {
  await db.deleteFrom('operator_sessions').where('org_id', '=', orgId).where('operator_id', '=', operatorId).execute();
}

export async function deleteSession(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('operator_sessions').where('id', '=', id).execute();
}

/** Removes sessions that expired (index operator_sessions_expires_at_idx). @returns how many */
export async function deleteExpiredSessions(db: Executor, limit = 1000): Promise<number> {
  const result = await sql`
    DELETE FROM operator_sessions WHERE id IN (
      SELECT id FROM operator_sessions WHERE expires_at <= now() ORDER BY expires_at LIMIT ${limit})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}

export async function findOperatorProfile(db: Executor, orgId: string, operatorId: string) {
  return db
    .selectFrom('operators')
    .innerJoin('organizations', 'organizations.id', 'operators.org_id')
    .select(['operators.id', 'operators.org_id', 'operators.email', 'operators.name', 'operators.role', 'organizations.name as org_name'])
    .where('operators.org_id', '=', orgId)
    .where('operators.id', '=', operatorId)
    .executeTakeFirst();
}

/** The organization's operators (assignment pickers); disabled ones excluded. */
export async function listOperators(db: Executor, orgId: string) {
  return db
    .selectFrom('operators')
    .select(['id', 'email', 'name', 'role'])
    .where('org_id', '=', orgId)
    .where('disabled_at', 'is', null)
    .orderBy('email')
    .limit(1000)
    .execute();
}
