/**
 * SQL of the inbox's thread actions: assignment, co-writers, open/closed, read markers.
 */
import { sql } from 'kysely';
import type { Tx, Executor } from '../db/database.js';


/** The thread's owner and status, locked FOR UPDATE (actions decide on a stable row). */
export async function lockThread(tx: Tx, orgId: string, threadId: string) {
  return tx
    .selectFrom('threads')
    .select(['id', 'owner_operator_id', 'status'])
    .where('org_id', '=', orgId)
    .where('id', '=', threadId)
    .forUpdate()
    .executeTakeFirst();
}

export async function setThreadOwner(tx: Tx, orgId: string, threadId: string, operatorId: string | null): Promise<void> {
  await tx.updateTable('threads').set({ owner_operator_id: operatorId }).where('org_id', '=', orgId).where('id', '=', threadId).execute();
}

export async function setThreadStatus(tx: Tx, orgId: string, threadId: string, status: 'open' | 'closed'): Promise<void> {
  await tx.updateTable('threads').set({ status }).where('org_id', '=', orgId).where('id', '=', threadId).execute();
}

export async function removeCowriter(tx: Tx, orgId: string, threadId: string, operatorId: string): Promise<void> {
  await tx
    .deleteFrom('thread_collaborators')
    .where('org_id', '=', orgId)
    .where('thread_id', '=', threadId)
    .where('operator_id', '=', operatorId)
    .execute();
}

/** The thread's co-writers with their names. */
export async function listCowriters(db: Executor, orgId: string, threadId: string) {
  return db
    .selectFrom('thread_collaborators')
    .innerJoin('operators', (join) =>
      join.onRef('operators.org_id', '=', 'thread_collaborators.org_id').onRef('operators.id', '=', 'thread_collaborators.operator_id'),
    )
    .select(['operators.id', 'operators.name', 'operators.email'])
    .where('thread_collaborators.org_id', '=', orgId)
    .where('thread_collaborators.thread_id', '=', threadId)
    .orderBy('thread_collaborators.added_at')
    .execute();
}

/** An enabled operator of the organization, or undefined. */
export async function findActiveOperator(db: Executor, orgId: string, operatorId: string) {
  return db
    .selectFrom('operators')
    .select(['id', 'role'])
    .where('org_id', '=', orgId)
    .where('id', '=', operatorId)
    .where('disabled_at', 'is', null)
    .executeTakeFirst();
}

/**
 * Moves an operator's read marker of a thread to its newest message (never back). The time is
 * copied inside SQL: a JS Date would drop the microseconds and leave the newest message unread.
 */
export async function markThreadRead(db: Executor, values: { orgId: string; threadId: string; operatorId: string }): Promise<void> {
  await sql`
    INSERT INTO thread_reads AS r (org_id, thread_id, operator_id, last_read_at)
    SELECT ${values.orgId}, ${values.threadId}, ${values.operatorId}, max(m.created_at)
    FROM messages m WHERE m.org_id = ${values.orgId} AND m.thread_id = ${values.threadId}
    HAVING max(m.created_at) IS NOT NULL
    ON CONFLICT (org_id, thread_id, operator_id) DO UPDATE SET last_read_at = greatest(r.last_read_at, excluded.last_read_at)`.execute(db);
}
