/**
 * Blocking contacts. A blocked contact's threads refuse outbound messages (`contact_blocked`); its
 * inbound messages are still stored, flagged, and raise no events. Blocking and unblocking write
 * `contact.blocked` / `contact.unblocked` in the same transaction (only when the state changes).
 */
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { type EventContext, recordEvent } from '../events/event-writer.js';
import { notFound } from '../shared/errors.js';
import { lockContact, setContactBlocked } from './contacts.repository.js';

/**
 * Blocks (`block` given) or unblocks (null) a contact of the organization.
 * @throws AppError not_found
 */
export async function changeContactBlock(db: Db, orgId: string, contactId: string, block: { reason: string | null } | null, events: EventContext): Promise<void> {
  await withTransaction(db, async (tx) => {
    const contact = await lockContact(tx, orgId, contactId);
    if (!contact) throw notFound('contact');
    if ((contact.blocked_at !== null) === (block !== null)) return;
    await setContactBlocked(tx, orgId, contactId, block);
    await recordEvent(tx, events, {
      orgId, aggregateType: 'contact', aggregateId: contactId, type: block ? 'contact.blocked' : 'contact.unblocked',
      payload: { contact_id: contactId, client_id: contact.client_id, ...(block ? { reason: block.reason } : {}) },
    });
  });
}
