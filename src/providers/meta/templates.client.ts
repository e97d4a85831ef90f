/**
 * Graph API calls of template management (docs/PROTOCOL-NOTES.md "Message templates"):
 * `GET /{waba_id}/message_templates` with cursor paging (`paging.cursors.after`, `paging.next` only
 * while another page exists), `POST /{waba_id}/message_templates` to create one (answers
 * `{id, status, category}`), `DELETE /{waba_id}/message_templates?name=` to delete every language of
 * a name. These endpoints fall under the management rate limit: codes 4 and 80007 mean "back off"
 * (PROTOCOL.md §4 [M-PLAT]).
 */
import type { CallResult, GraphApiClient } from './graph.client.js';

/** Codes of Meta's management rate limit (PROTOCOL.md §4 [M-PLAT]). */
export const TEMPLATE_RATE_LIMIT_CODES: ReadonlySet<number> = new Set([4, 80007]);

/** Fields asked of each template; Meta returns only `id`, `name`… without `fields`. */
export const TEMPLATE_FIELDS = 'id,name,language,status,category,previous_category,components,parameter_format,quality_score,rejected_reason';

/** One template as Graph lists it (the fields wahub reads). */
export interface GraphTemplate {
  id?: string;
  name?: string;
  language?: string;
  status?: string;
  category?: string;
  components?: unknown[];
  parameter_format?: string;
  quality_score?: { score?: string };
  rejected_reason?: string;
}

/** A page of `GET /{waba_id}/message_templates`. */
export interface GraphTemplatePage {
  data: GraphTemplate[];
  paging?: { cursors?: { before?: string; after?: string }; next?: string };
}

/**
 * One page of a WABA's templates.
 * @param after `paging.cursors.after` of the previous page
 * @param limit templates per page
 */
export async function listTemplatePage(
  graph: GraphApiClient, wabaId: string, token: string, after: string | undefined, limit = 100,
): Promise<CallResult<GraphTemplatePage>> {
  const query: Record<string, string> = { fields: TEMPLATE_FIELDS, limit: String(limit) };
  if (after) query.after = after;
  return graph.call<GraphTemplatePage>('GET', `/${encodeURIComponent(wabaId)}/message_templates`, { token, query });
}

/** Creates a template: Meta answers `{id, status, category}` (status PENDING while it reviews). */
export async function createTemplate(
  graph: GraphApiClient, wabaId: string, token: string, body: Record<string, unknown>,
): Promise<CallResult<{ id?: string; status?: string; category?: string }>> {
  return graph.call('POST', `/${encodeURIComponent(wabaId)}/message_templates`, { token, body });
}

/** Deletes every language of a template name: Meta answers `{success: true}`. */
export async function deleteTemplateByName(graph: GraphApiClient, wabaId: string, token: string, name: string): Promise<CallResult<{ success?: boolean }>> {
  return graph.call('DELETE', `/${encodeURIComponent(wabaId)}/message_templates`, { token, query: { name } });
}
