/**
 * Reading and syncing the template registry for the API and the CLI: owners and admins manage
 * (sync, create, delete); every operator reads.
 */
import type { Db } from '../db/database.js';
import type { TemplateRow } from '../db/schema.js';
import type { PageRequest } from '../http/pagination.js';
import { toPage } from '../http/pagination.js';
import { AppError, notFound } from '../shared/errors.js';
import type { Principal } from '../tenancy/tenancy.service.js';
import { syncOrganizationTemplates, type TemplateSyncDeps, type TemplateSyncSummary } from './template-sync.service.js';
import { findTemplateById, listTemplates, type TemplateFilter } from './templates.repository.js';

/** A registry row as the API shows it. */
export function presentTemplate(row: TemplateRow & { waba_id: string }) {
  return {
    id: row.id, waba_id: row.waba_id, name: row.name, language: row.language, meta_template_id: row.meta_template_id, status: row.status,
    category: row.category, previous_category: row.previous_category, quality_score: row.quality_score, rejection_reason: row.rejection_reason,
    parameter_format: row.parameter_format, components: Array.isArray(row.components) ? row.components : [],
    synced_at: row.synced_at?.toISOString() ?? null, deleted_at: row.deleted_at?.toISOString() ?? null,
    created_at: row.created_at.toISOString(), updated_at: row.updated_at.toISOString(),
  };
}

/** Owners and admins manage templates. @throws AppError forbidden */
export function assertMayManageTemplates(principal: Principal): void {
  if (principal.role !== 'owner' && principal.role !== 'admin') throw new AppError('forbidden', 'only owners and admins manage templates');
}

/** A page of the organization's templates, newest first. */
export async function listTemplatePage(db: Db, orgId: string, filter: TemplateFilter, page: PageRequest) {
  const rows = await listTemplates(db, orgId, filter, page);
  return toPage(rows, page.limit, (row) => ({ at: row.cursor_at, id: row.id }), presentTemplate);
}

/** One template of the organization. @throws AppError not_found */
export async function getTemplate(db: Db, orgId: string, id: string) {
  const row = await findTemplateById(db, orgId, id);
  if (!row) throw notFound('template');
  return presentTemplate(row);
}

/**
 * Syncs the organization's WABAs (or one) from Graph on demand.
 * @throws AppError forbidden, not_configured (no Graph client), not_found, provider_error
 */
export async function syncTemplatesOnDemand(deps: TemplateSyncDeps | undefined, principal: Principal, wabaId?: string): Promise<{ data: TemplateSyncSummary[] }> {
  assertMayManageTemplates(principal);
  if (!deps) throw new AppError('not_configured', 'template sync needs the Graph API (GRAPH_API_BASE_URL) or sandbox mode');
  return { data: await syncOrganizationTemplates(deps, principal.orgId, wabaId) };
}
