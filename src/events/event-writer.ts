/**
 * Writing domain events inside the transaction of the change that causes them (the outbox
 * pattern: a crash can lose neither the change without its event nor the event without the change).
 * Every function takes a `Tx`, so the compiler enforces "inside a transaction". The writers are
 * generic: the domains that own an event decide when it happens and what its payload holds
 * (`conversations/open-conversation.ts`, `conversations/message-status.ts`, …).
 */
import type { Tx } from '../db/database.js';
import type { MessageStatus } from '../db/schema.js';
import type { EventSource, NewEvent } from './event-types.js';
import { insertEvents, insertMessageEvents, type MessageEventInput } from './events.repository.js';

/** Who caused a change: the request id to correlate by, and the kind of entry point. */
export interface EventContext {
  correlationId: string | null;
  source: EventSource;
}

/** Appends one event. */
export async function recordEvent(tx: Tx, context: EventContext, event: Omit<NewEvent, 'correlationId' | 'metadata'>): Promise<void> {
  await insertEvents(tx, [{ ...event, correlationId: context.correlationId, metadata: { source: context.source } }]);
}

/** One `message.*` event: which message, which event, and who caused it. */
export interface MessageEvent {
  orgId: string;
  messageId: string;
  type: MessageEventInput['type'];
  context: EventContext;
}

/**
 * Appends `message.*` events in the given order, in one statement; PostgreSQL reads each payload
 * from the message as it is now (ids, direction, type, status, error; never the content), so the
 * caller passes no payload and the payload cannot disagree with the row.
 * @param onlyStatus when set, a message whose status is not this one gets no event (used after a
 *   set-based conditional update, e.g. `sent` that a status webhook already overtook)
 */
export async function recordMessageEvents(tx: Tx, events: MessageEvent[], onlyStatus?: MessageStatus): Promise<void> {
  await insertMessageEvents(
    tx,
    events.map((event) => ({
      orgId: event.orgId, messageId: event.messageId, type: event.type, correlationId: event.context.correlationId, metadata: { source: event.context.source },
    })),
    onlyStatus,
  );
}

/** `phone_number.reauth_required` (Meta error 190: the number's token was rejected). */
export async function recordReauthRequired(tx: Tx, context: EventContext, orgId: string, phoneNumberRef: string): Promise<void> {
  await recordEvent(tx, context, {
    orgId, aggregateType: 'phone_number', aggregateId: phoneNumberRef, type: 'phone_number.reauth_required',
    payload: { phone_number_ref: phoneNumberRef, status: 'reauth_required' },
  });
}
