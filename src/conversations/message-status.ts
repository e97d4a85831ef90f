/**
 * The one path by which an outbound message's status changes (SPEC §2.5, §4 "Delivery"): forward
 * only, `queued < sending < sent < delivered < read < played`, `failed` terminal from any state;
 * each change writes `message.status_changed` or `message.failed` in the same transaction.
 *
 * A status webhook can reach us before the dispatcher has committed the wamid the provider returned
 * (the provider answers the send and calls the webhook at once). Such a status is parked in
 * `pending_statuses` and applied when the send is recorded. Both sides take the wamid's advisory
 * lock (messages.lockWamid / lockWamids), so a status either sees the committed wamid or is parked
 * before recordSends looks for it: never lost, never applied twice.
 *
 * Callers: webhook ingestion (`inbound/inbound.service.ts`), the dispatcher
 * (`outbound/dispatcher.ts`), and the OTP expiry job (`endusers/otp.service.ts`).
 */
import type { Tx } from '../db/database.js';
import type { MessageStatus } from '../db/schema.js';
import { type EventContext, recordMessageEvents } from '../events/event-writer.js';
import * as messages from './messages.repository.js';

/** Replay order of parked statuses, lowest first, so that every step raises its own event. */
const STATUS_ORDER = ['sent', 'delivered', 'read', 'played', 'failed'] as const;

/** Statuses and errors of the replay belong to no request: the webhook that brought them committed long ago. */
const REPLAY_CONTEXT: EventContext = { correlationId: null, source: 'worker' };

/** A status a provider reported for one of a business number's wamids (a status webhook item). */
export interface ReportedStatus {
  orgId: string;
  phoneNumberRef: string;
  /** Meta wamid or Twilio MessageSid of the outbound message. */
  wamid: string;
  status: messages.DeliveryStatus;
  /** Provider time of the status (Meta), or time of receipt (Twilio). */
  providerTimestamp: Date;
  /** The provider's error code and title of a `failed` status, else null. */
  errorCode: number | null;
  errorTitle: string | null;
  /** The status exactly as received, kept while it is pending (GDPR export and erasure read it). */
  payload: unknown;
}

/** What applyStatus did: moved the message, ignored a regression or repeat, or parked the status. */
export type StatusOutcome = 'applied' | 'ignored' | 'pending';

/**
 * Moves an outbound message's status forward and, when it moved, records `message.failed` (status
 * `failed`) or `message.status_changed` in the same transaction. A regression, a repeat, or any
 * change of a `failed` message changes nothing and writes no event.
 * @param values errorCode / errorTitle are stored only with `failed`
 * @returns the new status, or undefined when nothing changed
 */
export async function advanceMessageStatus(
  tx: Tx,
  context: EventContext,
  values: { orgId: string; messageId: string; status: MessageStatus; errorCode?: number | null; errorTitle?: string | null },
): Promise<MessageStatus | undefined> {
  const changed = await messages.updateMessageStatusForward(tx, values);
  if (changed) {
    await recordMessageEvents(tx, [{
      orgId: values.orgId, messageId: values.messageId, type: changed === 'failed' ? 'message.failed' : 'message.status_changed', context,
    }]);
  }
  return changed;
}

/**
 * Applies a status webhook item to the message with its wamid, or parks it in `pending_statuses`
 * when no message of the number has that wamid yet (SPEC §2.5: nothing is dropped). Parking the
 * same status twice keeps one row.
 * @returns 'applied' (the message moved), 'ignored' (a regression or repeat), or 'pending'
 */
export async function applyStatus(tx: Tx, context: EventContext, reported: ReportedStatus): Promise<StatusOutcome> {
  await messages.lockWamid(tx, reported.phoneNumberRef, reported.wamid);
  const message = await messages.findMessageByWamid(tx, reported.orgId, reported.phoneNumberRef, reported.wamid);
  if (!message) {
    await messages.insertPendingStatus(tx, reported);
    return 'pending';
  }
  const changed = await advanceMessageStatus(tx, context, {
    orgId: reported.orgId, messageId: message.id, status: reported.status, errorCode: reported.errorCode, errorTitle: reported.errorTitle,
  });
  return changed ? 'applied' : 'ignored';
}

/** A send the provider accepted, as the dispatcher records it. */
export interface AcceptedSend {
  orgId: string;
  messageId: string;
  phoneNumberRef: string;
  /** The provider's id for the message; null for sends that get none (read receipts). */
  wamid: string | null;
  /** Request id of the request that queued the message (the `sent` event carries it). */
  correlationId: string | null;
}

/**
 * Records a batch of accepted sends (the dispatcher's completion batch, inside its transaction):
 * wamid and `sent` (unless a status webhook already moved the message further) with one
 * `message.status_changed` per message that became `sent`, then the statuses parked for these
 * wamids, replayed in status order through advanceMessageStatus. The wamid locks are taken in one
 * fixed order (lockWamids), so two batches cannot deadlock.
 */
export async function recordSends(tx: Tx, sends: AcceptedSend[]): Promise<void> {
  await messages.recordSentMessages(tx, sends.map(({ orgId, messageId, wamid }) => ({ orgId, messageId, wamid })));
  await recordMessageEvents(
    tx,
    sends.map((send) => ({
      orgId: send.orgId, messageId: send.messageId, type: 'message.status_changed' as const, context: { correlationId: send.correlationId, source: 'worker' },
    })),
    'sent',
  );
  const withWamid = sends.filter((send): send is AcceptedSend & { wamid: string } => send.wamid !== null);
  await messages.lockWamids(tx, withWamid);
  const pending = await messages.takePendingStatusesFor(tx, withWamid);
  pending.sort((a, b) => STATUS_ORDER.indexOf(a.status) - STATUS_ORDER.indexOf(b.status));
  for (const status of pending) {
    const target = withWamid.find((send) => send.wamid === status.provider_message_id && send.phoneNumberRef === status.phone_number_ref);
    if (!target) continue;
    await advanceMessageStatus(tx, REPLAY_CONTEXT, {
      orgId: target.orgId, messageId: target.messageId, status: status.status, errorCode: status.error_code, errorTitle: status.error_title,
    });
  }
}
