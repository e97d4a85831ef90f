/**
 * What the inbound path carries while it stores one batch of webhooks in one transaction: the
 * transaction, each webhook's correlation id and summary, and the routes of the batch's business
 * numbers (one query for all of them); plus routing and dead-lettering of single items.
 */
import type { Tx } from '../db/database.js';
import type { EventContext } from '../events/event-writer.js';
import { type ConnectedPhoneNumber, findConnectedPhoneNumbers } from '../numbers/inbound-routing.repository.js';
import { recordDeadLetter } from '../ops/dead-letters.service.js';
import type { ParsedDeadLetter, ParsedInboundMessage, ParsedStatus, ParsedWebhookItem } from '../providers/types.js';

/** What one webhook changed; also what the route logs. */
export interface IngestSummary {
  messagesStored: number;
  duplicateMessages: number;
  statusesApplied: number;
  statusesIgnored: number;
  statusesPending: number;
  fieldEventsApplied: number;
  deadLetters: number;
  /** Stored messages per type, and dead letters per reason (for metrics, counted after commit). */
  messageTypes: Record<string, number>;
  deadLetterReasons: Record<string, number>;
}

/** One webhook of a batch: its items and the request id its events are correlated with. */
export interface WebhookSubmission {
  items: ParsedWebhookItem[];
  correlationId: string | null;
}

/** One webhook's share of a batch transaction. */
export interface IngestContext {
  tx: Tx;
  correlationId: string | null;
  /** Shared by every webhook of the batch: phone_number_id → connected number (absent: not connected). */
  routes: Map<string, ConnectedPhoneNumber>;
  summary: IngestSummary;
  events: EventContext;
}

/** A summary with every count at zero. */
export function emptySummary(): IngestSummary {
  return {
    messagesStored: 0, duplicateMessages: 0, statusesApplied: 0, statusesIgnored: 0, statusesPending: 0, fieldEventsApplied: 0, deadLetters: 0,
    messageTypes: {}, deadLetterReasons: {},
  };
}

/** Looks up every business number the batch's messages and statuses name, in one query. */
export async function loadRoutes(tx: Tx, submissions: WebhookSubmission[]): Promise<Map<string, ConnectedPhoneNumber>> {
  const ids = new Set<string>();
  for (const submission of submissions) {
    for (const item of submission.items) if (item.kind === 'message' || item.kind === 'status') ids.add(item.phoneNumberId);
  }
  const rows = await findConnectedPhoneNumbers(tx, [...ids]);
  return new Map(rows.map((row) => [row.phone_number_id, row]));
}

/**
 * Keeps an item of the webhook as a dead letter in the batch's transaction and counts it in the
 * summary (by reason, for metrics after commit).
 * @param orgId the organization it was routed to, or null when it could not be routed
 */
export async function deadLetter(ctx: IngestContext, item: Omit<ParsedDeadLetter, 'kind'>, orgId: string | null = null): Promise<void> {
  ctx.summary.deadLetters++;
  ctx.summary.deadLetterReasons[item.reason] = (ctx.summary.deadLetterReasons[item.reason] ?? 0) + 1;
  await recordDeadLetter(ctx.tx, {
    orgId,
    provider: item.provider,
    reason: item.reason,
    detail: item.detail,
    wabaId: item.wabaId,
    phoneNumberId: item.phoneNumberId,
    field: item.field,
    payload: item.raw ?? null,
    rawBody: null,
    correlationId: ctx.correlationId,
  });
}

/** Routes a message or status to its number, dead-lettering it when that is impossible. */
export async function routeOrDeadLetter(ctx: IngestContext, item: ParsedInboundMessage | ParsedStatus): Promise<ConnectedPhoneNumber | undefined> {
  const number = ctx.routes.get(item.phoneNumberId);
  const base = { provider: item.provider, wabaId: item.wabaId, phoneNumberId: item.phoneNumberId, field: 'messages', raw: item.raw };
  if (!number) {
    await deadLetter(ctx, { ...base, reason: 'unroutable_phone_number', detail: `phone_number_id ${item.phoneNumberId} is not connected` });
    return undefined;
  }
  if (number.provider !== item.provider) {
    const detail = `phone_number_id ${item.phoneNumberId} is connected through ${number.provider}, not ${item.provider}`;
    await deadLetter(ctx, { ...base, reason: 'provider_mismatch', detail }, number.org_id);
    return undefined;
  }
  if (item.wabaId !== null && number.waba_id !== item.wabaId) {
    await deadLetter(
      ctx,
      { ...base, reason: 'waba_mismatch', detail: `phone_number_id ${item.phoneNumberId} belongs to WABA ${number.waba_id}, not ${item.wabaId}` },
      number.org_id,
    );
    return undefined;
  }
  return number;
}
