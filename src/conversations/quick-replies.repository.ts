/**
 * SQL for quick replies (an organization's canned answers).
 */
import type { Db } from '../db/database.js';

export async function listQuickReplies(db: Db, orgId: string) {
  return db.selectFrom('quick_replies').select(['id', 'title', 'body', 'created_at']).where('org_id', '=', orgId).orderBy('title').limit(500).execute();
}

export async function insertQuickReply(db: Db, values: { orgId: string; title: string; body: string }) {
  return db
    .insertInto('quick_replies')
    .values({ org_id: values.orgId, title: values.title, body: values.body })
    .returning(['id', 'title', 'body', 'created_at'])
    .executeTakeFirstOrThrow();
}

/** @returns false when no such quick reply exists in the organization */
export async function deleteQuickReply(db: Db, orgId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('quick_replies').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}
