/**
 * Opening a conversation: finding or creating the contact (with its client) for a customer number
 * and the thread between it and one business number (SPEC §2.2: one contact per (org, E.164), one
 * thread per (business number, contact)). Every caller goes through here: sends and
 * `POST /v1/threads` one at a time (openConversation), OTP sends for a known contact, and inbound
 * group commit set-based (openInboundConversations).
 *
 * A customer is named by an E.164 number, a BSUID (Meta's business-scoped user ID) or both; a
 * message carrying both links them on one contact, or merges the two contacts that held them
 * (resolve-contacts.ts, with `contact.merged`).
 *
 * Race-safety lives below: known contacts are locked in id order, new identities under identity
 * locks and created or linked with `ON CONFLICT`, threads with `ON CONFLICT (org_id,
 * phone_number_ref, contact_id)`; contacts are always taken before threads. 50 concurrent first
 * contacts make one contact, one client and one thread (test/conversations/threads.test.ts,
 * test/inbound/races.test.ts, test/inbound/bsuid.test.ts).
 */
import type { Tx } from '../db/database.js';
import { type EventContext, recordEvent } from '../events/event-writer.js';
import { identityKeys } from './contact-identities.repository.js';
import type { UpsertContactInput, UpsertedContact } from './contacts.repository.js';
import { type ContactMerge, upsertContact, upsertContacts } from './resolve-contacts.js';
import {
  type InboundThreadInput, upsertInboundThreads, type UpsertedInboundThread, type UpsertedThread, upsertThread,
} from './threads.repository.js';

/** The customer side of a conversation: a number or a BSUID to find or create, or a contact that exists. */
export type ConversationCustomer = { e164: string } | { bsuid: string } | { contactId: string };

/** The contact and thread of an opened conversation, and whether this call created them. */
export interface OpenedConversation {
  contact: { id: string; created: boolean };
  thread: UpsertedThread;
}

/** Name of the client created with a new contact, until someone names it. */
const guestName = (customer: { e164: string | null; bsuid: string | null; username?: string | null }) =>
  `Guest (${customer.username ? `@${customer.username}` : (customer.e164 ?? customer.bsuid)})`;

/** `contact.created`: a new customer (and, with it, a new client). */
async function recordContactCreated(tx: Tx, events: EventContext, contact: UpsertedContact) {
  await recordEvent(tx, events, {
    orgId: contact.orgId, aggregateType: 'contact', aggregateId: contact.id, type: 'contact.created',
    payload: { contact_id: contact.id, client_id: contact.clientId, e164: contact.e164, wa_id: null, bsuid: contact.bsuid, parent_bsuid: null, username: null },
  });
}

/**
 * `contact.merged`: two contacts were found to be one customer; the absorbed one is gone, its
 * threads merged into or moved to the survivor's.
 */
export async function recordContactMerged(tx: Tx, events: EventContext, merge: ContactMerge): Promise<void> {
  await recordEvent(tx, events, {
    orgId: merge.orgId, aggregateType: 'contact', aggregateId: merge.survivorId, type: 'contact.merged',
    payload: {
      contact_id: merge.survivorId, merged_contact_id: merge.absorbedId, e164: merge.e164, bsuid: merge.bsuid,
      merged_thread_ids: merge.mergedThreadIds, moved_thread_ids: merge.movedThreadIds, deleted_client_id: merge.deletedClientId,
    },
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
  const identity = { e164: 'e164' in customer ? customer.e164 : null, bsuid: 'bsuid' in customer ? customer.bsuid : null };
  const contact = await upsertContact(tx, {
    orgId, ...identity, waId: null, parentBsuid: null, username: null, profileName: null, clientName: guestName(identity), activeAt: null,
  });
  const thread = await upsertThread(tx, { orgId, phoneNumberRef, contactId: contact.id, inboundAt: null });
  if (contact.created) await recordContactCreated(tx, events, contact);
  if (thread.created) await recordConversationStarted(tx, events, { orgId, id: thread.id, contactId: contact.id, phoneNumberRef });
  return { contact: { id: contact.id, created: contact.created }, thread };
}

/** One inbound message's conversation: who wrote to which business number, and when. */
export interface InboundConversationInput {
  orgId: string;
  phoneNumberRef: string;
  /** The customer: E.164 (`+14155550123`) and Meta wa_id (digits), BSUID, or both. */
  e164: string | null;
  waId: string | null;
  bsuid: string | null;
  parentBsuid: string | null;
  username: string | null;
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
 * One contact input per customer: messages that share a number or a BSUID are one customer (a
 * message carrying both links them). Each input has the customer's latest message time and the
 * latest identities, profile name, username and wa_id the batch carries (as if the messages had
 * been applied one by one in time order).
 * @returns the inputs, sorted by (org, BSUID or number), and for each message the index of its input
 */
function contactInputs(messages: InboundConversationInput[]): { inputs: UpsertContactInput[]; inputOf: number[] } {
  const parent = messages.map((_message, index) => index);
  const root = (index: number): number => {
    while (parent[index] !== index) index = parent[index] = parent[parent[index]!]!;
    return index;
  };
  const firstWithKey = new Map<string, number>();
  messages.forEach((message, index) => {
    for (const key of identityKeys(message)) {
      const other = firstWithKey.get(key);
      if (other === undefined) firstWithKey.set(key, index);
      else parent[root(other)] = root(index);
    }
  });
  const byRoot = new Map<number, UpsertContactInput>();
  const byTime = messages.map((message, index) => ({ message, index })).sort((a, b) => a.message.at.getTime() - b.message.at.getTime());
  for (const { message, index } of byTime) {
    const { orgId, e164, waId, bsuid, parentBsuid, username, profileName, at } = message;
    const input = byRoot.get(root(index));
    if (!input) {
      byRoot.set(root(index), { orgId, e164, waId, bsuid, parentBsuid, username, profileName, clientName: '', activeAt: at });
      continue;
    }
    input.e164 = e164 ?? input.e164;
    input.waId = waId ?? input.waId;
    input.bsuid = bsuid ?? input.bsuid;
    input.parentBsuid = parentBsuid ?? input.parentBsuid;
    input.username = username ?? input.username;
    input.profileName = profileName ?? input.profileName;
    input.activeAt = at;
  }
  const sortKey = (input: UpsertContactInput) => `${input.orgId}\u0000${input.bsuid ?? ''}\u0000${input.e164 ?? ''}`;
  const roots = [...byRoot.keys()].sort((a, b) => compare(sortKey(byRoot.get(a)!), sortKey(byRoot.get(b)!)));
  const position = new Map(roots.map((r, i) => [r, i]));
  const inputs = roots.map((r) => {
    const input = byRoot.get(r)!;
    return { ...input, clientName: guestName(input) };
  });
  return { inputs, inputOf: messages.map((_message, index) => position.get(root(index))!) };
}

/** One thread input per (number, contact) with its latest message time, sorted by thread key (one lock order for every batch). */
function threadInputs(messages: InboundConversationInput[], contactOf: (index: number) => UpsertedContact): InboundThreadInput[] {
  const inputs = new Map<string, InboundThreadInput>();
  messages.forEach(({ orgId, phoneNumberRef, at }, index) => {
    const contactId = contactOf(index).id;
    const key = threadKey(orgId, phoneNumberRef, contactId);
    const input = inputs.get(key);
    if (!input) inputs.set(key, { orgId, phoneNumberRef, contactId, inboundAt: at });
    else if (at > input.inboundAt) input.inboundAt = at;
  });
  return [...inputs.entries()].sort(([a], [b]) => compare(a, b)).map(([, input]) => input);
}

/**
 * openConversation for a batch of inbound messages, set-based: one upsert of every customer's
 * contact (resolve-contacts.ts: the latest profile name, username and wa_id winning; new identities
 * linked, two contacts of one customer merged), then one upsert of every thread (in one key order),
 * whatever the batch size; the window (`last_inbound_at`) and `last_message_at` move forward to each
 * thread's latest message. Writes no event but `contact.merged` (returned for the caller to record):
 * the caller writes `contact.created` / `conversation.started` from the created flags in the
 * statement that stores the messages (inbound/inbound-messages.repository.ts), so that a
 * redelivered message raises none and the batch costs no extra round trip.
 * @param messages one input per message, in any order; several may name one customer or thread
 * @returns one conversation per input, in input order, and the merges with the index of a message that proved each
 * @throws TransactionConflictError when a contact was erased while the batch created it (withTransaction retries)
 */
export async function openInboundConversations(
  tx: Tx, messages: InboundConversationInput[],
): Promise<{ conversations: OpenedInboundConversation[]; merges: Array<ContactMerge & { messageIndex: number }> }> {
  if (messages.length === 0) return { conversations: [], merges: [] };
  const { inputs, inputOf } = contactInputs(messages);
  const { contacts, merges } = await upsertContacts(tx, inputs);
  const contactOf = (index: number) => contacts[inputOf[index]!]!;
  const threads = new Map<string, UpsertedInboundThread>();
  for (const thread of await upsertInboundThreads(tx, threadInputs(messages, contactOf))) {
    threads.set(threadKey(thread.orgId, thread.phoneNumberRef, thread.contactId), thread);
  }
  const conversations = messages.map(({ orgId, phoneNumberRef }, index) => {
    const contact = contactOf(index);
    return { contact, thread: threads.get(threadKey(orgId, phoneNumberRef, contact.id))! };
  });
  return { conversations, merges: merges.map((merge) => ({ ...merge, messageIndex: inputOf.indexOf(merge.inputIndex) })) };
}
