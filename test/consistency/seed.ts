/**
 * Raw-SQL seeding that bypasses the application entirely (no services, no repositories), for tests
 * that prove what the database itself refuses and what `wahub doctor` finds.
 */
import { createCipheriv, randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import { testCipher, uniqueDigits } from '../helpers/factories.js';

async function one(db: Db, query: ReturnType<typeof sql<{ id: string }>>): Promise<string> {
  return (await query.execute(db)).rows[0]!.id;
}

export const insertOrg = (db: Db, name = 'Raw org') => one(db, sql`INSERT INTO organizations (name) VALUES (${name}) RETURNING id`);

export const insertWaba = (db: Db, orgId: string, wabaId = uniqueDigits(), disconnected = false) =>
  one(db, sql`INSERT INTO wabas (org_id, waba_id, disconnected_at) VALUES (${orgId}, ${wabaId}, ${disconnected ? sql`now()` : null}) RETURNING id`);

/** A phone number row; `token` true stores a real ciphertext of the test key. */
export async function insertNumber(
  db: Db,
  orgId: string,
  wabaRef: string,
  values: { phoneNumberId?: string; status?: 'active' | 'reauth_required' | 'disconnected'; token?: boolean | { ciphertext: string | null; keyId: string | null } } = {},
): Promise<string> {
  const digits = `1555${uniqueDigits(7)}`;
  const status = values.status ?? 'active';
  const wantsToken = values.token ?? status !== 'disconnected';
  const token = typeof wantsToken === 'object' ? wantsToken : wantsToken ? testCipher.encrypt(`EAAraw${randomBytes(8).toString('hex')}`) : { ciphertext: null, keyId: null };
  return one(db, sql`
    INSERT INTO phone_numbers (org_id, waba_ref, phone_number_id, display_phone_number, e164, status, access_token_ciphertext, access_token_key_id)
    VALUES (${orgId}, ${wabaRef}, ${values.phoneNumberId ?? uniqueDigits()}, ${digits}, ${`+${digits}`}, ${status}, ${token.ciphertext}, ${token.keyId})
    RETURNING id`);
}

export const insertClient = (db: Db, orgId: string) => one(db, sql`INSERT INTO clients (org_id, name) VALUES (${orgId}, 'Client') RETURNING id`);

export const insertContact = (db: Db, orgId: string, clientId: string, e164 = `+1415${uniqueDigits(7)}`) =>
  one(db, sql`INSERT INTO contacts (org_id, client_id, e164) VALUES (${orgId}, ${clientId}, ${e164}) RETURNING id`);

export const insertThread = (db: Db, orgId: string, numberRef: string, contactId: string) =>
  one(db, sql`INSERT INTO threads (org_id, phone_number_ref, contact_id) VALUES (${orgId}, ${numberRef}, ${contactId}) RETURNING id`);

export function insertInbound(db: Db, orgId: string, threadId: string, numberRef: string, wamid = `wamid.raw-${randomUUID()}`) {
  return one(db, sql`
    INSERT INTO messages (org_id, thread_id, phone_number_ref, direction, type, content, provider_message_id, status, raw)
    VALUES (${orgId}, ${threadId}, ${numberRef}, 'inbound', 'text', '{"body":"hi"}', ${wamid}, 'received', '{}')
    RETURNING id`);
}

export function insertOutbound(db: Db, orgId: string, threadId: string, numberRef: string, values: { status?: string; wamid?: string | null } = {}) {
  return one(db, sql`
    INSERT INTO messages (org_id, thread_id, phone_number_ref, direction, type, content, provider_message_id, status)
    VALUES (${orgId}, ${threadId}, ${numberRef}, 'outbound', 'text', '{"body":"hello"}', ${values.wamid ?? null}, ${values.status ?? 'queued'})
    RETURNING id`);
}

export async function insertOutbox(db: Db, orgId: string, messageId: string, threadId: string, numberRef: string, state = 'pending'): Promise<string> {
  return one(db, sql`
    INSERT INTO message_outbox (org_id, message_id, thread_id, phone_number_ref, state)
    VALUES (${orgId}, ${messageId}, ${threadId}, ${numberRef}, ${state}) RETURNING id::text`);
}

export interface World {
  orgId: string;
  wabaRef: string;
  wabaId: string;
  numberRef: string;
  phoneNumberId: string;
  clientId: string;
  contactId: string;
  threadId: string;
  inboundId: string;
  inboundWamid: string;
  outboundId: string;
}

/** A consistent organization: WABA, number (encrypted token), client, contact, thread, an inbound message and a queued outbound one. */
export async function seedWorld(db: Db): Promise<World> {
  const orgId = await insertOrg(db);
  const wabaId = uniqueDigits();
  const wabaRef = await insertWaba(db, orgId, wabaId);
  const phoneNumberId = uniqueDigits();
  const numberRef = await insertNumber(db, orgId, wabaRef, { phoneNumberId });
  const clientId = await insertClient(db, orgId);
  const contactId = await insertContact(db, orgId, clientId);
  const threadId = await insertThread(db, orgId, numberRef, contactId);
  const inboundWamid = `wamid.raw-${randomUUID()}`;
  const inboundId = await insertInbound(db, orgId, threadId, numberRef, inboundWamid);
  const outboundId = await insertOutbound(db, orgId, threadId, numberRef);
  await insertOutbox(db, orgId, outboundId, threadId, numberRef);
  return { orgId, wabaRef, wabaId, numberRef, phoneNumberId, clientId, contactId, threadId, inboundId, inboundWamid, outboundId };
}

/** The pg error of a refused statement (fails the test when the statement succeeds). */
export async function refusal(run: Promise<unknown>): Promise<{ code: string; constraint?: string; message: string }> {
  try {
    await run;
  } catch (error) {
    return error as { code: string; constraint?: string; message: string };
  }
  throw new Error('the database accepted the statement');
}

/**
 * A genuine ciphertext of the test key whose random IV happens to begin with 0x10 0x00 0x00, so that
 * its base64url form starts with "EAA" like a Meta token (1 IV in 262,144 does).
 */
export function ciphertextStartingWithEAA(plaintext: string): string {
  const iv = Buffer.concat([Buffer.from([0x10, 0x00, 0x00]), randomBytes(9)]);
  const cipher = createCipheriv('aes-256-gcm', Buffer.alloc(32, 7), iv);
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url');
}
