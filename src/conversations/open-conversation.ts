/**
 * Opening a conversation: finding or creating the contact (with its client) for a customer number
 * and the thread between it and one business number (SPEC §2.2: one contact per (org, E.164), one
 * thread per (business number, contact)). Every caller goes through here: sends and
 * `POST /v1/threads` one at a time (openConversation), OTP sends for a known contact, and inbound
 * group commit set-based (openInboundConversations).
 *
 * Race-safety lives in the repositories: contacts are upserted with `ON CONFLICT (org_id, e164)`
 * and locked in (org, E.164) order, threads with `ON CONFLICT (org_id, phone_number_ref,
 * contact_id)`; contacts are always taken before threads. 50 concurrent first contacts make one
 * contact, one client and one thread (test/conversations/threads.test.ts, test/inbound/races.test.ts).
 */
import type { Tx } from '../db/database.js';
import { type EventContext, recordEvent } from '../events/event-writer.js';
import {
  contactKey, upsertContact, type UpsertContactInput, upsertContacts, type UpsertedContact,
} from './contacts.repository.js';
import {
  type InboundThreadInput, upsertInboundThreads, type UpsertedInboundThread, type UpsertedThread, upsertThread,
} from './threads.repository.js';

/** The customer side of a conversation: a number to find or create, or a contact that exists. */
export type ConversationCustomer = { e164: string } | { contactId: string };

/** The contact and thread of an opened conversation, and whether this call created them. */
export interface OpenedConversation {
  contact: { id: string; created: boolean };
  thread: UpsertedThread;
}

/** Name of the client created with a new contact, until someone names it. */
const guestName = (e164: string) => `Guest (${e164})`;

/** `contact.created`: a new customer number (and, with it, a new client). */
async function recordContactCreated(tx: Tx, events: EventContext, contact: { orgId: string; id: string; clientId: string; e164: string; waId: string | null }) {
  await recordEvent(tx, events, {
    orgId: contact.orgId, aggregateType: 'contact', aggregateId: contact.id, type: 'contact.created',
    payload: { contact_id: contact.id, client_id: contact.clientId, e164: contact.e164, wa_id: contact.waId },
  });
}

/** `conversation.started`: a new thread between a business number and a contact. */
async function recordConversationStarted(tx: Tx, events: EventContext, thread: { orgId: string; id: string; contactId: string; phoneNumberRef: string }) {
  await recordEvent(tx, events, {
    orgId: thread.orgId, aggregateType: 'thread', aggregateId: thread.id, type: 'conversation.started',
    payload: { thread_id: thread.id, contact_id: thread.contactId, phone_number_ref: thread.phoneNumberRef },
  });
}

/**
 * Returns the thread between a business number and a customer, creating what is missing (contact
 * and client for a new number, then the thread) without touching the customer service window or
 * `last_message_at`, and records `contact.created` / `conversation.started` for what it created,
 * in the caller's transaction. The business number must already be the organization's (callers
 * resolve it and answer 404 otherwise).
 * @param input.customer `{ e164 }` (E.164, validated by the caller) or `{ contactId }` of an existing contact
 * @throws TransactionConflictError when a contact was erased while this created it (withTransaction retries)
 */
export async function openConversation(
  tx: Tx, events: EventContext, input: { orgId: string; phoneNumberRef: string; customer: ConversationCustomer },
): Promise<OpenedConversation> {
  const { orgId, phoneNumberRef, customer } = input;
  if ('contactId' in customer) {
    const thread = await upsertThread(tx, { orgId, phoneNumberRef, contactId: customer.contactId, inboundAt: null });
    if (thread.created) await recordConversationStarted(tx, events, { orgId, id: thread.id, contactId: customer.contactId, phoneNumberRef });
    return { contact: { id: customer.contactId, created: false }, thread };
  }
  const { e164 } = customer;
  const contact = await upsertContact(tx, { orgId, e164, waId: null, profileName: null, clientName: guestName(e164), activeAt: null });
  const thread = await upsertThread(tx, { orgId, phoneNumberRef, contactId: contact.id, inboundAt: null });
  if (contact.created) await recordContactCreated(tx, events, { orgId, id: contact.id, clientId: contact.clientId, e164, waId: null });
  if (thread.created) await recordConversationStarted(tx, events, { orgId, id: thread.id, contactId: contact.id, phoneNumberRef });
  return { contact: { id: contact.id, created: contact.created }, thread };
}

/** One inbound message's conversation: who wrote to which business number, and when. */
export interface InboundConversationInput {
  orgId: string;
  phoneNumberRef: string;
  /** The customer, E.164 (`+14155550123`) and Meta wa_id (digits). */
  e164: string;
  waId: string;
  profileName: string | null;
  /** Provider time of the message: advances `last_active_at`, `last_inbound_at` and `last_message_at`. */
  at: Date;
}

/** An inbound message's contact and thread (created flags for the events the caller writes). */
export interface OpenedInboundConversation {
  contact: UpsertedContact;
  thread: UpsertedInboundThread;
}

const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
const threadKey = (orgId: string, phoneNumberRef: string, contactId: string) => `${orgId}\u0000${contactId}\u0000${phoneNumberRef}`;

/**
 * One contact input per customer: its latest message time, and the latest profile name and wa_id
 * the batch carries (as if the messages had been applied one by one in time order). Sorted by
 * (org, E.164), the order every batch locks contacts in.
 */
function contactInputs(messages: InboundConversationInput[]): UpsertContactInput[] {
  const inputs = new Map<string, UpsertContactInput>();
  const byTime = [...messages].sort((a, b) => a.at.getTime() - b.at.getTime());
  for (const { orgId, e164, waId, profileName, at } of byTime) {
    const key = contactKey(orgId, e164);
    const input = inputs.get(key);
    if (!input) {
      inputs.set(key, { orgId, e164, waId, profileName, clientName: guestName(e164), activeAt: at });
    } else {
      input.waId = waId;
      input.profileName = profileName ?? input.profileName;
      input.activeAt = at;
    }
  }
  return [...inputs.values()].sort((a, b) => compare(a.orgId, b.orgId) || compare(a.e164, b.e164));
}

/** One thread input per (number, contact) with its latest message time, sorted by thread key (one lock order for every batch). */
function threadInputs(messages: InboundConversationInput[], contacts: Map<string, UpsertedContact>): InboundThreadInput[] {
  const inputs = new Map<string, InboundThreadInput>();
  for (const { orgId, phoneNumberRef, e164, at } of messages) {
    const contactId = contacts.get(contactKey(orgId, e164))!.id;
    const key = threadKey(orgId, phoneNumberRef, contactId);
    const input = inputs.get(key);
    if (!input) inputs.set(key, { orgId, phoneNumberRef, contactId, inboundAt: at });
    else if (at > input.inboundAt) input.inboundAt = at;
  }
  return [...inputs.entries()].sort(([a], [b]) => compare(a, b)).map(([, input]) => input);
}

/**
 * openConversation for a batch of inbound messages, set-based: one upsert of every contact (in
 * (org, E.164) order, the latest profile name and wa_id winning), then one upsert of every thread
 * (in one key order), whatever the batch size; the window (`last_inbound_at`) and
 * `last_message_at` move forward to each thread's latest message. Writes no event: the caller
 * writes `contact.created` / `conversation.started` from the created flags in the statement that
 * stores the messages (inbound/inbound-messages.repository.ts), so that a redelivered message
 * raises none and the batch costs no extra round trip.
 * @param messages one input per message, in any order; several may name one customer or thread
 * @returns one conversation per input, in input order
 * @throws TransactionConflictError when a contact was erased while the batch created it (withTransaction retries)
 */
export async function openInboundConversations(tx: Tx, messages: InboundConversationInput[]): Promise<OpenedInboundConversation[]> {
  if (messages.length === 0) return [];
  const contacts = new Map((await upsertContacts(tx, contactInputs(messages))).map((contact) => [contactKey(contact.orgId, contact.e164), contact]));
  const threads = new Map<string, UpsertedInboundThread>();
  for (const thread of await upsertInboundThreads(tx, threadInputs(messages, contacts))) {
    threads.set(threadKey(thread.orgId, thread.phoneNumberRef, thread.contactId), thread);
  }
  return messages.map(({ orgId, phoneNumberRef, e164 }) => {
    const contact = contacts.get(contactKey(orgId, e164))!;
    return { contact, thread: threads.get(threadKey(orgId, phoneNumberRef, contact.id))! };
  });
}
