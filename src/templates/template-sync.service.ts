/**
 * Syncing a WABA's templates from Graph (`GET /{waba_id}/message_templates`, cursor paging). A sync
 * is one transaction per WABA holding the WABA's `template_syncs` row lock, so one sync at a time
 * runs per WABA across every process, and a sync is all-or-nothing. It is idempotent: unchanged
 * templates are not written; templates Meta no longer lists are marked deleted, never dropped (a
 * queued message keeps its template). Management rate-limit codes back off and retry.
 */
import type { Db, Executor, Tx } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { findAccessToken } from '../numbers/credentials.service.js';
import { listWabaNumbers } from '../numbers/wabas.repository.js';
import type { GraphApiClient } from '../providers/meta/graph.client.js';
import { type GraphTemplate, listTemplatePage, TEMPLATE_RATE_LIMIT_CODES } from '../providers/meta/templates.client.js';
import { AppError } from '../shared/errors.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import type { TemplateSyncer } from './template-send-check.js';
import {
  findAllSyncableWabas, findConnectedWabas, lockTemplateSync, markUnseenTemplatesDeleted, recordTemplateSync, type SyncedTemplate, upsertSyncedTemplates,
} from './templates.repository.js';

/** What a sync needs: the Graph client and the cipher of the numbers' tokens. */
export interface TemplateSyncDeps {
  db: Db;
  cipher: TokenCipher;
  graph: GraphApiClient;
  /** First back-off after a rate-limit answer, ms (doubles per retry). Default 1000. */
  rateLimitBackoffMs?: number;
  /** Retries after rate-limit answers before giving up. Default 3. */
  rateLimitRetries?: number;
  /** Called after each page (progress on the CLI's stderr). */
  onPage?: (fetched: number) => void;
}

/** What one sync did. */
export interface TemplateSyncSummary {
  waba_id: string;
  /** Templates Meta listed. */
  templates: number;
  /** Rows inserted or changed. */
  changed: number;
  /** Rows marked deleted (Meta no longer lists them). */
  deleted: number;
  /** False when a sync of another caller had already synced it (sync only if never synced), or it failed. */
  ran: boolean;
  /** Why this WABA could not be synced (Meta's refusal, no token); null when it was. */
  error: string | null;
}

const NAME = /^[a-z0-9_]{1,512}$/;
const LANGUAGE = /^[A-Za-z]{2,3}(_[A-Za-z0-9]{2,8})?$/;
const ENUM = /^[A-Z_]{1,40}$/;

function enumOrNull(value: unknown): string | null {
  return typeof value === 'string' && ENUM.test(value) ? value : null;
}

/** A Graph template in the registry's terms; null when it has no usable name or language. */
export function toSyncedTemplate(template: GraphTemplate): SyncedTemplate | null {
  if (!template.name || !NAME.test(template.name) || !template.language || !LANGUAGE.test(template.language)) return null;
  const format = template.parameter_format?.toLowerCase();
  const rejected = template.rejected_reason && template.rejected_reason !== 'NONE' ? template.rejected_reason : null;
  return {
    metaTemplateId: template.id && /^[0-9]{1,32}$/.test(template.id) ? template.id : null,
    name: template.name,
    language: template.language,
    status: enumOrNull(template.status) ?? 'UNKNOWN',
    category: enumOrNull(template.category),
    qualityScore: enumOrNull(template.quality_score?.score),
    rejectionReason: rejected,
    parameterFormat: format === 'named' || format === 'positional' ? format : null,
    components: Array.isArray(template.components) ? template.components : [],
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every template of a WABA, page by page, backing off on Meta's management rate-limit codes. */
async function fetchAllTemplates(deps: TemplateSyncDeps, wabaId: string, token: string): Promise<SyncedTemplate[]> {
  const templates: SyncedTemplate[] = [];
  let after: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    let result = await listTemplatePage(deps.graph, wabaId, token, after);
    for (let retry = 0; !result.ok && result.error.code !== null && TEMPLATE_RATE_LIMIT_CODES.has(result.error.code) && retry < (deps.rateLimitRetries ?? 3); retry++) {
      await sleep((deps.rateLimitBackoffMs ?? 1_000) * 2 ** retry);
      result = await listTemplatePage(deps.graph, wabaId, token, after);
    }
    if (!result.ok) {
      throw new AppError('provider_error', `Meta refused the template list of WABA ${wabaId}: ${result.error.title}`, { meta_code: result.error.code });
    }
    for (const item of result.data.data ?? []) {
      const synced = toSyncedTemplate(item);
      if (synced) templates.push(synced);
    }
    deps.onPage?.(templates.length);
    after = result.data.paging?.cursors?.after;
    if (!result.data.paging?.next || !after) return templates;
  }
  return templates;
}

/**
 * Writes a WABA's complete template list into the registry inside the caller's transaction, which
 * holds the WABA's sync lock (lockTemplateSync): upserts every template, marks the unlisted ones
 * deleted, records the sync.
 */
export async function applyTemplateList(tx: Tx, orgId: string, wabaRef: string, templates: SyncedTemplate[]): Promise<{ changed: number; deleted: number }> {
  let changed = 0;
  for (let i = 0; i < templates.length; i += 500) changed += await upsertSyncedTemplates(tx, orgId, wabaRef, templates.slice(i, i + 500));
  const deleted = await markUnseenTemplatesDeleted(tx, orgId, wabaRef, templates);
  await recordTemplateSync(tx, orgId, wabaRef, { templateCount: templates.length });
  return { changed, deleted };
}

/**
 * Replaces the registry of a WABA with a given list in one transaction (sandbox seed, tests).
 * @returns rows changed and marked deleted
 */
export async function importTemplates(db: Db, orgId: string, wabaRef: string, templates: SyncedTemplate[]): Promise<{ changed: number; deleted: number }> {
  return withTransaction(db, async (tx) => {
    await lockTemplateSync(tx, orgId, wabaRef);
    return applyTemplateList(tx, orgId, wabaRef, templates);
  });
}

/** The token of the first connected number of the WABA that has one (template management calls are per WABA). */
export async function findWabaToken(db: Executor, cipher: TokenCipher, orgId: string, wabaRef: string): Promise<string | undefined> {
  for (const number of await listWabaNumbers(db, wabaRef)) {
    const token = await findAccessToken(db, cipher, orgId, number.id);
    if (token) return token;
  }
  return undefined;
}

/**
 * Syncs one WABA of the organization from Graph, one sync at a time per WABA.
 * @param onlyIfNeverSynced skip when another sync completed first (the first template send of a WABA)
 * @throws AppError not_found (no connected number with a token in the WABA), provider_error (Meta refused)
 */
export async function syncWabaTemplates(
  deps: TemplateSyncDeps, orgId: string, waba: { id: string; waba_id: string }, onlyIfNeverSynced = false,
): Promise<TemplateSyncSummary> {
  return withTransaction(deps.db, async (tx) => {
    const state = await lockTemplateSync(tx, orgId, waba.id);
    if (onlyIfNeverSynced && state.synced_at !== null) return { waba_id: waba.waba_id, templates: 0, changed: 0, deleted: 0, ran: false, error: null };
    const token = await findWabaToken(tx, deps.cipher, orgId, waba.id);
    if (!token) throw new AppError('not_found', `WABA ${waba.waba_id} has no connected number with a token to sync its templates with`);
    const templates = await fetchAllTemplates(deps, waba.waba_id, token);
    const { changed, deleted } = await applyTemplateList(tx, orgId, waba.id, templates);
    return { waba_id: waba.waba_id, templates: templates.length, changed, deleted, ran: true, error: null };
  });
}

/**
 * Syncs every connected WABA of the organization (or the one named), each in its own transaction.
 * A WABA that cannot be synced (Meta refuses, no token) is reported with its error and recorded on
 * its sync row; the others still sync.
 * @throws AppError not_found when `wabaId` is not a connected WABA of the organization
 */
export async function syncOrganizationTemplates(deps: TemplateSyncDeps, orgId: string, wabaId?: string): Promise<TemplateSyncSummary[]> {
  const wabas = await findConnectedWabas(deps.db, orgId, { wabaId });
  if (wabaId && wabas.length === 0) throw new AppError('not_found', `WABA ${wabaId} not found`);
  const summaries: TemplateSyncSummary[] = [];
  for (const waba of wabas) summaries.push(await syncOrRecordError(deps, orgId, waba));
  return summaries;
}

/** Syncs one WABA; a refusal (AppError) is recorded on its sync row and reported instead of thrown. */
async function syncOrRecordError(deps: TemplateSyncDeps, orgId: string, waba: { id: string; waba_id: string }): Promise<TemplateSyncSummary> {
  try {
    return await syncWabaTemplates(deps, orgId, waba);
  } catch (error) {
    if (!(error instanceof AppError)) throw error;
    await withTransaction(deps.db, async (tx) => {
      await lockTemplateSync(tx, orgId, waba.id);
      await recordTemplateSync(tx, orgId, waba.id, { error: error.message });
    });
    return { waba_id: waba.waba_id, templates: 0, changed: 0, deleted: 0, ran: false, error: error.message };
  }
}

/**
 * The worker's scheduled sync (every TEMPLATE_SYNC_INTERVAL_MS): every connected WABA with an
 * active Meta number not synced within the last `intervalMs`, one at a time (the management rate
 * limit is per WABA, PROTOCOL.md §4), so several workers and restarts do not sync a WABA twice.
 * @returns how many WABAs were synced, how many templates changed, how many WABAs failed
 */
export async function syncAllTemplates(deps: TemplateSyncDeps, intervalMs: number): Promise<{ wabas: number; changed: number; failed: number }> {
  const result = { wabas: 0, changed: 0, failed: 0 };
  for (const waba of await findAllSyncableWabas(deps.db, new Date(Date.now() - intervalMs))) {
    const summary = await syncOrRecordError(deps, waba.org_id, waba);
    result.wabas++;
    result.changed += summary.changed + summary.deleted;
    if (summary.error) result.failed++;
  }
  return result;
}

/** The syncer `POST /v1/messages` uses for a WABA never synced (skips when a concurrent send synced it first). */
export function templateSyncerFor(deps: TemplateSyncDeps): TemplateSyncer {
  return async (orgId, wabaRef) => {
    const [waba] = await findConnectedWabas(deps.db, orgId, { wabaRef });
    if (!waba) throw new AppError('not_found', 'the WABA of this number is not connected');
    await syncWabaTemplates(deps, orgId, waba, true);
  };
}
