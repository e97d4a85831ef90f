/**
 * A customer's identity changed (Meta `system` messages, docs/PROTOCOL-NOTES.md):
 * `user_changed_number` gives the contact its new number, `user_changed_user_id` its new BSUID;
 * the one replaced stays in the contact's identity history (`contact_identities`). When another
 * contact of the organization already holds the new identity, both are one customer and that
 * contact is merged into this one, in the same transaction. Writes `contact.identity_changed`
 * (and `contact.merged`).
 */
import type { Tx } from '../db/database.js';
import { type EventContext, recordEvent } from '../events/event-writer.js';
import {
  identityKeys, lockContactsByIdentity, lockContactsForUpdate, lockIdentityKeys, setContactIdentity,
} from './contact-identities.repository.js';
import { mergeContactRows } from './contact-merge.repository.js';
import { recordContactMerged } from './open-conversation.js';

/** One identity change: the contact (as the message's sender resolved it) and its new number or BSUID. */
export interface IdentityChange {
  orgId: string;
  contact: { id: string; e164: string | null; bsuid: string | null };
  reason: 'user_changed_number' | 'user_changed_user_id';
  /** The new number (E.164) for user_changed_number, else null. */
  e164: string | null;
  /** The new BSUID for user_changed_user_id, else null. */
  bsuid: string | null;
}

/**
 * Applies one identity change in the caller's transaction (a no-op when the contact already has it).
 * @throws TransactionConflictError (through the repositories) when a contact vanished meanwhile
 */
export async function changeContactIdentity(tx: Tx, events: EventContext, change: IdentityChange): Promise<void> {
  const { orgId, contact } = change;
  if ((change.e164 === null || change.e164 === contact.e164) && (change.bsuid === null || change.bsuid === contact.bsuid)) return;
  await lockIdentityKeys(tx, [...identityKeys({ orgId, ...contact }), ...identityKeys({ orgId, e164: change.e164, bsuid: change.bsuid })]);
  const holders = (await lockContactsByIdentity(tx, [{ orgId, e164: change.e164, bsuid: change.bsuid }])).filter((c) => c.id !== contact.id);
  await lockContactsForUpdate(tx, orgId, [contact.id, ...holders.map((h) => h.id)]);
  for (const holder of holders) {
    const outcome = await mergeContactRows(tx, orgId, contact.id, holder.id);
    await recordContactMerged(tx, events, {
      ...outcome, orgId, survivorId: contact.id, absorbedId: holder.id, inputIndex: 0,
      e164: change.e164 ?? contact.e164, bsuid: change.bsuid ?? contact.bsuid,
    });
  }
  await setContactIdentity(tx, { orgId, id: contact.id, e164: change.e164, bsuid: change.bsuid }, change.reason);
  await recordEvent(tx, events, {
    orgId, aggregateType: 'contact', aggregateId: contact.id, type: 'contact.identity_changed',
    payload: {
      contact_id: contact.id, reason: change.reason, e164: change.e164 ?? contact.e164, bsuid: change.bsuid ?? contact.bsuid,
      previous_e164: contact.e164, previous_bsuid: contact.bsuid,
    },
  });
}
