/**
 * Inbox actions on a thread. Who may do what:
 * - assign: owners and admins to anyone of the organization; an agent may take an unassigned
 *   thread or give up their own;
 * - add/remove co-writers: owners, admins and the thread's owner;
 * - close/reopen: whoever may write in the thread (owner/admin role, the thread's owner, a co-writer,
 *   or anyone while it is unassigned);
 * - mark read: everyone (read markers are per operator).
 */
import type { Db, Tx } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { AppError, notFound } from '../shared/errors.js';
import type { Principal } from '../tenancy/tenancy.service.js';
import * as actions from './thread-actions.repository.js';
import { addCowriter, findThread, isCowriter } from './threads.repository.js';
import { presentThread, type ThreadJson } from './threads.service.js';

const isManager = (principal: Principal) => principal.role === 'owner' || principal.role === 'admin';

async function lockOrNotFound(tx: Tx, principal: Principal, threadId: string) {
  const thread = await actions.lockThread(tx, principal.orgId, threadId);
  if (!thread) throw notFound('thread');
  return thread;
}

/** True when the principal may send and act in the thread (the send policy of outbound.service, without claiming). */
export async function mayWrite(db: Db | Tx, principal: Principal, thread: { id: string; owner_operator_id: string | null }): Promise<boolean> {
  if (isManager(principal) || thread.owner_operator_id === null || thread.owner_operator_id === principal.operatorId) return true;
  return isCowriter(db, principal.orgId, thread.id, principal.operatorId);
}

async function presentAfter(db: Db, principal: Principal, threadId: string): Promise<ThreadJson> {
  const row = await findThread(db, principal.orgId, threadId, principal.operatorId);
  if (!row) throw notFound('thread');
  return presentThread(row);
}

async function requireOperator(tx: Tx, orgId: string, operatorId: string): Promise<void> {
  if (!(await actions.findActiveOperator(tx, orgId, operatorId))) throw new AppError('validation_failed', 'operator_id is not an active operator of this organization', [
    { path: 'operator_id', message: 'unknown operator' },
  ]);
}

/** Sets or clears the thread's owner. @throws AppError not_found, forbidden, validation_failed */
export async function assignThread(db: Db, principal: Principal, threadId: string, operatorId: string | null): Promise<ThreadJson> {
  await withTransaction(db, async (tx) => {
    const thread = await lockOrNotFound(tx, principal, threadId);
    if (!isManager(principal)) {
      const takes = operatorId === principal.operatorId && thread.owner_operator_id === null;
      const releases = operatorId === null && thread.owner_operator_id === principal.operatorId;
      if (!takes && !releases) throw new AppError('forbidden', 'agents may only take an unassigned thread or release their own');
    }
    if (operatorId) await requireOperator(tx, principal.orgId, operatorId);
    await actions.setThreadOwner(tx, principal.orgId, threadId, operatorId);
  });
  return presentAfter(db, principal, threadId);
}

/** Adds (or removes) a co-writer. @throws AppError not_found, forbidden, validation_failed */
export async function changeCowriter(db: Db, principal: Principal, threadId: string, operatorId: string, add: boolean): Promise<void> {
  await withTransaction(db, async (tx) => {
    const thread = await lockOrNotFound(tx, principal, threadId);
    if (!isManager(principal) && thread.owner_operator_id !== principal.operatorId) {
      throw new AppError('forbidden', 'only the thread owner or an admin manages co-writers');
    }
    if (!add) return actions.removeCowriter(tx, principal.orgId, threadId, operatorId);
    await requireOperator(tx, principal.orgId, operatorId);
    await addCowriter(tx, principal.orgId, threadId, operatorId);
  });
}

/** Closes or reopens a thread. @throws AppError not_found, not_allowed_to_send */
export async function setThreadOpen(db: Db, principal: Principal, threadId: string, open: boolean): Promise<ThreadJson> {
  await withTransaction(db, async (tx) => {
    const thread = await lockOrNotFound(tx, principal, threadId);
    if (!(await mayWrite(tx, principal, thread))) {
      throw new AppError('not_allowed_to_send', 'only the thread owner, a co-writer or an admin may close or reopen this thread');
    }
    await actions.setThreadStatus(tx, principal.orgId, threadId, open ? 'open' : 'closed');
  });
  return presentAfter(db, principal, threadId);
}

/** Moves the caller's read marker to the thread's newest message. @throws AppError not_found */
export async function markRead(db: Db, principal: Principal, threadId: string): Promise<void> {
  if (!(await findThread(db, principal.orgId, threadId))) throw notFound('thread');
  await actions.markThreadRead(db, { orgId: principal.orgId, threadId, operatorId: principal.operatorId });
}

/** The thread with its co-writers and whether the caller may send in it. @throws AppError not_found */
export async function threadDetail(db: Db, principal: Principal, threadId: string) {
  const row = await findThread(db, principal.orgId, threadId, principal.operatorId);
  if (!row) throw notFound('thread');
  const cowriters = await actions.listCowriters(db, principal.orgId, threadId);
  const canSend = row.blocked_at === null && (isManager(principal) || row.owner_operator_id === null ||
    row.owner_operator_id === principal.operatorId || cowriters.some((c) => c.id === principal.operatorId));
  return { ...presentThread(row), cowriters, can_send: canSend };
}
