/**
 * Inbound webhook processing (SPEC §4, PROTOCOL.md §1–2, §7): every item of one webhook POST is
 * routed and stored in ONE transaction, so the provider gets 200 only when all of it is durable,
 * and a retry of a failed POST finds nothing half-written. The items are provider-neutral
 * (`providers/types.ts`): Meta's and Twilio's parsers both produce them.
 *
 * - Messages: routed by `phone_number_id` (connected through the item's provider; for Meta it must
 *   belong to `entry.id`'s WABA), contact/client and thread upserted, message inserted once per
 *   provider message id; a new inbound message reopens the thread.
 * - Statuses: forward only; a status for an unknown wamid is kept in `pending_statuses`.
 * - Anything that cannot be routed or parsed: `webhook_dead_letters`, with the reason.
 * - Domain events (`contact.created`, `conversation.started`, `message.received`,
 *   `message.status_changed`, `message.failed`) are written in the same transaction, correlated
 *   with the webhook's request id. A blocked contact's messages are stored with
 *   `from_blocked_contact` and raise no events at all (subscribers never hear of them).
 */
import type { Db, Tx } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { upsertContact } from '../contacts/contacts.repository.js';
import * as messages from '../messages/messages.repository.js';
import { findConnectedPhoneNumber, updateMessagingLimitTier } from '../numbers/numbers.repository.js';
import type {
  ParsedDeadLetter, ParsedFieldEvent, ParsedInboundMessage, ParsedStatus, ParsedWebhookItem,
} from '../providers/types.js';
import { waIdToE164 } from '../shared/phone.js';
import { reopenThread, upsertThread } from '../threads/threads.repository.js';
import { applyAccountUpdate } from '../onboarding/account-update.service.js';
import {
  advanceMessageStatusWithEvent, type EventContext, recordInboundMessageEvents,
} from '../events/event-writer.js';
import { insertDeadLetter } from './dead-letters.repository.js';

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

type Route = Awaited<ReturnType<typeof findConnectedPhoneNumber>>;

interface Context {
  tx: Tx;
  correlationId: string | null;
  routes: Map<string, Promise<Route>>;
  summary: IngestSummary;
  events: EventContext;
}

function route(ctx: Context, phoneNumberId: string): Promise<Route> {
  let found = ctx.routes.get(phoneNumberId);
  if (!found) {
    found = findConnectedPhoneNumber(ctx.tx, phoneNumberId);
    ctx.routes.set(phoneNumberId, found);
  }
  return found;
}

async function deadLetter(ctx: Context, item: Omit<ParsedDeadLetter, 'kind'>, orgId: string | null = null): Promise<void> {
  ctx.summary.deadLetters++;
  ctx.summary.deadLetterReasons[item.reason] = (ctx.summary.deadLetterReasons[item.reason] ?? 0) + 1;
  await insertDeadLetter(ctx.tx, {
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
async function routeOrDeadLetter(ctx: Context, item: ParsedInboundMessage | ParsedStatus): Promise<NonNullable<Route> | undefined> {
  const number = await route(ctx, item.phoneNumberId);
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

async function storeMessage(ctx: Context, item: ParsedInboundMessage): Promise<void> {
  const number = await routeOrDeadLetter(ctx, item);
  if (!number) return;
  const e164 = waIdToE164(item.waId);
  if (!e164) {
    await deadLetter(
      ctx,
      { provider: item.provider, wabaId: item.wabaId, phoneNumberId: item.phoneNumberId, field: 'messages', raw: item.raw, reason: 'contact_without_phone', detail: `wa_id "${item.waId}" is not a phone number` },
      number.org_id,
    );
    return;
  }
  const contact = await upsertContact(ctx.tx, {
    orgId: number.org_id, e164, waId: item.waId, profileName: item.profileName, clientName: `Guest (${e164})`, activeAt: item.timestamp,
  });
  const thread = await upsertThread(ctx.tx, { orgId: number.org_id, phoneNumberRef: number.id, contactId: contact.id, inboundAt: item.timestamp });
  const id = await messages.insertInboundMessage(ctx.tx, {
    orgId: number.org_id,
    threadId: thread.id,
    phoneNumberRef: number.id,
    type: item.type,
    content: item.content,
    wamid: item.providerMessageId,
    providerTimestamp: item.timestamp,
    raw: item.raw,
    fromBlockedContact: contact.blocked,
  });
  if (!id) {
    // A redelivery (the contact and thread already existed, so they raised their events the first time).
    ctx.summary.duplicateMessages++;
    return;
  }
  if (!contact.blocked) {
    await recordInboundMessageEvents(ctx.tx, ctx.events, {
      orgId: number.org_id, messageId: id, threadId: thread.id, contactId: contact.id, clientId: contact.clientId,
      phoneNumberRef: number.id, phoneNumberId: item.phoneNumberId, type: item.type, providerMessageId: item.providerMessageId,
      contactCreated: contact.created ? { e164, waId: item.waId } : undefined, threadCreated: thread.created,
    });
  }
  ctx.summary.messagesStored++;
  ctx.summary.messageTypes[item.type] = (ctx.summary.messageTypes[item.type] ?? 0) + 1;
  if (thread.status === 'closed') await reopenThread(ctx.tx, number.org_id, thread.id);
}

async function applyStatus(ctx: Context, item: ParsedStatus): Promise<void> {
  const number = await routeOrDeadLetter(ctx, item);
  if (!number) return;
  const error = item.errors[0];
  await messages.lockWamid(ctx.tx, number.id, item.providerMessageId);
  const message = await messages.findMessageByWamid(ctx.tx, number.org_id, number.id, item.providerMessageId);
  if (!message) {
    ctx.summary.statusesPending++;
    await messages.insertPendingStatus(ctx.tx, {
      orgId: number.org_id,
      phoneNumberRef: number.id,
      wamid: item.providerMessageId,
      status: item.status,
      providerTimestamp: item.timestamp,
      errorCode: error?.code ?? null,
      errorTitle: error?.title ?? error?.message ?? null,
      payload: item.raw,
    });
    return;
  }
  const changed = await advanceMessageStatusWithEvent(ctx.tx, ctx.events, {
    orgId: number.org_id, messageId: message.id, status: item.status, errorCode: error?.code ?? null, errorTitle: error?.title ?? error?.message ?? null,
  });
  if (changed) ctx.summary.statusesApplied++;
  else ctx.summary.statusesIgnored++;
}

async function applyFieldEvent(ctx: Context, item: ParsedFieldEvent): Promise<void> {
  const value = item.value as Record<string, unknown> | null;
  if (item.field === 'account_update' && value && typeof value === 'object') {
    await applyAccountUpdate(ctx.tx, item.entryId, value);
    ctx.summary.fieldEventsApplied++;
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
  // Fields wahub does not act on yet (template status, …) are kept, not dropped.
  await deadLetter(ctx, {
    provider: 'meta', reason: 'unhandled_field', detail: `field "${item.field}" is not processed`, wabaId: item.entryId, phoneNumberId: null, field: item.field, raw: item.value,
  });
}

/**
 * Messages in (customer, number) order: concurrent webhooks then lock contacts and threads in one order.
 * The customer comes first because a contact belongs to the organization, not to a number: ordered by
 * number first, a webhook with [A on number 1, B on number 2] and one with [B on number 1, A on
 * number 2] locked contacts A→B and B→A and deadlocked every time (test/inbound/races.test.ts).
 */
function lockOrder(a: ParsedWebhookItem, b: ParsedWebhookItem): number {
  const key = (item: ParsedWebhookItem) => (item.kind === 'message' ? `0:${item.waId}:${item.phoneNumberId}` : item.kind === 'status' ? `1:${item.phoneNumberId}:${item.providerMessageId}` : '2');
  const [ka, kb] = [key(a), key(b)];
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/**
 * Stores every item of one webhook (Meta or Twilio) in one transaction (retried on deadlock).
 * @param items output of parseMetaWebhook or parseTwilioWebhook
 * @throws database errors (the route answers 503 so that the provider redelivers)
 */
export async function ingestWebhookItems(db: Db, items: ParsedWebhookItem[], correlationId: string | null): Promise<IngestSummary> {
  // Stable sort keeps the payload order of one customer's messages (they share a key).
  const ordered = [...items].sort(lockOrder);
  return withTransaction(db, async (tx) => {
    const ctx: Context = {
      tx,
      correlationId,
      events: { correlationId, source: 'webhook' },
      routes: new Map(),
      summary: {
        messagesStored: 0, duplicateMessages: 0, statusesApplied: 0, statusesIgnored: 0, statusesPending: 0, fieldEventsApplied: 0, deadLetters: 0,
        messageTypes: {}, deadLetterReasons: {},
      },
    };
    for (const item of ordered) {
      if (item.kind === 'message') await storeMessage(ctx, item);
      else if (item.kind === 'status') await applyStatus(ctx, item);
      else if (item.kind === 'field_event') await applyFieldEvent(ctx, item);
      else await deadLetter(ctx, item);
    }
    return ctx.summary;
  });
}
