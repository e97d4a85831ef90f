/**
 * Writing domain events inside the transaction of the change that causes them (the outbox
 * pattern: a crash can lose neither the change without its event nor the event without the change).
 * Every function takes a `Tx`, so the compiler enforces "inside a transaction".
 */
import type { Tx } from '../db/database.js';
import type { MessageStatus } from '../db/schema.js';
import * as messages from '../conversations/messages.repository.js';
import type { EventSource, NewEvent } from './event-types.js';
import { insertEvents, insertMessageEvents } from './events.repository.js';

/** Who caused a change: the request id to correlate by, and the kind of entry point. */
export interface EventContext {
  correlationId: string | null;
  source: EventSource;
}

/** Appends one event. */
export async function recordEvent(tx: Tx, context: EventContext, event: Omit<NewEvent, 'correlationId' | 'metadata'>): Promise<void> {
  await insertEvents(tx, [{ ...event, correlationId: context.correlationId, metadata: { source: context.source } }]);
}

/** `message.queued` for an accepted outbound message (POST /v1/messages, OTP). */
export async function recordMessageQueued(tx: Tx, context: EventContext, orgId: string, messageId: string): Promise<void> {
  await insertMessageEvents(tx, [{ orgId, messageId, type: 'message.queued', correlationId: context.correlationId, metadata: { source: context.source } }]);
}

/**
 * `message.status_changed` for outbound messages that just became `sent` (the dispatcher's
 * completion batch). A message that a status webhook already moved further gets no `sent` event.
 */
export async function recordMessagesSent(
  tx: Tx,
  rows: Array<{ orgId: string; messageId: string; correlationId: string | null }>,
): Promise<void> {
  await insertMessageEvents(
    tx,
    rows.map((row) => ({ orgId: row.orgId, messageId: row.messageId, type: 'message.status_changed' as const, correlationId: row.correlationId, metadata: { source: 'worker' } })),
    'sent',
  );
}

/**
 * Moves an outbound message's status forward (messages.advanceMessageStatus) and, when it moved,
 * records `message.failed` (status failed) or `message.status_changed` in the same transaction.
 * @returns the new status, or undefined when nothing changed (no event then)
 */
export async function advanceMessageStatusWithEvent(
  tx: Tx,
  context: EventContext,
  values: { orgId: string; messageId: string; status: MessageStatus; errorCode?: number | null; errorTitle?: string | null },
): Promise<MessageStatus | undefined> {
  const changed = await messages.advanceMessageStatus(tx, values);
  if (changed) {
    await insertMessageEvents(tx, [{
      orgId: values.orgId,
      messageId: values.messageId,
      type: changed === 'failed' ? 'message.failed' : 'message.status_changed',
      correlationId: context.correlationId,
      metadata: { source: context.source },
    }]);
  }
  return changed;
}

/** `phone_number.reauth_required` (Meta error 190: the number's token was rejected). */
export async function recordReauthRequired(tx: Tx, context: EventContext, orgId: string, phoneNumberRef: string): Promise<void> {
  await recordEvent(tx, context, {
    orgId, aggregateType: 'phone_number', aggregateId: phoneNumberRef, type: 'phone_number.reauth_required',
    payload: { phone_number_ref: phoneNumberRef, status: 'reauth_required' },
  });
}

/** `contact.created`: a new customer number (and, with it, possibly a new client). */
export async function recordContactCreated(
  tx: Tx,
  context: EventContext,
  contact: { orgId: string; id: string; clientId: string; e164: string; waId: string | null },
): Promise<void> {
  await recordEvent(tx, context, {
    orgId: contact.orgId, aggregateType: 'contact', aggregateId: contact.id, type: 'contact.created',
    payload: { contact_id: contact.id, client_id: contact.clientId, e164: contact.e164, wa_id: contact.waId },
  });
}

/** `conversation.started`: a new thread between a business number and a contact. */
export async function recordConversationStarted(
  tx: Tx,
  context: EventContext,
  thread: { orgId: string; id: string; contactId: string; phoneNumberRef: string },
): Promise<void> {
  await recordEvent(tx, context, {
    orgId: thread.orgId, aggregateType: 'thread', aggregateId: thread.id, type: 'conversation.started',
    payload: { thread_id: thread.id, contact_id: thread.contactId, phone_number_ref: thread.phoneNumberRef },
  });
}
