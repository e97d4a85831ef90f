/**
 * Creating and deleting templates through Graph (`POST` and `DELETE /{waba_id}/message_templates`,
 * docs/PROTOCOL-NOTES.md "Message templates"), owners and admins only. Meta is asked first and the
 * registry follows its answer: a refusal stores nothing; a deletion marks rows deleted, never drops
 * them (a queued message keeps the template it was checked against).
 */
import { withTransaction } from '../db/database.js';
import { findPhoneNumberByPhoneNumberId } from '../numbers/phone-numbers.repository.js';
import type { GraphApiError } from '../providers/meta/graph.client.js';
import { createTemplate, deleteTemplateByName } from '../providers/meta/templates.client.js';
import { AppError, notFound } from '../shared/errors.js';
import type { Principal } from '../tenancy/tenancy.service.js';
import { findWabaToken, type TemplateSyncDeps } from './template-sync.service.js';
import type { CreateTemplateInput } from './templates.schema.js';
import { assertMayManageTemplates, getTemplate } from './templates.service.js';
import { findConnectedWabas, findTemplateById, markTemplateNameDeleted, upsertCreatedTemplate } from './templates.repository.js';

function requireGraph(deps: TemplateSyncDeps | undefined): TemplateSyncDeps {
  if (!deps) throw new AppError('not_configured', 'template management needs the Graph API (GRAPH_API_BASE_URL) or sandbox mode');
  return deps;
}

/** The connected WABA named by `waba_id`, or the WABA of `phone_number_id`. @throws AppError not_found */
async function resolveWaba(deps: TemplateSyncDeps, orgId: string, input: { waba_id?: string; phone_number_id?: string }) {
  let only: { wabaId?: string; wabaRef?: string } = { wabaId: input.waba_id };
  if (input.phone_number_id !== undefined) {
    const number = await findPhoneNumberByPhoneNumberId(deps.db, orgId, input.phone_number_id);
    if (!number?.waba_ref) throw new AppError('not_found', `phone number ${input.phone_number_id} not found`);
    only = { wabaRef: number.waba_ref };
  }
  const [waba] = await findConnectedWabas(deps.db, orgId, only);
  if (!waba) throw new AppError('not_found', `WABA ${input.waba_id ?? `of ${input.phone_number_id}`} not found`);
  return waba;
}

async function requireToken(deps: TemplateSyncDeps, orgId: string, waba: { id: string; waba_id: string }): Promise<string> {
  const token = await findWabaToken(deps.db, deps.cipher, orgId, waba.id);
  if (!token) throw new AppError('not_found', `WABA ${waba.waba_id} has no connected number with a token`);
  return token;
}

/**
 * Meta's answer as an AppError: a refusal (a Meta error code on a 4xx answer) is
 * `template_rejected_by_meta` carrying Meta's code and message; no answer, a 5xx or a rate limit
 * is `provider_error` (try again later).
 */
function metaRefusal(what: string, error: GraphApiError): AppError {
  const details = { meta_code: error.code, meta_message: error.title };
  if (error.code === null || error.class === 'retryable' || (error.httpStatus ?? 500) >= 500) {
    return new AppError('provider_error', `Meta could not ${what} now: ${error.title}`, details);
  }
  return new AppError('template_rejected_by_meta', `Meta refused to ${what} (code ${error.code}): ${error.title}`, details);
}

/**
 * Creates a template at Meta, then stores it with the status Meta answered (PENDING while Meta
 * reviews; the status webhook approves or rejects it later).
 * @returns the template as the API shows it
 * @throws AppError forbidden, not_configured, not_found (WABA, number, token), template_rejected_by_meta, provider_error
 */
export async function createTemplateAtMeta(deps: TemplateSyncDeps | undefined, principal: Principal, input: CreateTemplateInput) {
  assertMayManageTemplates(principal);
  const graph = requireGraph(deps);
  const waba = await resolveWaba(graph, principal.orgId, input);
  const token = await requireToken(graph, principal.orgId, waba);
  const { name, language, category, parameter_format: parameterFormat, components } = input;
  const body = { name, language, category, ...(parameterFormat ? { parameter_format: parameterFormat } : {}), components };
  const result = await createTemplate(graph.graph, waba.waba_id, token, body);
  if (!result.ok) throw metaRefusal('create the template', result.error);
  const id = await withTransaction(graph.db, (tx) => upsertCreatedTemplate(tx, principal.orgId, waba.id, {
    metaTemplateId: result.data.id && /^[0-9]{1,32}$/.test(result.data.id) ? result.data.id : null,
    name, language, status: result.data.status && /^[A-Z_]{1,40}$/.test(result.data.status) ? result.data.status : 'PENDING',
    category: result.data.category && /^[A-Z_]{1,40}$/.test(result.data.category) ? result.data.category : category,
    parameterFormat: parameterFormat ?? 'positional', components,
  }));
  return getTemplate(graph.db, principal.orgId, id);
}

/**
 * Deletes a template at Meta by name (every language, as Meta does), then marks the rows of that
 * name DELETED. A template already deleted is left alone (no Graph call).
 * @throws AppError forbidden, not_configured, not_found (another organization's id too), template_rejected_by_meta, provider_error
 */
export async function deleteTemplateAtMeta(deps: TemplateSyncDeps | undefined, principal: Principal, id: string): Promise<void> {
  assertMayManageTemplates(principal);
  const graph = requireGraph(deps);
  const row = await findTemplateById(graph.db, principal.orgId, id);
  if (!row) throw notFound('template');
  if (row.deleted_at) return;
  const token = await requireToken(graph, principal.orgId, { id: row.waba_ref, waba_id: row.waba_id });
  const result = await deleteTemplateByName(graph.graph, row.waba_id, token, row.name);
  if (!result.ok) throw metaRefusal('delete the template', result.error);
  await withTransaction(graph.db, (tx) => markTemplateNameDeleted(tx, principal.orgId, row.waba_ref, row.name));
}
