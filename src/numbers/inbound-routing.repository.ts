/**
 * SQL of the inbound hot path: which connected number (and so which organization) a webhook
 * concerns. Meta webhooks are routed by `phone_number_id`, one query per inbound batch (prepared
 * statement `inbound_find_numbers`, partial unique index `phone_numbers_connected_phone_number_id_key`);
 * Twilio webhooks by sender address, with the credentials that verify their signature.
 */
import { sql } from 'kysely';
import type { Executor } from '../db/database.js';
import type { PhoneNumberRow, PhoneNumberStatus } from '../db/schema.js';

/** A connected number as webhook routing sees it: its provider and WABA id (null for Twilio, which has no WABA). */
export interface ConnectedPhoneNumber {
  id: string;
  org_id: string;
  provider: PhoneNumberRow['provider'];
  waba_id: string | null;
  status: PhoneNumberStatus;
  phone_number_id: string;
}

/**
 * Routing for inbound webhooks: the connected numbers with these phone_number_ids (at most one
 * each: partial unique index), in one query for a whole inbound batch.
 */
export async function findConnectedPhoneNumbers(db: Executor, phoneNumberIds: string[]): Promise<ConnectedPhoneNumber[]> {
  if (phoneNumberIds.length === 0) return [];
  const result = await sql<ConnectedPhoneNumber>`/* prepared: inbound_find_numbers */
    SELECT p.id, p.org_id, p.provider, w.waba_id, p.status, p.phone_number_id
    FROM phone_numbers p LEFT JOIN wabas w ON w.org_id = p.org_id AND w.id = p.waba_ref
    WHERE p.phone_number_id = any(${phoneNumberIds}::text[]) AND p.status <> 'disconnected'`.execute(db);
  return result.rows;
}

/** The connected number with this phone_number_id, if any (findConnectedPhoneNumbers for one). */
export async function findConnectedPhoneNumber(db: Executor, phoneNumberId: string): Promise<ConnectedPhoneNumber | undefined> {
  return (await findConnectedPhoneNumbers(db, [phoneNumberId]))[0];
}

/**
 * The credentials of a connected Twilio number, by sender address (`routed: true`); or, when no
 * number has that address, of the most recently updated connected number of the account
 * (`routed: false`), so that a webhook for a sender that is not connected can still be verified
 * and kept as a dead letter.
 */
export async function findTwilioCredentials(db: Executor, values: { phoneNumberId: string; accountSid: string | null }) {
  const columns = ['id', 'org_id', 'phone_number_id', 'twilio_account_sid', 'access_token_ciphertext', 'access_token_key_id'] as const;
  const byAddress = await db
    .selectFrom('phone_numbers')
    .select(columns)
    .where('provider', '=', 'twilio')
    .where('phone_number_id', '=', values.phoneNumberId)
    .where('status', '<>', 'disconnected')
    .executeTakeFirst();
  if (byAddress) return { ...byAddress, routed: true };
  if (!values.accountSid) return undefined;
  const byAccount = await db
    .selectFrom('phone_numbers')
    .select(columns)
    .where('twilio_account_sid', '=', values.accountSid)
    .where('status', '<>', 'disconnected')
    .orderBy('updated_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  return byAccount ? { ...byAccount, routed: false } : undefined;
}
