/**
 * Finding or creating the contacts of a batch of customers, each named by an E.164 number, a BSUID
 * or both (issue 15). Two steps:
 * - the hot path, one statement: contacts that already carry every identity named
 *   (contacts.repository.ts `lockKnownContacts`);
 * - the rest under identity locks (contact-identities.repository.ts `lockIdentityKeys`), read
 *   again once the locks are held: no contact → created (set-based, with its client); one contact
 *   → the missing identity is linked to it (or replaces the one it had: the customer changed number
 *   or BSUID); two contacts (one by number, one by BSUID) → merged into the older one in this
 *   transaction (contact-merge.repository.ts), so that no concurrent webhook ever sees a moment
 *   where it could create a third.
 */
import type { Tx } from '../db/database.js';
import { TransactionConflictError } from '../db/errors.js';
import {
  identityKeys, type IdentifiedContact, lockContactsByIdentity, lockContactsForUpdate, lockIdentityKeys, setContactIdentity,
} from './contact-identities.repository.js';
import { type MergeOutcome, mergeContactRows } from './contact-merge.repository.js';
import {
  insertContacts, lockKnownContacts, updateContactDetails, type UpsertContactInput, type UpsertedContact,
} from './contacts.repository.js';

/** Two contacts found to be one customer, merged. */
export interface ContactMerge extends MergeOutcome {
  orgId: string;
  survivorId: string;
  absorbedId: string;
  /** Index of the input whose identities proved it. */
  inputIndex: number;
  /** The survivor's identities after the merge. */
  e164: string | null;
  bsuid: string | null;
}

export interface ResolvedContacts {
  /** One contact per input, in input order. */
  contacts: UpsertedContact[];
  merges: ContactMerge[];
}

/** The reason recorded when a contact found by one identity carries another value of the other one. */
function changeReason(input: UpsertContactInput, contact: IdentifiedContact): 'user_changed_number' | 'user_changed_user_id' {
  return input.e164 !== null && contact.e164 !== null && contact.e164 !== input.e164 ? 'user_changed_number' : 'user_changed_user_id';
}

/**
 * Links, re-identifies or merges the contacts one input found; returns the contact the input now
 * names. A contact created meanwhile that already carries the input's identities is left as it is
 * (share-locked only: like a lost insert race, its details wait for the customer's next message),
 * so that this batch never waits for another batch's hot-path lock while holding its own.
 */
async function settleFound(tx: Tx, input: UpsertContactInput, index: number, found: IdentifiedContact[], merges: ContactMerge[]): Promise<UpsertedContact> {
  const [survivor, absorbed] = found as [IdentifiedContact, IdentifiedContact | undefined];
  // Found through its history (the customer changed number or BSUID since): it keeps its identities.
  const complete = survivor.former || (!absorbed && (input.e164 ?? survivor.e164) === survivor.e164 && (input.bsuid ?? survivor.bsuid) === survivor.bsuid);
  if (complete) {
    return { id: survivor.id, clientId: survivor.client_id, orgId: input.orgId, e164: survivor.e164, bsuid: survivor.bsuid, created: false, blocked: survivor.blocked };
  }
  const ids = found.map((contact) => contact.id);
  if ((await lockContactsForUpdate(tx, input.orgId, ids)).length < ids.length) {
    throw new TransactionConflictError('a contact was erased while a webhook linked or merged it');
  }
  let blocked = survivor.blocked;
  if (absorbed) {
    const outcome = await mergeContactRows(tx, input.orgId, survivor.id, absorbed.id);
    blocked ||= absorbed.blocked;
    merges.push({ ...outcome, orgId: input.orgId, survivorId: survivor.id, absorbedId: absorbed.id, inputIndex: index, e164: input.e164 ?? survivor.e164, bsuid: input.bsuid ?? survivor.bsuid });
  }
  const e164 = input.e164 ?? survivor.e164;
  const bsuid = input.bsuid ?? survivor.bsuid;
  if (e164 !== survivor.e164 || bsuid !== survivor.bsuid) {
    await setContactIdentity(tx, { orgId: input.orgId, id: survivor.id, e164, bsuid }, absorbed ? 'merged' : changeReason(input, survivor));
  }
  await updateContactDetails(tx, [{ ...input, id: survivor.id }]);
  return { id: survivor.id, clientId: survivor.client_id, orgId: input.orgId, e164, bsuid, created: false, blocked };
}

/**
 * Returns the organization's contact for each customer, creating, linking or merging contacts as
 * the identities require, and applies each input's profile name, username, wa_id and activity.
 * @param inputs distinct customers: no two inputs share a number or a BSUID (group a batch's
 *   messages first: open-conversation.ts)
 * @returns one contact per input, in input order, and the merges done
 * @throws TransactionConflictError when a contact appeared or vanished between two statements (withTransaction retries)
 */
export async function upsertContacts(tx: Tx, inputs: UpsertContactInput[]): Promise<ResolvedContacts> {
  if (inputs.length === 0) return { contacts: [], merges: [] };
  const known = await lockKnownContacts(tx, inputs);
  const contacts: Array<UpsertedContact | undefined> = inputs.map((_input, index) => known.get(index));
  const pending = inputs.flatMap((_input, index) => (known.has(index) ? [] : [index]));
  const merges: ContactMerge[] = [];
  if (pending.length === 0) return { contacts: contacts as UpsertedContact[], merges };

  await lockIdentityKeys(tx, pending.flatMap((index) => identityKeys(inputs[index]!)));
  const found = await lockContactsByIdentity(tx, pending.map((index) => inputs[index]!));
  const byPending = new Map<number, IdentifiedContact[]>();
  for (const row of found) {
    const list = byPending.get(Number(row.ord) - 1) ?? [];
    list.push(row);
    byPending.set(Number(row.ord) - 1, list);
  }
  const missing: number[] = [];
  for (const [position, index] of pending.entries()) {
    const rows = byPending.get(position);
    if (!rows) missing.push(index);
    else contacts[index] = await settleFound(tx, inputs[index]!, index, rows, merges);
  }
  const inserted = await insertContacts(tx, missing.map((index) => inputs[index]!));
  missing.forEach((index, position) => {
    contacts[index] = inserted[position];
  });
  return { contacts: contacts as UpsertedContact[], merges };
}

/** upsertContacts for one customer (outbound-initiated conversations). */
export async function upsertContact(tx: Tx, input: UpsertContactInput): Promise<UpsertedContact> {
  const { contacts } = await upsertContacts(tx, [input]);
  return contacts[0]!;
}
