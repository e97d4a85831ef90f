/**
 * The three template webhook fields (docs/PROTOCOL-NOTES.md "Message templates"), applied to the
 * registry inside the webhook's transaction with their domain events:
 * - `message_template_status_update` → `status` (the `event` as Meta sends it; `FLAGGED` is a
 *   quality warning and leaves the status alone), `rejection_reason`, `template.status_changed`;
 * - `template_category_update` → `category` and `previous_category` when the change is done
 *   (`previous_category` present); an impending change (`correct_category`) changes nothing yet
 *   but is announced; `template.category_changed`;
 * - `message_template_quality_update` → `quality_score`, `template.quality_changed`.
 * A webhook for a template the registry does not know creates a stub (`synced_at` null) that the
 * next sync completes. A replayed webhook finds nothing to change and writes no event. Status
 * moves are recorded as Meta reports them, never inferred.
 */
import type { Tx } from '../db/database.js';
import type { TemplateRow } from '../db/schema.js';
import type { EventContext } from '../events/event-writer.js';
import { recordEvent } from '../events/event-writer.js';
import type { EventType } from '../events/event-types.js';
import { findConnectedWaba } from '../numbers/wabas.repository.js';
import { lockOrCreateTemplateStub, updateTemplate, type TemplateChange } from './templates.repository.js';

/** The webhook fields this module handles. */
export const TEMPLATE_WEBHOOK_FIELDS = ['message_template_status_update', 'template_category_update', 'message_template_quality_update'] as const;
export type TemplateWebhookField = (typeof TEMPLATE_WEBHOOK_FIELDS)[number];

export function isTemplateWebhookField(field: string): field is TemplateWebhookField {
  return (TEMPLATE_WEBHOOK_FIELDS as readonly string[]).includes(field);
}

/** What became of one template webhook change. */
export type TemplateWebhookOutcome =
  | { kind: 'applied' | 'unchanged'; orgId: string }
  | { kind: 'dead_letter'; reason: 'unroutable_waba' | 'invalid_template_update'; detail: string; orgId: string | null };

/** Status a stub gets when the webhook does not say (category and quality updates). */
const UNKNOWN = 'UNKNOWN';
const NAME = /^[a-z0-9_]{1,512}$/;
const LANGUAGE = /^[A-Za-z]{2,3}(_[A-Za-z0-9]{2,8})?$/;
const ENUM = /^[A-Z_]{1,40}$/;

function enumOf(value: unknown): string | null {
  return typeof value === 'string' && ENUM.test(value) ? value : null;
}

/** `message_template_id` is an int in the payload; ids beyond 2^53 would have lost digits in JSON.parse. */
function metaIdOf(value: unknown): string | null {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value > 0) return String(value);
  return typeof value === 'string' && /^[0-9]{1,32}$/.test(value) ? value : null;
}

interface Parsed {
  name: string;
  language: string;
  metaTemplateId: string | null;
}

function parseIdentity(value: Record<string, unknown>): Parsed | string {
  const name = value.message_template_name;
  const language = value.message_template_language;
  if (typeof name !== 'string' || !NAME.test(name)) return 'message_template_name is missing or not a template name';
  if (typeof language !== 'string' || !LANGUAGE.test(language)) return 'message_template_language is missing or not a language code';
  return { name, language, metaTemplateId: metaIdOf(value.message_template_id) };
}

/** The change a status update makes, or a reason it is unusable. */
function statusChange(row: TemplateRow, value: Record<string, unknown>): { change: TemplateChange; payload: Record<string, unknown> } | string {
  const event = enumOf(value.event);
  if (!event) return 'event is missing or not an upper-case value';
  const rejection = value.rejection_info as { reason?: unknown } | undefined;
  const reason = typeof rejection?.reason === 'string' ? rejection.reason : enumOf(value.reason);
  const rejectionReason = event === 'REJECTED' && reason && reason !== 'NONE' ? reason : null;
  const status = event === 'FLAGGED' ? row.status : event;
  const change: TemplateChange = {};
  if (status !== row.status) change.status = status;
  if (rejectionReason !== row.rejection_reason && (event === 'REJECTED' || status !== row.status)) change.rejectionReason = rejectionReason;
  if (event === 'DELETED' && row.deleted_at === null) change.deletedAt = new Date();
  const category = enumOf(value.message_template_category);
  if (category && row.category === null) change.category = category;
  if (change.status === undefined) return { change, payload: {} };
  return { change, payload: { event, previous_status: row.status, status, reason: reason === 'NONE' ? null : reason } };
}

function categoryChange(row: TemplateRow, value: Record<string, unknown>): { change: TemplateChange; payload: Record<string, unknown> } | string {
  const next = enumOf(value.new_category);
  if (!next) return 'new_category is missing';
  const correct = enumOf(value.correct_category);
  const previous = enumOf(value.previous_category);
  if (correct && !previous) {
    // Impending: Meta will change the category later (category_update_timestamp); nothing is true
    // yet, and without a change a replay could not be told apart, so no event either.
    return { change: {}, payload: {} };
  }
  if (row.category === next) return { change: {}, payload: {} };
  return {
    change: { category: next, previousCategory: previous ?? row.category },
    payload: { previous_category: previous ?? row.category, category: next },
  };
}

function qualityChange(row: TemplateRow, value: Record<string, unknown>): { change: TemplateChange; payload: Record<string, unknown> } | string {
  const next = enumOf(value.new_quality_score);
  if (!next) return 'new_quality_score is missing';
  if (row.quality_score === next) return { change: {}, payload: {} };
  return { change: { qualityScore: next }, payload: { previous_quality_score: enumOf(value.previous_quality_score) ?? row.quality_score, quality_score: next } };
}

const EVENT_OF: Record<TemplateWebhookField, EventType> = {
  message_template_status_update: 'template.status_changed',
  template_category_update: 'template.category_changed',
  message_template_quality_update: 'template.quality_changed',
};

/**
 * Applies one template webhook change to the registry in the webhook's transaction.
 * @param entryId `entry[].id`, the WABA id
 * @returns applied (row changed or created, event written), unchanged (a replay), or a dead letter
 *   for a WABA no organization has connected or a payload without a usable template identity
 */
export async function applyTemplateWebhook(
  tx: Tx, events: EventContext, field: TemplateWebhookField, entryId: string | null, value: Record<string, unknown>,
): Promise<TemplateWebhookOutcome> {
  const waba = entryId ? await findConnectedWaba(tx, entryId) : undefined;
  if (!waba) return { kind: 'dead_letter', reason: 'unroutable_waba', detail: `WABA ${entryId ?? '(none)'} is not connected`, orgId: null };
  const identity = parseIdentity(value);
  if (typeof identity === 'string') return { kind: 'dead_letter', reason: 'invalid_template_update', detail: identity, orgId: waba.org_id };
  const stubStatus = field === 'message_template_status_update' ? enumOf(value.event) ?? UNKNOWN : UNKNOWN;
  const { row, created } = await lockOrCreateTemplateStub(tx, {
    orgId: waba.org_id, wabaRef: waba.id, ...identity, status: stubStatus === 'FLAGGED' ? UNKNOWN : stubStatus,
    category: field === 'message_template_status_update' ? enumOf(value.message_template_category) : null,
  });
  // A new stub is compared with a blank row, so its first status, category or quality is a change.
  const base: TemplateRow = created ? { ...row, status: UNKNOWN, category: null, quality_score: null } : row;
  const result = field === 'message_template_status_update' ? statusChange(base, value)
    : field === 'template_category_update' ? categoryChange(base, value) : qualityChange(base, value);
  if (typeof result === 'string') return { kind: 'dead_letter', reason: 'invalid_template_update', detail: result, orgId: waba.org_id };
  const change: TemplateChange = { ...result.change };
  if (identity.metaTemplateId && row.meta_template_id !== identity.metaTemplateId) change.metaTemplateId = identity.metaTemplateId;
  if (Object.keys(change).length > 0) await updateTemplate(tx, waba.org_id, row.id, change);
  if (Object.keys(result.payload).length === 0) return { kind: created || Object.keys(change).length > 0 ? 'applied' : 'unchanged', orgId: waba.org_id };
  await recordEvent(tx, events, {
    orgId: waba.org_id, aggregateType: 'template', aggregateId: row.id, type: EVENT_OF[field],
    payload: {
      template_id: row.id, waba_id: entryId, name: identity.name, language: identity.language,
      meta_template_id: identity.metaTemplateId ?? row.meta_template_id, ...result.payload,
    },
  });
  return { kind: 'applied', orgId: waba.org_id };
}
