/**
 * Customers known by a business-scoped user ID (issue 15): a username-only customer is stored,
 * threaded, searchable and answerable like a phone-identified one; a webhook carrying both
 * identities links them, or merges the two contacts that held them, in one transaction. Races are
 * reproduced with parallel webhooks against the real database (STYLE.md §8).
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { bearer } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import type { TestDatabase } from '../helpers/db.js';
import {
  countRows, createTestNumber, createTestOperator, createTestOrg, uniqueDigits, type TestNumber,
} from '../helpers/factories.js';
import { createTwilioNumber } from '../helpers/twilio.js';
import { insertOutboundMessage, messageStatus, postWebhook } from './helpers.js';

/** T0 of the shared fixtures: 2026-01-01T12:00:00Z, unix seconds. */
const T0 = 1767268800;

interface Sender {
  /** wa_id (digits), when the webhook shows the number. */
  waId?: string;
  bsuid?: string;
  username?: string;
}

/** A text message webhook as Meta sends it since April 2026: `user_id` always, `wa_id`/`from` only when the number is available. */
function bsuidWebhook(number: TestNumber, sender: Sender, wamid: string, timestamp: number): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: number.wabaId, changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: number.displayPhoneNumber, phone_number_id: number.phoneNumberId },
      contacts: [{ profile: { name: 'Sheena', ...(sender.username ? { username: sender.username } : {}) }, ...(sender.waId ? { wa_id: sender.waId } : {}), ...(sender.bsuid ? { user_id: sender.bsuid } : {}) }],
      messages: [{
        ...(sender.waId ? { from: sender.waId } : {}), ...(sender.bsuid ? { from_user_id: sender.bsuid } : {}),
        id: wamid, timestamp: String(timestamp), type: 'text', text: { body: `message ${wamid}` },
      }],
    } }] }],
  });
}

const newBsuid = () => `GB.${uniqueDigits(18)}`;
const newWaId = () => `4477009${uniqueDigits(5)}`;

async function newNumber(t: TestDatabase): Promise<{ orgId: string; number: TestNumber }> {
  const { orgId } = await createTestOrg(t.db);
  return { orgId, number: await createTestNumber(t.db, orgId) };
}

async function deadlockCount(db: TestDatabase['db']): Promise<number> {
  const result = await sql<{ deadlocks: string }>`SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()`.execute(db);
  return Number(result.rows[0]!.deadlocks);
}

async function contactsOf(t: TestDatabase, orgId: string) {
  return t.db.selectFrom('contacts').select(['id', 'e164', 'wa_id', 'bsuid', 'username', 'client_id']).where('org_id', '=', orgId).execute();
}

describe('POST /webhooks/whatsapp from customers with a business-scoped user ID', () => {
  const bed = useAppBed(20);

  it('stores a username-only message (no from, no wa_id) under a BSUID contact with its thread, and announces the contact with its BSUID', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const bsuid = newBsuid();
    const response = await postWebhook(bed.app, bsuidWebhook(number, { bsuid, username: 'sheena' }, `wamid.u-${bsuid}`, T0));
    expect(response.statusCode).toBe(200);
    expect(await countRows(bed.t.db, 'webhook_dead_letters', orgId)).toBe(0);
    expect(await contactsOf(bed.t, orgId)).toEqual([expect.objectContaining({ e164: null, wa_id: null, bsuid, username: 'sheena' })]);
    expect(await countRows(bed.t.db, 'threads', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'messages', orgId)).toBe(1);
    const created = await bed.t.db.selectFrom('outbox_events').select('payload').where('org_id', '=', orgId).where('event_type', '=', 'contact.created').executeTakeFirstOrThrow();
    expect(created.payload).toMatchObject({ e164: null, wa_id: null, bsuid, username: 'sheena' });
  });

  it('lists the thread with bsuid and username, and finds it by @username and by the whole BSUID', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const { apiKey } = await createTestOperator(bed.t.db, orgId, 'admin');
    const bsuid = newBsuid();
    const username = `sheena${uniqueDigits(4)}`;
    await postWebhook(bed.app, bsuidWebhook(number, { bsuid, username }, `wamid.l-${bsuid}`, T0));
    await postWebhook(bed.app, bsuidWebhook(number, { waId: newWaId() }, `wamid.other-${bsuid}`, T0));
    const search = async (q: string) => {
      const response = await bed.app.inject({ method: 'GET', url: `/v1/threads?q=${encodeURIComponent(q)}`, headers: bearer(apiKey) });
      expect(response.statusCode).toBe(200);
      return response.json().data as Array<Record<string, unknown>>;
    };
    for (const q of [`@${username}`, username.slice(0, 8), bsuid]) {
      expect(await search(q)).toEqual([expect.objectContaining({ e164: null, wa_id: null, bsuid, parent_bsuid: null, username })]);
    }
    expect(await search(bsuid.slice(0, 10))).toEqual([]);
  });

  it('files 50 parallel first messages of one customer, half with only the BSUID and half with BSUID and number, under 1 contact, 1 client and 1 thread', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const bsuid = newBsuid();
    const waId = newWaId();
    const deadlocksBefore = await deadlockCount(bed.t.db);
    const bodies = Array.from({ length: 50 }, (_, i) =>
      bsuidWebhook(number, i % 2 === 0 ? { bsuid } : { bsuid, waId }, `wamid.race-${bsuid}-${i}`, T0 + i));
    const responses = await Promise.all(bodies.map((body) => postWebhook(bed.app, body)));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(50).fill(200));
    expect(await contactsOf(bed.t, orgId)).toEqual([expect.objectContaining({ e164: `+${waId}`, bsuid })]);
    expect(await countRows(bed.t.db, 'clients', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'threads', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'messages', orgId)).toBe(50);
    expect(await deadlockCount(bed.t.db)).toBe(deadlocksBefore);
  });

  it('links a BSUID to the contact known by its number when one webhook carries both', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const waId = newWaId();
    const bsuid = newBsuid();
    await postWebhook(bed.app, bsuidWebhook(number, { waId }, `wamid.a-${waId}`, T0));
    const [before] = await contactsOf(bed.t, orgId);
    await postWebhook(bed.app, bsuidWebhook(number, { waId, bsuid, username: 'sheena' }, `wamid.b-${waId}`, T0 + 1));
    await postWebhook(bed.app, bsuidWebhook(number, { bsuid }, `wamid.c-${waId}`, T0 + 2));
    expect(await contactsOf(bed.t, orgId)).toEqual([{ ...before, bsuid, username: 'sheena' }]);
    expect(await countRows(bed.t.db, 'threads', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'messages', orgId)).toBe(3);
  });

  it('merges a phone-only and a BSUID-only contact proven to be one customer, while 20 other webhooks of that customer arrive, into 1 contact and 1 thread with every message', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const waId = newWaId();
    const bsuid = newBsuid();
    for (let i = 0; i < 3; i++) {
      await postWebhook(bed.app, bsuidWebhook(number, { waId }, `wamid.p${i}-${waId}`, T0 + i));
      await postWebhook(bed.app, bsuidWebhook(number, { bsuid, username: 'sheena' }, `wamid.b${i}-${waId}`, T0 + 10 + i));
    }
    const before = await contactsOf(bed.t, orgId);
    expect(before).toHaveLength(2);
    await bed.t.db.updateTable('contacts').set({ verified_at: new Date(T0 * 1000) }).where('org_id', '=', orgId).where('bsuid', '=', bsuid).execute();
    const absorbedClient = before.find((c) => c.bsuid === bsuid)!.client_id;
    await bed.t.db.updateTable('client_preferences').set({ custom: JSON.stringify({ note: 'prefers mornings' }) }).where('client_id', '=', absorbedClient).execute();
    const deadlocksBefore = await deadlockCount(bed.t.db);

    const others = Array.from({ length: 20 }, (_, i) =>
      bsuidWebhook(number, i % 2 === 0 ? { waId } : { bsuid }, `wamid.o${i}-${waId}`, T0 + 100 + i));
    const proof = bsuidWebhook(number, { waId, bsuid, username: 'sheena' }, `wamid.proof-${waId}`, T0 + 50);
    const responses = await Promise.all([...others.slice(0, 10), proof, ...others.slice(10)].map((body) => postWebhook(bed.app, body)));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(21).fill(200));

    const after = await contactsOf(bed.t, orgId);
    expect(after).toEqual([expect.objectContaining({ e164: `+${waId}`, bsuid, username: 'sheena' })]);
    // The older contact (by number) survives, and carries the absorbed contact's verification.
    expect(after[0]!.id).toBe(before.find((c) => c.e164 !== null)!.id);
    const survivor = await bed.t.db.selectFrom('contacts').select('verified_at').where('id', '=', after[0]!.id).executeTakeFirstOrThrow();
    expect(survivor.verified_at).not.toBeNull();
    expect(await countRows(bed.t.db, 'clients', orgId)).toBe(1);
    const preferences = await bed.t.db.selectFrom('client_preferences').select(['client_id', 'custom']).where('org_id', '=', orgId).execute();
    expect(preferences).toEqual([{ client_id: after[0]!.client_id, custom: { note: 'prefers mornings' } }]);
    expect(await countRows(bed.t.db, 'threads', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'messages', orgId)).toBe(27);
    const merged = await bed.t.db.selectFrom('outbox_events').select('payload').where('org_id', '=', orgId).where('event_type', '=', 'contact.merged').execute();
    expect(merged).toEqual([{ payload: expect.objectContaining({ contact_id: after[0]!.id, merged_contact_id: before.find((c) => c.e164 === null)!.id, e164: `+${waId}`, bsuid }) }]);
    const history = await bed.t.db.selectFrom('contact_identities').select(['kind', 'value', 'reason']).where('org_id', '=', orgId).execute();
    expect(history).toEqual([{ kind: 'bsuid', value: bsuid, reason: 'merged' }]);
    expect(await deadlockCount(bed.t.db)).toBe(deadlocksBefore);
  });

  it('matches a status carrying only recipient_user_id to its message by wamid', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const bsuid = newBsuid();
    await postWebhook(bed.app, bsuidWebhook(number, { bsuid }, `wamid.s-${bsuid}`, T0));
    const thread = await bed.t.db.selectFrom('threads').select('id').where('org_id', '=', orgId).executeTakeFirstOrThrow();
    const wamid = `wamid.out-${bsuid}`;
    const messageId = await insertOutboundMessage(bed.t.db, { orgId, threadId: thread.id, phoneNumberRef: number.id, wamid, status: 'sent' });
    const status = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: number.wabaId, changes: [{ field: 'messages', value: {
        messaging_product: 'whatsapp', metadata: { display_phone_number: number.displayPhoneNumber, phone_number_id: number.phoneNumberId },
        statuses: [{ id: wamid, status: 'delivered', timestamp: String(T0 + 5), recipient_user_id: bsuid }],
      } }] }],
    });
    expect((await postWebhook(bed.app, status)).statusCode).toBe(200);
    expect(await messageStatus(bed.t.db, messageId)).toMatchObject({ status: 'delivered' });
  });
});

/** A `system` message (no contacts[]) from a sender, reporting a changed number or BSUID. */
function systemWebhook(number: TestNumber, sender: Sender, system: Record<string, unknown>, wamid: string, timestamp: number): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: number.wabaId, changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp',
      metadata: { display_phone_number: number.displayPhoneNumber, phone_number_id: number.phoneNumberId },
      messages: [{
        ...(sender.waId ? { from: sender.waId } : {}), ...(sender.bsuid ? { from_user_id: sender.bsuid } : {}),
        id: wamid, timestamp: String(timestamp), type: 'system', system,
      }],
    } }] }],
  });
}

describe('system messages that change a customer\'s identity', () => {
  const bed = useAppBed(8);

  it('user_changed_user_id moves the contact to its new BSUID, keeps the old one in its history, and later messages find it by the new one', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const [oldBsuid, newBsuidValue] = [newBsuid(), newBsuid()];
    await postWebhook(bed.app, bsuidWebhook(number, { bsuid: oldBsuid, username: 'sheena' }, `wamid.1-${oldBsuid}`, T0));
    const body = systemWebhook(number, { bsuid: oldBsuid }, { type: 'user_changed_user_id', body: 'User changed', user_id: newBsuidValue }, `wamid.2-${oldBsuid}`, T0 + 1);
    expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    await postWebhook(bed.app, bsuidWebhook(number, { bsuid: newBsuidValue }, `wamid.3-${oldBsuid}`, T0 + 2));
    expect(await contactsOf(bed.t, orgId)).toEqual([expect.objectContaining({ bsuid: newBsuidValue, username: 'sheena' })]);
    expect(await countRows(bed.t.db, 'threads', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'messages', orgId)).toBe(3);
    const history = await bed.t.db.selectFrom('contact_identities').select(['kind', 'value', 'reason']).where('org_id', '=', orgId).execute();
    expect(history).toEqual([{ kind: 'bsuid', value: oldBsuid, reason: 'user_changed_user_id' }]);
    const events = await bed.t.db.selectFrom('outbox_events').select('payload').where('org_id', '=', orgId).where('event_type', '=', 'contact.identity_changed').execute();
    expect(events).toEqual([{ payload: expect.objectContaining({ reason: 'user_changed_user_id', bsuid: newBsuidValue, previous_bsuid: oldBsuid }) }]);
  });

  it('user_changed_number gives the contact its new number, merging the contact that already had it', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const [oldWaId, newWaIdValue] = [newWaId(), newWaId()];
    await postWebhook(bed.app, bsuidWebhook(number, { waId: oldWaId }, `wamid.1-${oldWaId}`, T0));
    await postWebhook(bed.app, bsuidWebhook(number, { waId: newWaIdValue }, `wamid.2-${oldWaId}`, T0 + 1));
    const body = systemWebhook(number, { waId: oldWaId }, { type: 'user_changed_number', body: 'User changed number', wa_id: newWaIdValue }, `wamid.3-${oldWaId}`, T0 + 2);
    expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    expect(await contactsOf(bed.t, orgId)).toEqual([expect.objectContaining({ e164: `+${newWaIdValue}` })]);
    expect(await countRows(bed.t.db, 'threads', orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'messages', orgId)).toBe(3);
    const history = await bed.t.db.selectFrom('contact_identities').select(['kind', 'value', 'reason']).where('org_id', '=', orgId).orderBy('reason').execute();
    expect(history).toEqual([{ kind: 'e164', value: `+${newWaIdValue}`, reason: 'merged' }, { kind: 'e164', value: `+${oldWaId}`, reason: 'user_changed_number' }]);
  });
});

describe('POST /v1/messages and OTP to a customer known only by a BSUID', () => {
  const bed = useAppBed(8);

  it('queues a message to a BSUID given as to, on the BSUID contact\'s thread', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const { apiKey } = await createTestOperator(bed.t.db, orgId, 'admin');
    const bsuid = newBsuid();
    await postWebhook(bed.app, bsuidWebhook(number, { bsuid }, `wamid.m-${bsuid}`, Math.floor(Date.now() / 1000)));
    const response = await bed.app.inject({
      method: 'POST', url: '/v1/messages', headers: bearer(apiKey),
      payload: { from_phone_number_id: number.phoneNumberId, to: bsuid, type: 'text', text: { body: 'Hello @sheena' } },
    });
    expect(response.statusCode, response.body).toBe(202);
    const thread = await bed.t.db.selectFrom('threads').select('id').where('org_id', '=', orgId).executeTakeFirstOrThrow();
    expect(response.json()).toMatchObject({ status: 'queued', thread_id: thread.id });
    expect(await countRows(bed.t.db, 'contacts', orgId)).toBe(1);
  });

  it('refuses a BSUID as to on a Twilio number with 422 invalid_phone_number, saying Twilio needs a phone number', async () => {
    const { orgId } = await createTestOrg(bed.t.db);
    const { apiKey } = await createTestOperator(bed.t.db, orgId, 'admin');
    const twilio = await createTwilioNumber(bed.t.db, orgId);
    const response = await bed.app.inject({
      method: 'POST', url: '/v1/messages', headers: bearer(apiKey),
      payload: { from_phone_number_id: twilio.phoneNumberId, to: newBsuid(), type: 'text', text: { body: 'x' } },
    });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ error: { code: 'invalid_phone_number', message: expect.stringMatching(/Twilio/) } });
    expect(await countRows(bed.t.db, 'contacts', orgId)).toBe(0);
  });

  it('refuses a to that is neither an E.164 number nor a BSUID with 422 invalid_phone_number', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const { apiKey } = await createTestOperator(bed.t.db, orgId, 'admin');
    const response = await bed.app.inject({
      method: 'POST', url: '/v1/messages', headers: bearer(apiKey),
      payload: { from_phone_number_id: number.phoneNumberId, to: 'us.123', type: 'text', text: { body: 'x' } },
    });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ error: { code: 'invalid_phone_number' } });
  });

  it('refuses an OTP to a contact without a phone number with 422 phone_number_required, queueing nothing', async () => {
    const { orgId, number } = await newNumber(bed.t);
    const { apiKey } = await createTestOperator(bed.t.db, orgId, 'admin');
    const bsuid = newBsuid();
    await postWebhook(bed.app, bsuidWebhook(number, { bsuid }, `wamid.o-${bsuid}`, T0));
    const contact = await bed.t.db.selectFrom('contacts').select('id').where('org_id', '=', orgId).executeTakeFirstOrThrow();
    const response = await bed.app.inject({
      method: 'POST', url: `/v1/contacts/${contact.id}/otp`, headers: bearer(apiKey), payload: { from_phone_number_id: number.phoneNumberId },
    });
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ error: { code: 'phone_number_required' } });
    expect(await countRows(bed.t.db, 'message_outbox', orgId)).toBe(0);
    expect(await bed.t.db.selectFrom('otp_challenges').select('id').where('org_id', '=', orgId).execute()).toEqual([]);
  });
});
