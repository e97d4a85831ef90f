/**
 * SQL for `audit_log`: explicit operator actions an organization may have to account for (moving a
 * number between organizations). Rows are only ever appended.
 */
import type { Executor } from '../db/database.js';
import { toJsonb } from '../db/json.js';

/**
 * Appends one audit entry, in the caller's transaction when given one (so the entry commits with
 * the action it records).
 * @param values.orgId the organization the entry belongs to; null for hub-wide actions
 * @param values.actor who asked, e.g. `cli:alice@example.com`
 * @param values.action dotted verb, e.g. `waba.moved_out`
 * @param values.subject what was acted on (e.g. a WABA id), if anything
 * @param values.details JSON object stored as jsonb (NUL made storable)
 */
export async function insertAuditLog(
  db: Executor,
  values: { orgId: string | null; actor: string; action: string; subject: string | null; details: Record<string, unknown> },
): Promise<void> {
  await db.insertInto('audit_log').values({ org_id: values.orgId, actor: values.actor, action: values.action, subject: values.subject, details: toJsonb(values.details) }).execute();
}
