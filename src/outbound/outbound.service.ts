/**
 * Accepting outbound messages (SPEC §4 "Outbound"): the message row and its outbox row commit in
 * one transaction; the dispatcher delivers them later. Rules, in order:
 * 1. Idempotency-Key: same key + same body → the original response; same key, other body → 409.
 * 2. Addressing: the business number comes from the thread (or from `from_phone_number_id` + `to`,
 *    opening the conversation: conversations/open-conversation.ts), always within the caller's
 *    organization (else 404).
 * 3. Policy: admins and owners may send in any thread; an agent only as the thread's owner or a
 *    co-writer. An agent replying in an unowned thread becomes its owner.
 * 4. Customer service window: free-form messages need an inbound message in the last 24 hours
 *    (conversations/customer-service-window.ts).
 * 5. Replies, reactions and read receipts must reference a message of the same thread.
 * 6. A blocked contact receives nothing (`contact_blocked`).
 * 7. A template must be approved in the registry of the number's WABA, in the language asked, with
 *    parameters that fit (templates/template-send-check.ts); a WABA never synced is synced first.
 * Events `contact.created` / `conversation.started` (when the send created them) and
 * `message.queued` commit with the message, queued through enqueue-message.ts.
 */
import { createHash } from 'node:crypto';
import type { Db, Tx } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { isWindowOpen } from '../conversations/customer-service-window.js';
import * as messages from '../conversations/messages.repository.js';
import { openConversation } from '../conversations/open-conversation.js';
import { findPhoneNumberByPhoneNumberId } from '../numbers/phone-numbers.repository.js';
import { isFreeFormMessage, type OutboundMessage } from '../providers/meta/send.schema.js';
import { AppError } from '../shared/errors.js';
import { toE164 } from '../shared/phone.js';
import { isBsuid } from '../shared/bsuid.js';
import type { Principal } from '../tenancy/tenancy.service.js';
import * as threads from '../conversations/threads.repository.js';
import type { SendMessageBody } from './messages.schema.js';
import { toStoredContent } from './message-content.js';
import { enqueueMessage } from './enqueue-message.js';
import type { EventContext } from '../events/event-writer.js';
import { assertTemplateSendable, type TemplateSyncer, TemplatesNeverSyncedError } from '../templates/template-send-check.js';

export interface SendMessageResponse {
  id: string;
  status: 'queued';
  thread_id: string;
}

export interface SendMessageResult {
  response: SendMessageResponse;
  /** True when an earlier request with the same Idempotency-Key produced this response. */
  replayed: boolean;
}

/** Canonical JSON (keys sorted) so that key order does not change a request's hash. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function replay(existing: { id: string; thread_id: string; request_hash: string | null }, requestHash: string): SendMessageResult {
  if (existing.request_hash !== requestHash) {
    throw new AppError('idempotency_key_reused', 'this Idempotency-Key was used with a different request body');
  }
  return { response: { id: existing.id, status: 'queued', thread_id: existing.thread_id }, replayed: true };
}

async function resolveThreadId(tx: Tx, principal: Principal, body: SendMessageBody, events: EventContext): Promise<string> {
  if (body.thread_id) return body.thread_id;
  const number = await findPhoneNumberByPhoneNumberId(tx, principal.orgId, body.from_phone_number_id!);
  if (!number) throw new AppError('not_found', `phone number ${body.from_phone_number_id} not found`);
  // A BSUID addresses a customer known only by one (a username, no number); Twilio cannot reach it (the dispatcher says so).
  if (isBsuid(body.to)) {
    if (number.provider === 'twilio') {
      throw new AppError('invalid_phone_number', 'Twilio numbers address WhatsApp customers by phone number only; send to this customer from a Meta number');
    }
    const { thread } = await openConversation(tx, events, { orgId: principal.orgId, phoneNumberRef: number.id, customer: { bsuid: body.to } });
    return thread.id;
  }
  const e164 = toE164(body.to!);
  if (!e164) throw new AppError('invalid_phone_number', `"${body.to}" is neither an E.164 phone number (e.g. +14155550123) nor a business-scoped user ID (e.g. US.13491208655302741918)`);
  const { thread } = await openConversation(tx, events, { orgId: principal.orgId, phoneNumberRef: number.id, customer: { e164 } });
  return thread.id;
}

async function assertMaySend(tx: Tx, principal: Principal, thread: { id: string; owner_operator_id: string | null }): Promise<void> {
  if (principal.role === 'admin' || principal.role === 'owner') return;
  if (thread.owner_operator_id === principal.operatorId) return;
  if (thread.owner_operator_id === null && (await threads.claimThreadOwnership(tx, principal.orgId, thread.id, principal.operatorId))) return;
  if (await threads.isCowriter(tx, principal.orgId, thread.id, principal.operatorId)) return;
  throw new AppError('not_allowed_to_send', 'only the thread owner, a co-writer or an admin may send in this thread');
}

/** The wamid a reply, reaction or read receipt points at, and whether it must be an inbound message. */
function referencedWamid(message: OutboundMessage): { wamid: string; inboundOnly: boolean; field: string } | undefined {
  if (message.type === 'mark_as_read') return { wamid: message.mark_as_read.message_id, inboundOnly: true, field: 'mark_as_read.message_id' };
  if (message.type === 'reaction') return { wamid: message.reaction.message_id, inboundOnly: false, field: 'reaction.message_id' };
  const context = (message as { context?: { message_id: string } }).context;
  return context ? { wamid: context.message_id, inboundOnly: false, field: 'context.message_id' } : undefined;
}

async function assertReferenceInThread(tx: Tx, orgId: string, thread: { id: string; phone_number_ref: string }, message: OutboundMessage): Promise<void> {
  const reference = referencedWamid(message);
  if (!reference) return;
  const target = await messages.findMessageByWamid(tx, orgId, thread.phone_number_ref, reference.wamid);
  if (!target || target.thread_id !== thread.id || (reference.inboundOnly && target.direction !== 'inbound')) {
    const what = reference.inboundOnly ? 'an inbound message' : 'a message';
    throw new AppError('validation_failed', `${reference.field} is not the wamid of ${what} in this thread`, [
      { path: reference.field, message: 'unknown wamid' },
    ]);
  }
}

/**
 * Accepts an outbound message (202 semantics: queued, delivered later by the dispatcher).
 * @param body validated `POST /v1/messages` body
 * @param idempotencyKey the `Idempotency-Key` header, if any
 * @throws AppError not_found, not_allowed_to_send, outside_customer_service_window, contact_blocked,
 *   phone_number_not_active, invalid_phone_number, idempotency_key_reused, validation_failed,
 *   template_not_found, template_not_approved, template_language_not_found, template_parameters_mismatch,
 *   templates_not_synced (never synced and no `syncTemplates` to sync it)
 * @param syncTemplates syncs a WABA never synced before its first template send (absent: refuse)
 */
export async function sendMessage(
  db: Db,
  principal: Principal,
  body: SendMessageBody,
  idempotencyKey: string | undefined,
  correlationId: string | null,
  syncTemplates?: TemplateSyncer,
): Promise<SendMessageResult> {
  // The sender is part of the request: another operator reusing a key is a different request (409),
  // never a replay that would hand them someone else's message.
  const requestHash = idempotencyKey
    ? createHash('sha256').update(canonicalJson({ operator_id: principal.operatorId, body })).digest('hex')
    : null;
  if (idempotencyKey && requestHash) {
    const existing = await messages.findMessageByIdempotencyKey(db, principal.orgId, idempotencyKey);
    if (existing) return replay(existing, requestHash);
  }
  const { thread_id: _t, from_phone_number_id: _f, to: _to, ...message } = body;
  const outbound = message as OutboundMessage;
  const attempt = () => withTransaction(db, async (tx): Promise<SendMessageResult> => {
    const events: EventContext = { correlationId, source: 'api' };
    const threadId = await resolveThreadId(tx, principal, body, events);
    // Locking the thread serialises concurrent sends to it: policy, window and order are decided on a stable row.
    const thread = await threads.lockThreadForSend(tx, principal.orgId, threadId);
    if (!thread) throw new AppError('not_found', 'thread not found');
    if (thread.phone_number_status === 'disconnected') throw new AppError('phone_number_not_active', 'the thread\'s business number is disconnected');
    if (thread.blocked_at !== null) throw new AppError('contact_blocked', 'the contact is blocked: nothing can be sent to it');
    await assertMaySend(tx, principal, thread);
    if (isFreeFormMessage(outbound.type) && !isWindowOpen(thread.last_inbound_at, Date.now())) {
      throw new AppError('outside_customer_service_window', 'the customer has not written in the last 24 hours: only templates may be sent');
    }
    await assertReferenceInThread(tx, principal.orgId, thread, outbound);
    if (outbound.type === 'template') await assertTemplateSendable(tx, principal.orgId, thread.phone_number_ref, outbound.template);
    const id = await enqueueMessage(tx, events, {
      orgId: principal.orgId,
      threadId: thread.id,
      phoneNumberRef: thread.phone_number_ref,
      type: outbound.type,
      content: toStoredContent(outbound),
      sentByOperatorId: principal.operatorId,
      idempotencyKey: idempotencyKey ?? null,
      requestHash,
    });
    if (!id) {
      // A concurrent request with the same key committed first (our insert waited for it).
      const existing = await messages.findMessageByIdempotencyKey(tx, principal.orgId, idempotencyKey!);
      if (!existing) throw new AppError('conflict', 'concurrent request with the same Idempotency-Key; retry');
      return replay(existing, requestHash!);
    }
    return { response: { id, status: 'queued', thread_id: thread.id }, replayed: false };
  });
  try {
    return await attempt();
  } catch (error) {
    if (!(error instanceof TemplatesNeverSyncedError)) throw error;
    if (!syncTemplates) throw new AppError('templates_not_synced', 'the templates of this number\'s WABA were never synced: run POST /v1/templates/sync first');
    await syncTemplates(error.orgId, error.wabaRef);
    return attempt();
  }
}
