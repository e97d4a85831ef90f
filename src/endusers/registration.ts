/**
 * Registration: a contact is registered once it is verified (OTP) and has accepted terms; the
 * moment both hold, `registered_at` is set and `user.registered` recorded, in the same transaction.
 */
import type { Tx } from '../db/database.js';
import { type EventContext, recordEvent } from '../events/event-writer.js';
import { markRegisteredIfComplete } from './endusers.repository.js';

/** @returns registered_at when this call registered the contact */
export async function recordRegistrationIfComplete(tx: Tx, events: EventContext, orgId: string, contactId: string, clientId: string): Promise<Date | undefined> {
  const registeredAt = await markRegisteredIfComplete(tx, orgId, contactId);
  if (registeredAt) {
    await recordEvent(tx, events, {
      orgId, aggregateType: 'contact', aggregateId: contactId, type: 'user.registered',
      payload: { contact_id: contactId, client_id: clientId, registered_at: registeredAt.toISOString() },
    });
  }
  return registeredAt;
}
