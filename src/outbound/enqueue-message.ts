/**
 * Queueing an outbound message: the one path by which a message enters the transactional outbox
 * (SPEC §4 "Outbound"), used by `POST /v1/messages` (outbound.service.ts) and OTP sends
 * (endusers/otp.service.ts). The message row, its `message_outbox` row, the thread's
 * `last_message_at` and `message.queued` commit together in the caller's transaction, so the
 * dispatcher never sees a row without its message nor a message that is never sent.
 */
import type { Tx } from '../db/database.js';
import { insertOutboundMessage, type OutboundMessageValues } from '../conversations/messages.repository.js';
import { touchThread } from '../conversations/threads.repository.js';
import { type EventContext, recordMessageEvents } from '../events/event-writer.js';
import { insertOutboxRow } from './outbox.repository.js';

/** An outbound message to queue, in a thread the caller has resolved, locked and checked. */
export type MessageToQueue = OutboundMessageValues;

/**
 * Queues an outbound message in `queued`: message row, outbox row (correlated with
 * `events.correlationId`), the thread's `last_message_at`, and `message.queued`.
 * When the Idempotency-Key is already used in the organization nothing is written (the insert
 * waits for a concurrent transaction holding the same key, then yields to it): the caller reads
 * the earlier message and replays or refuses the request.
 * @returns the new message's id, or undefined when `idempotencyKey` is already used
 */
export async function enqueueMessage(tx: Tx, events: EventContext, message: MessageToQueue): Promise<string | undefined> {
  const id = await insertOutboundMessage(tx, message);
  if (!id) return undefined;
  await insertOutboxRow(tx, {
    orgId: message.orgId, messageId: id, threadId: message.threadId, phoneNumberRef: message.phoneNumberRef, correlationId: events.correlationId,
  });
  await touchThread(tx, message.orgId, message.threadId);
  await recordMessageEvents(tx, [{ orgId: message.orgId, messageId: id, type: 'message.queued', context: events }]);
  return id;
}
