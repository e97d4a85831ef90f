/**
 * SQL for the message template registry (`templates`, `template_syncs`, migration 0010). A
 * template is unique per (organization, WABA, name, language); rows are marked deleted, never
 * dropped, so a queued message always finds the template it was checked against.
 */
import { sql } from 'kysely';
import type { Executor, Tx } from '../db/database.js';
import { toJsonb } from '../db/json.js';
import type { TemplateRow } from '../db/schema.js';
import type { KeysetPosition } from '../shared/keyset.js';

/** Identifies one template of a WABA. */
export interface TemplateKey {
  orgId: string;
  wabaRef: string;
  name: string;
  language: string;
}

/**
 * Returns the template row locked `FOR UPDATE`, creating a stub (`status` as given, `synced_at`
 * null) when the registry does not know it yet. Race-safe: `ON CONFLICT DO NOTHING`, then the lock.
 * @returns the locked row and whether this call created it
 */
export async function lockOrCreateTemplateStub(
  tx: Tx,
  key: TemplateKey & { metaTemplateId: string | null; status: string; category: string | null },
): Promise<{ row: TemplateRow; created: boolean }> {
  const inserted = await tx
    .insertInto('templates')
    .values({
      org_id: key.orgId, waba_ref: key.wabaRef, name: key.name, language: key.language, meta_template_id: key.metaTemplateId, status: key.status,
      category: key.category, components: toJsonb([]),
    })
    .onConflict((oc) => oc.constraint('templates_waba_name_language_key').doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { row: inserted, created: true };
  const row = await tx
    .selectFrom('templates')
    .selectAll()
    .where('org_id', '=', key.orgId)
    .where('waba_ref', '=', key.wabaRef)
    .where('name', '=', key.name)
    .where('language', '=', key.language)
    .forUpdate()
    .executeTakeFirstOrThrow();
  return { row, created: false };
}

/** What a webhook changes on a template row; absent fields are left alone. */
export interface TemplateChange {
  metaTemplateId?: string | null;
  status?: string;
  rejectionReason?: string | null;
  category?: string | null;
  previousCategory?: string | null;
  qualityScore?: string | null;
  deletedAt?: Date | null;
}

/** Applies a change to one template row (locked by the caller). */
export async function updateTemplate(tx: Tx, orgId: string, id: string, change: TemplateChange): Promise<void> {
  await tx
    .updateTable('templates')
    .set({
      ...(change.metaTemplateId !== undefined ? { meta_template_id: change.metaTemplateId } : {}),
      ...(change.status !== undefined ? { status: change.status } : {}),
      ...(change.rejectionReason !== undefined ? { rejection_reason: change.rejectionReason } : {}),
      ...(change.category !== undefined ? { category: change.category } : {}),
      ...(change.previousCategory !== undefined ? { previous_category: change.previousCategory } : {}),
      ...(change.qualityScore !== undefined ? { quality_score: change.qualityScore } : {}),
      ...(change.deletedAt !== undefined ? { deleted_at: change.deletedAt } : {}),
      updated_at: sql`now()`,
    })
    .where('org_id', '=', orgId)
    .where('id', '=', id)
    .execute();
}

/** Every language of a template name in a WABA (deleted ones included, so the caller can tell why it refuses). */
export async function findTemplatesByName(db: Executor, orgId: string, wabaRef: string, name: string): Promise<TemplateRow[]> {
  return db.selectFrom('templates').selectAll().where('org_id', '=', orgId).where('waba_ref', '=', wabaRef).where('name', '=', name).execute();
}

/** One template of the organization, with its WABA's Meta id. */
export async function findTemplateById(db: Executor, orgId: string, id: string) {
  return db
    .selectFrom('templates')
    .innerJoin('wabas', (join) => join.onRef('wabas.org_id', '=', 'templates.org_id').onRef('wabas.id', '=', 'templates.waba_ref'))
    .selectAll('templates')
    .select('wabas.waba_id')
    .where('templates.org_id', '=', orgId)
    .where('templates.id', '=', id)
    .executeTakeFirst();
}

/** Filters of GET /v1/templates; each is optional. */
export interface TemplateFilter {
  wabaId?: string;
  phoneNumberId?: string;
  status?: string;
  category?: string;
  namePrefix?: string;
  language?: string;
}

/** A page of the organization's templates, newest first (keyset on created_at, id). */
export async function listTemplates(db: Executor, orgId: string, filter: TemplateFilter, page: { limit: number; after: KeysetPosition | undefined }) {
  let query = db
    .selectFrom('templates')
    .innerJoin('wabas', (join) => join.onRef('wabas.org_id', '=', 'templates.org_id').onRef('wabas.id', '=', 'templates.waba_ref'))
    .selectAll('templates')
    .select('wabas.waba_id')
    .select(sql<string>`to_char(templates.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.as('cursor_at'))
    .where('templates.org_id', '=', orgId);
  if (filter.wabaId) query = query.where('wabas.waba_id', '=', filter.wabaId);
  if (filter.phoneNumberId) {
    const phoneNumberId = filter.phoneNumberId;
    query = query.where('templates.waba_ref', 'in', (eb) =>
      eb.selectFrom('phone_numbers').select('waba_ref').where('org_id', '=', orgId).where('phone_number_id', '=', phoneNumberId).where('waba_ref', 'is not', null).$narrowType<{ waba_ref: string }>());
  }
  if (filter.status) query = query.where('templates.status', '=', filter.status);
  if (filter.category) query = query.where('templates.category', '=', filter.category);
  if (filter.language) query = query.where('templates.language', '=', filter.language);
  if (filter.namePrefix) query = query.where('templates.name', '^@', filter.namePrefix);
  if (page.after) {
    const { at, id } = page.after;
    query = query.where(sql<boolean>`(templates.created_at, templates.id) < (${at}::timestamptz, ${id}::uuid)`);
  }
  return query.orderBy('templates.created_at', 'desc').orderBy('templates.id', 'desc').limit(page.limit + 1).execute();
}

/** A template as Graph lists it, normalised for storage. */
export interface SyncedTemplate {
  metaTemplateId: string | null;
  name: string;
  language: string;
  status: string;
  category: string | null;
  qualityScore: string | null;
  rejectionReason: string | null;
  parameterFormat: 'positional' | 'named' | null;
  components: unknown[];
}

/**
 * Upserts a batch of synced templates in one statement (`unnest`), completing stubs.
 * @returns how many rows were inserted or changed
 */
export async function upsertSyncedTemplates(tx: Tx, orgId: string, wabaRef: string, templates: SyncedTemplate[]): Promise<number> {
  if (templates.length === 0) return 0;
  const result = await sql<{ id: string }>`
    INSERT INTO templates AS t (org_id, waba_ref, name, language, meta_template_id, status, category, quality_score, rejection_reason,
                                parameter_format, components, synced_at, deleted_at)
    SELECT ${orgId}::uuid, ${wabaRef}::uuid, u.name, u.language, u.meta_template_id, u.status, u.category, u.quality_score,
           u.rejection_reason, u.parameter_format, u.components::jsonb, now(), NULL
    FROM unnest(${templates.map((t) => t.name)}::text[], ${templates.map((t) => t.language)}::text[],
                ${templates.map((t) => t.metaTemplateId)}::text[], ${templates.map((t) => t.status)}::text[],
                ${templates.map((t) => t.category)}::text[], ${templates.map((t) => t.qualityScore)}::text[],
                ${templates.map((t) => t.rejectionReason)}::text[], ${templates.map((t) => t.parameterFormat)}::text[],
                ${templates.map((t) => toJsonb(t.components))}::text[])
      AS u(name, language, meta_template_id, status, category, quality_score, rejection_reason, parameter_format, components)
    ON CONFLICT ON CONSTRAINT templates_waba_name_language_key DO UPDATE SET
      meta_template_id = excluded.meta_template_id, status = excluded.status, category = excluded.category,
      previous_category = CASE WHEN t.category IS DISTINCT FROM excluded.category AND t.category IS NOT NULL THEN t.category ELSE t.previous_category END,
      quality_score = excluded.quality_score, rejection_reason = excluded.rejection_reason, parameter_format = excluded.parameter_format,
      components = excluded.components, synced_at = now(), deleted_at = NULL, updated_at = now()
    WHERE (t.meta_template_id, t.status, t.category, t.quality_score, t.rejection_reason, t.parameter_format, t.components, t.deleted_at)
      IS DISTINCT FROM (excluded.meta_template_id, excluded.status, excluded.category, excluded.quality_score, excluded.rejection_reason,
                        excluded.parameter_format, excluded.components, NULL::timestamptz)
       OR t.synced_at IS NULL
    RETURNING t.id
  `.execute(tx);
  return result.rows.length;
}

/**
 * Marks deleted the WABA's synced templates a full sync did not see (Meta deleted them); rows are
 * kept, so queued messages that reference them keep their template.
 * @returns how many were marked
 */
export async function markUnseenTemplatesDeleted(tx: Tx, orgId: string, wabaRef: string, seen: Array<{ name: string; language: string }>): Promise<number> {
  const result = await sql<{ id: string }>`
    UPDATE templates SET status = 'DELETED', deleted_at = now(), updated_at = now()
    WHERE org_id = ${orgId} AND waba_ref = ${wabaRef} AND deleted_at IS NULL AND synced_at IS NOT NULL
      AND (name, language) NOT IN (SELECT * FROM unnest(${seen.map((s) => s.name)}::text[], ${seen.map((s) => s.language)}::text[]))
    RETURNING id
  `.execute(tx);
  return result.rows.length;
}

/**
 * Locks the WABA's sync row (creating it unsynced), so one sync at a time runs per WABA; a second
 * caller waits, then sees `synced_at` of the first.
 */
export async function lockTemplateSync(tx: Tx, orgId: string, wabaRef: string): Promise<{ synced_at: Date | null }> {
  await tx.insertInto('template_syncs').values({ org_id: orgId, waba_ref: wabaRef, synced_at: null, last_error: null })
    .onConflict((oc) => oc.columns(['org_id', 'waba_ref']).doNothing()).execute();
  return tx.selectFrom('template_syncs').select('synced_at').where('org_id', '=', orgId).where('waba_ref', '=', wabaRef).forUpdate().executeTakeFirstOrThrow();
}

/** Records a finished sync (or its error) on the WABA's sync row. */
export async function recordTemplateSync(tx: Tx, orgId: string, wabaRef: string, values: { templateCount: number } | { error: string }): Promise<void> {
  await tx.updateTable('template_syncs')
    .set('templateCount' in values
      ? { synced_at: sql`now()`, template_count: values.templateCount, last_error: null, updated_at: sql`now()` }
      : { last_error: values.error.slice(0, 500), updated_at: sql`now()` })
    .where('org_id', '=', orgId).where('waba_ref', '=', wabaRef).execute();
}

/** When the WABA's templates were last synced (null: never). */
export async function findTemplateSyncTime(db: Executor, orgId: string, wabaRef: string): Promise<Date | null> {
  const row = await db.selectFrom('template_syncs').select('synced_at').where('org_id', '=', orgId).where('waba_ref', '=', wabaRef).executeTakeFirst();
  return row?.synced_at ?? null;
}

/** The organization's connected Meta WABAs (one, when `wabaRef` or `wabaId` is given). */
export async function findConnectedWabas(db: Executor, orgId: string, only: { wabaRef?: string; wabaId?: string } = {}) {
  let query = db.selectFrom('wabas').select(['id', 'waba_id']).where('org_id', '=', orgId).where('disconnected_at', 'is', null);
  if (only.wabaRef) query = query.where('id', '=', only.wabaRef);
  if (only.wabaId) query = query.where('waba_id', '=', only.wabaId);
  return query.orderBy('waba_id').execute();
}

/**
 * Every connected WABA with an active Meta number whose templates were never synced, or not since
 * `syncedBefore` (the worker's scheduled sync: several workers, or a restart, do not sync a WABA
 * again within one period).
 */
export async function findAllSyncableWabas(db: Executor, syncedBefore: Date) {
  return db.selectFrom('wabas')
    .leftJoin('template_syncs', (join) => join.onRef('template_syncs.org_id', '=', 'wabas.org_id').onRef('template_syncs.waba_ref', '=', 'wabas.id'))
    .select(['wabas.id', 'wabas.org_id', 'wabas.waba_id'])
    .where('wabas.disconnected_at', 'is', null)
    .where((eb) => eb.or([eb('template_syncs.synced_at', 'is', null), eb('template_syncs.synced_at', '<', syncedBefore)]))
    .where((eb) => eb.exists(eb.selectFrom('phone_numbers').select(sql`1`.as('one'))
      .whereRef('phone_numbers.org_id', '=', 'wabas.org_id').whereRef('phone_numbers.waba_ref', '=', 'wabas.id')
      .where('phone_numbers.provider', '=', 'meta').where('phone_numbers.status', '=', 'active')))
    .orderBy('wabas.org_id').orderBy('wabas.waba_id').execute();
}

/**
 * Stores a template Meta just accepted (`POST /{waba_id}/message_templates`), or refreshes the row
 * of the same (WABA, name, language), e.g. one marked deleted before: status as Meta answered,
 * `synced_at` null until a sync lists it. When a status webhook of the same Meta id landed first,
 * its status is kept.
 * @returns the row's id
 */
export async function upsertCreatedTemplate(tx: Tx, orgId: string, wabaRef: string, template: Omit<SyncedTemplate, 'qualityScore' | 'rejectionReason'>): Promise<string> {
  const result = await sql<{ id: string }>`
    INSERT INTO templates AS t (org_id, waba_ref, name, language, meta_template_id, status, category, parameter_format, components)
    VALUES (${orgId}, ${wabaRef}, ${template.name}, ${template.language}, ${template.metaTemplateId}, ${template.status}, ${template.category},
            ${template.parameterFormat}, ${toJsonb(template.components)}::jsonb)
    ON CONFLICT ON CONSTRAINT templates_waba_name_language_key DO UPDATE SET
      -- A status webhook of this very template may have landed first (a stub with Meta's id): keep its news.
      status = CASE WHEN t.meta_template_id = excluded.meta_template_id AND t.deleted_at IS NULL THEN t.status ELSE excluded.status END,
      rejection_reason = CASE WHEN t.meta_template_id = excluded.meta_template_id AND t.deleted_at IS NULL THEN t.rejection_reason END,
      meta_template_id = excluded.meta_template_id, category = excluded.category,
      parameter_format = excluded.parameter_format, components = excluded.components, quality_score = NULL,
      deleted_at = NULL, updated_at = now()
    RETURNING t.id
  `.execute(tx);
  return result.rows[0]!.id;
}

/**
 * Marks every language of a template name deleted (Meta deletes by name); rows are kept, so queued
 * messages that reference them keep their template.
 * @returns how many were marked
 */
export async function markTemplateNameDeleted(tx: Tx, orgId: string, wabaRef: string, name: string): Promise<number> {
  const result = await tx.updateTable('templates')
    .set({ status: 'DELETED', deleted_at: sql`now()`, updated_at: sql`now()` })
    .where('org_id', '=', orgId).where('waba_ref', '=', wabaRef).where('name', '=', name).where('deleted_at', 'is', null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

