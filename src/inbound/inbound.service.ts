/**
 * Inbound webhook processing (SPEC §4, PROTOCOL.md §1–2, §7): every item of one webhook POST is
 * routed and stored in ONE transaction, so the provider gets 200 only when all of it is durable,
 * and a retry of a failed POST finds nothing half-written. Several webhooks may share that
 * transaction (ingestWebhookBatch, fed by the InboundBatcher): each is still all-or-nothing, and
 * the batch's messages are stored in a fixed number of statements (store-messages.ts). The items
 * are provider-neutral (`providers/types.ts`): Meta's and Twilio's parsers both produce them.
 *
 * - Messages: routed by `phone_number_id` (connected through the item's provider; for Meta it must
 *   belong to `entry.id`'s WABA), contact/client and thread upserted, message inserted once per
 *   provider message id; a new inbound message reopens the thread.
 * - Statuses: forward only; a status for an unknown wamid is kept in `pending_statuses`
 *   (`conversations/message-status.ts`, the path the dispatcher uses too).
 * - Anything that cannot be routed or parsed: `webhook_dead_letters`, with the reason.
 * - Domain events (`contact.created`, `conversation.started`, `message.received`,
 *   `message.status_changed`, `message.failed`) are written in the same transaction, correlated
 *   with the webhook's request id. A blocked contact's messages are stored with
 *   `from_blocked_contact` and raise no events at all (subscribers never hear of them).
 */
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { updateMessagingLimitTier } from '../numbers/phone-numbers.repository.js';
import type { ParsedFieldEvent, ParsedInboundMessage, ParsedStatus, ParsedWebhookItem } from '../providers/types.js';
import { applyAccountUpdate } from '../onboarding/account-update.service.js';
import { applyStatus } from '../conversations/message-status.js';
import { applyTemplateWebhook, isTemplateWebhookField } from '../templates/template-webhooks.service.js';
import {
  deadLetter, emptySummary, type IngestContext, type IngestSummary, loadRoutes, routeOrDeadLetter, type WebhookSubmission,
} from './ingest-context.js';
import { storeInboundMessages } from './store-messages.js';

export type { IngestSummary, WebhookSubmission } from './ingest-context.js';

async function ingestStatus(ctx: IngestContext, item: ParsedStatus): Promise<void> {
  const number = await routeOrDeadLetter(ctx, item);
  if (!number) return;
  const error = item.errors[0];
  const outcome = await applyStatus(ctx.tx, ctx.events, {
    orgId: number.org_id,
    phoneNumberRef: number.id,
    wamid: item.providerMessageId,
    status: item.status,
    providerTimestamp: item.timestamp,
    errorCode: error?.code ?? null,
    errorTitle: error?.title ?? error?.message ?? null,
    payload: item.raw,
  });
  if (outcome === 'applied') ctx.summary.statusesApplied++;
  else if (outcome === 'ignored') ctx.summary.statusesIgnored++;
  else ctx.summary.statusesPending++;
}

async function applyFieldEvent(ctx: IngestContext, item: ParsedFieldEvent): Promise<void> {
  const value = item.value as Record<string, unknown> | null;
  if (item.field === 'account_update' && value && typeof value === 'object') {
    const outcome = await applyAccountUpdate(ctx.tx, item.entryId, value);
    if (outcome === 'ambiguous') {
      const wabaId = String((value.waba_info as { waba_id?: unknown } | undefined)?.waba_id ?? '') || null;
      await deadLetter(ctx, {
        provider: 'meta', reason: 'ambiguous_partner', detail: 'PARTNER_ADDED: not exactly one organization has a pending Embedded Signup that can own this WABA; nothing was linked',
        wabaId, phoneNumberId: null, field: item.field, raw: value,
      });
      return;
    }
    ctx.summary.fieldEventsApplied++;
    return;
  }
  if (isTemplateWebhookField(item.field) && value && typeof value === 'object') {
    const outcome = await applyTemplateWebhook(ctx.tx, ctx.events, item.field, item.entryId, value);
    if (outcome.kind !== 'dead_letter') {
      ctx.summary.fieldEventsApplied++;
      return;
    }
    await deadLetter(ctx, {
      provider: 'meta', reason: outcome.reason, detail: outcome.detail, wabaId: item.entryId, phoneNumberId: null, field: item.field, raw: item.value,
    }, outcome.orgId);
    return;
  }
  if (item.field === 'phone_number_quality_update' && item.entryId && value && typeof value.display_phone_number === 'string') {
    // Meta drops current_limit in Feb 2026 in favour of max_daily_conversations_per_business (same
    // TIER_* values, PROTOCOL.md §2.4); without the fallback every later update was dead-lettered.
    const limit = value.current_limit ?? value.max_daily_conversations_per_business;
    const tier = typeof limit === 'string' ? limit : undefined;
    if (tier) {
      const updated = await updateMessagingLimitTier(ctx.tx, {
        wabaId: item.entryId, displayPhoneNumber: value.display_phone_number.replace(/[^0-9]/g, ''), messagingLimitTier: tier,
      });
      if (updated > 0) {
        ctx.summary.fieldEventsApplied++;
        return;
      }
    }
  }
  // Fields wahub does not act on yet are kept, not dropped.
  await deadLetter(ctx, {
    provider: 'meta', reason: 'unhandled_field', detail: `field "${item.field}" is not processed`, wabaId: item.entryId, phoneNumberId: null, field: item.field, raw: item.value,
  });
}

type OtherItem = Exclude<ParsedWebhookItem, ParsedInboundMessage>;

/**
 * Statuses in (number, wamid) order, then field events and dead letters (stable: each kind keeps
 * its payload order): two batches then take the statuses' locks in one global order. Messages need
 * no such sort: openInboundConversations locks contacts and threads in key order itself
 * (test/inbound/races.test.ts, group-commit-contacts.test.ts).
 */
function lockOrder(a: OtherItem, b: OtherItem): number {
  const key = (item: OtherItem) => (item.kind === 'status' ? `0:${item.phoneNumberId}:${item.providerMessageId}` : '1');
  const [ka, kb] = [key(a), key(b)];
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * Stores every item of several webhooks (Meta or Twilio) in ONE transaction, retried as a whole
 * on deadlock: messages first, set-based for the whole batch, then statuses and field events one
 * by one in one global lock order.
 * @param submissions output of parseMetaWebhook or parseTwilioWebhook, one per webhook POST
 * @returns one summary per submission, in order
 * @throws database errors (nothing of the batch is stored; the route answers 503 so that the provider redelivers)
 */
export async function ingestWebhookBatch(db: Db, submissions: WebhookSubmission[]): Promise<IngestSummary[]> {
  return withTransaction(db, async (tx) => {
    const routes = await loadRoutes(tx, submissions);
    const contexts: IngestContext[] = submissions.map(({ correlationId }) => ({
      tx, correlationId, routes, summary: emptySummary(), events: { correlationId, source: 'webhook' },
    }));
    const others: Array<{ ctx: IngestContext; item: OtherItem }> = [];
    const inbound: Array<{ ctx: IngestContext; item: ParsedInboundMessage }> = [];
    submissions.forEach(({ items }, index) => {
      for (const item of items) {
        if (item.kind === 'message') inbound.push({ ctx: contexts[index]!, item });
        else others.push({ ctx: contexts[index]!, item });
      }
    });
    // In payload order, within a webhook and across the batch.
    await storeInboundMessages(tx, inbound);
    // Across the batch, not per webhook: two batches then take wamid locks in the same order.
    others.sort((a, b) => lockOrder(a.item, b.item));
    for (const { ctx, item } of others) {
      if (item.kind === 'status') await ingestStatus(ctx, item);
      else if (item.kind === 'field_event') await applyFieldEvent(ctx, item);
      else await deadLetter(ctx, item);
    }
    return contexts.map((ctx) => ctx.summary);
  });
}

/**
 * Stores every item of one webhook (Meta or Twilio) in one transaction (retried on deadlock).
 * @param items output of parseMetaWebhook or parseTwilioWebhook
 * @throws database errors (the route answers 503 so that the provider redelivers)
 */
export async function ingestWebhookItems(db: Db, items: ParsedWebhookItem[], correlationId: string | null): Promise<IngestSummary> {
  const [summary] = await ingestWebhookBatch(db, [{ items, correlationId }]);
  return summary!;
}
