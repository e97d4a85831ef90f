/**
 * Stores the inbound messages of a whole batch of webhooks in a fixed number of statements,
 * whatever the batch size (SPEC §4 "Inbound"): contacts and threads through
 * `conversations/open-conversation.ts` (contacts locked in (org, E.164) order, the missing ones
 * created with their clients; threads in one order), messages (`ON CONFLICT DO NOTHING` per number
 * and wamid) with their domain events in one statement, and the reopening of
 * closed threads. A blocked contact's messages are stored flagged and raise no events. A
 * redelivered message is a duplicate and changes nothing; a message whose number cannot be routed,
 * or whose sender has neither a BSUID nor a wa_id that is a phone number, is dead-lettered with the
 * reason. A customer known only by a BSUID (a username, no number) takes exactly this path too.
 */
import { v7 as uuidv7 } from 'uuid';
import type { Tx } from '../db/database.js';
import { openInboundConversations, recordContactMerged } from '../conversations/open-conversation.js';
import { reopenThreads } from '../conversations/threads.repository.js';
import type { ConnectedPhoneNumber } from '../numbers/inbound-routing.repository.js';
import type { ParsedInboundMessage } from '../providers/types.js';
import { waIdToE164 } from '../shared/phone.js';
import { deadLetter, type IngestContext, routeOrDeadLetter } from './ingest-context.js';
import { inboundMessageKey, insertInboundMessagesWithEvents } from './inbound-messages.repository.js';
import { applyIdentityChanges } from './identity-changes.js';

/** A routed message with its customer's E.164 number (null for a customer known only by a BSUID). */
interface RoutedMessage {
  ctx: IngestContext;
  item: ParsedInboundMessage;
  number: ConnectedPhoneNumber;
  e164: string | null;
}

async function routeMessages(entries: Array<{ ctx: IngestContext; item: ParsedInboundMessage }>): Promise<RoutedMessage[]> {
  const routed: RoutedMessage[] = [];
  for (const { ctx, item } of entries) {
    const number = await routeOrDeadLetter(ctx, item);
    if (!number) continue;
    const e164 = item.waId === null ? null : waIdToE164(item.waId);
    // Without a usable number, the BSUID alone identifies the customer.
    if (!e164 && !item.bsuid) {
      await deadLetter(
        ctx,
        { provider: item.provider, wabaId: item.wabaId, phoneNumberId: item.phoneNumberId, field: 'messages', raw: item.raw, reason: 'contact_without_phone', detail: `wa_id "${item.waId}" is not a phone number` },
        number.org_id,
      );
      continue;
    }
    routed.push({ ctx, item, number, e164 });
  }
  return routed;
}

/**
 * Stores the batch's inbound messages inside the batch transaction and adds what happened to each
 * webhook's summary. Messages keep their order (within a webhook and across the batch).
 * @param entries every message item of the batch, each with its webhook's context
 * @throws database errors (the caller rolls the whole batch back)
 */
export async function storeInboundMessages(tx: Tx, entries: Array<{ ctx: IngestContext; item: ParsedInboundMessage }>): Promise<void> {
  const routed = await routeMessages(entries);
  if (routed.length === 0) return;
  const { conversations, merges } = await openInboundConversations(tx, routed.map(({ item, number, e164 }) => ({
    orgId: number.org_id, phoneNumberRef: number.id, e164, waId: e164 ? item.waId : null, bsuid: item.bsuid, parentBsuid: item.parentBsuid,
    username: item.username, profileName: item.profileName, at: item.timestamp,
  })));
  for (const merge of merges) await recordContactMerged(tx, { correlationId: routed[merge.messageIndex]!.ctx.correlationId, source: 'webhook' }, merge);
  const rows = routed.map((message, index) => ({
    ...message, ...conversations[index]!, key: inboundMessageKey(message.number.org_id, message.number.id, message.item.providerMessageId),
  }));
  // One wamid twice in a batch (a redelivery racing its original) is inserted once; the rest are duplicates.
  const seen = new Set<string>();
  const distinct = rows.filter((row) => !seen.has(row.key) && seen.add(row.key));
  const inserted = await insertInboundMessagesWithEvents(tx, distinct.map(({ ctx, item, number, e164, contact, thread }) => ({
    id: uuidv7(), orgId: number.org_id, threadId: thread.id, phoneNumberRef: number.id, phoneNumberId: item.phoneNumberId, contactId: contact.id,
    clientId: contact.clientId, e164, waId: e164 ? item.waId : null, bsuid: item.bsuid, parentBsuid: item.parentBsuid, username: item.username, type: item.type, content: item.content, wamid: item.providerMessageId,
    providerTimestamp: item.timestamp, raw: item.raw, blocked: contact.blocked, contactCreated: contact.created, threadCreated: thread.created,
    correlationId: ctx.correlationId,
  })));

  const reopen = new Map<string, { orgId: string; id: string }>();
  const systemMessages: Parameters<typeof applyIdentityChanges>[1] = [];
  for (const { ctx, item, number, thread, contact, key } of rows) {
    if (!inserted.delete(key)) {
      ctx.summary.duplicateMessages++;
      continue;
    }
    if (item.type === 'system') systemMessages.push({ item, orgId: number.org_id, correlationId: ctx.correlationId, contact });
    ctx.summary.messagesStored++;
    ctx.summary.messageTypes[item.type] = (ctx.summary.messageTypes[item.type] ?? 0) + 1;
    if (thread.status === 'closed') reopen.set(thread.id, { orgId: number.org_id, id: thread.id });
  }
  await reopenThreads(tx, [...reopen.values()]);
  await applyIdentityChanges(tx, systemMessages);
}
