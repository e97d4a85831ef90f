/**
 * Quick replies: an organization's canned answers. Everyone reads them; owners and admins create
 * and delete them. Titles are unique per organization, case-insensitive (index
 * quick_replies_org_id_title_key).
 */
import type { Db } from '../db/database.js';
import { SQLSTATE, sqlState } from '../db/errors.js';
import { AppError, notFound } from '../shared/errors.js';
import type { Principal } from '../shared/principal.js';
import * as repo from './quick-replies.repository.js';
import type { CreateQuickReply } from './quick-replies.schema.js';

export interface QuickReplyJson {
  id: string;
  title: string;
  body: string;
  /** ISO-8601 UTC. */
  created_at: string;
}

const present = (row: { id: string; title: string; body: string; created_at: Date }): QuickReplyJson => ({ ...row, created_at: row.created_at.toISOString() });

/** @throws AppError forbidden unless the principal is an owner or admin */
export function assertManagesQuickReplies(principal: Principal): void {
  if (principal.role !== 'owner' && principal.role !== 'admin') throw new AppError('forbidden', 'only owners and admins manage quick replies');
}

/** The organization's quick replies (at most 500), by title. */
export async function listQuickRepliesOf(db: Db, orgId: string): Promise<QuickReplyJson[]> {
  return (await repo.listQuickReplies(db, orgId)).map(present);
}

/** Creates a quick reply. @throws AppError forbidden, conflict (the title exists, case-insensitive) */
export async function createQuickReply(db: Db, principal: Principal, input: CreateQuickReply): Promise<QuickReplyJson> {
  assertManagesQuickReplies(principal);
  try {
    return present(await repo.insertQuickReply(db, { orgId: principal.orgId, ...input }));
  } catch (error) {
    if (sqlState(error) === SQLSTATE.uniqueViolation) throw new AppError('conflict', `a quick reply titled "${input.title}" exists`, undefined, { cause: error });
    throw error;
  }
}

/** Deletes a quick reply. @throws AppError forbidden, not_found */
export async function removeQuickReply(db: Db, principal: Principal, id: string): Promise<void> {
  assertManagesQuickReplies(principal);
  if (!(await repo.deleteQuickReply(db, principal.orgId, id))) throw notFound('quick reply');
}
