/**
 * Thread use cases and the public JSON shape of a thread.
 */
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { findPhoneNumberByPhoneNumberId } from '../numbers/phone-numbers.repository.js';
import { AppError } from '../shared/errors.js';
import { toE164 } from '../shared/phone.js';
import { customerServiceWindowEnd } from './customer-service-window.js';
import { openConversation } from './open-conversation.js';
import { findThread, type LastMessagePreview, type ThreadListRow } from './threads.repository.js';

export interface ThreadJson {
  id: string;
  status: 'open' | 'closed';
  owner_operator_id: string | null;
  contact_id: string;
  /** The customer's number, E.164; null for a customer known only by a BSUID. */
  e164: string | null;
  wa_id: string | null;
  bsuid: string | null;
  parent_bsuid: string | null;
  username: string | null;
  profile_name: string | null;
  phone_number_id: string;
  display_phone_number: string;
  last_inbound_at: string | null;
  last_message_at: string;
  /** End of the 24-hour customer service window, or null when it is closed. */
  customer_service_window_expires_at: string | null;
  created_at: string;
  /** The owner's name and email (null when unassigned). */
  owner: { id: string; name: string | null; email: string | null } | null;
  /** When the contact was blocked, or null. */
  contact_blocked_at: string | null;
  /** The newest message, preview-sized (`content.body` ≤ 200 characters), or null. */
  last_message: LastMessagePreview | null;
  /** Inbound messages the caller has not read (capped at 100). */
  unread_count: number;
}

/**
 * The public JSON of a thread row (whitelisted fields, ISO-8601 times). The customer service
 * window's end is computed against the clock now, so it reads null once the window has closed.
 */
export function presentThread(row: ThreadListRow): ThreadJson {
  const windowEnd = customerServiceWindowEnd(row.last_inbound_at, Date.now());
  return {
    id: row.id,
    status: row.status,
    owner_operator_id: row.owner_operator_id,
    contact_id: row.contact_id,
    e164: row.e164,
    wa_id: row.wa_id,
    bsuid: row.bsuid,
    parent_bsuid: row.parent_bsuid,
    username: row.username,
    profile_name: row.profile_name,
    phone_number_id: row.phone_number_id,
    display_phone_number: row.display_phone_number,
    last_inbound_at: row.last_inbound_at?.toISOString() ?? null,
    last_message_at: row.last_message_at.toISOString(),
    customer_service_window_expires_at: windowEnd?.toISOString() ?? null,
    created_at: row.created_at.toISOString(),
    owner: row.owner_operator_id ? { id: row.owner_operator_id, name: row.owner_name, email: row.owner_email } : null,
    contact_blocked_at: row.blocked_at?.toISOString() ?? null,
    last_message: row.last_message,
    unread_count: row.unread_count,
  };
}

/**
 * Returns the thread between a business number and a customer number, creating contact, client
 * and thread when missing (race-safe upserts: 50 concurrent calls make one of each).
 * @param phoneNumberId Meta phone_number_id of one of the organization's numbers
 * @param phone the customer's number, E.164
 * @throws AppError not_found (number not in the organization), invalid_phone_number
 */
export async function openThread(
  db: Db, orgId: string, phoneNumberId: string, phone: string, correlationId: string | null = null,
): Promise<{ thread: ThreadJson; created: boolean }> {
  const e164 = toE164(phone);
  if (!e164) throw new AppError('invalid_phone_number', `"${phone}" is not an E.164 phone number (e.g. +14155550123)`);
  return withTransaction(db, async (tx) => {
    const number = await findPhoneNumberByPhoneNumberId(tx, orgId, phoneNumberId);
    if (!number) throw new AppError('not_found', `phone number ${phoneNumberId} not found`);
    const { thread } = await openConversation(tx, { correlationId, source: 'api' }, { orgId, phoneNumberRef: number.id, customer: { e164 } });
    const row = await findThread(tx, orgId, thread.id);
    return { thread: presentThread(row!), created: thread.created };
  });
}
