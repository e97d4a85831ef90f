/**
 * Terms and registration, blocking, last activity, and client preferences (issue 5 "End users").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, deliverInbound } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestNumber, createTestOrg, type TestNumber, type TestOrg } from '../helpers/factories.js';
import { eventsOf } from '../events/helpers.js';
import { codeOf, createCapturingApp, createCustomer, type CapturingApp } from './helpers.js';

let t: TestDatabase;
let capturing: CapturingApp;

beforeAll(async () => {
  t = await createTestDatabase(10);
  capturing = await createCapturingApp(t.db);
});
afterAll(async () => {
  await capturing.app.close();
  await t.drop();
});

async function setUp(): Promise<{ org: TestOrg; number: TestNumber; customer: Awaited<ReturnType<typeof createCustomer>> }> {
  const org = await createTestOrg(t.db);
  const number = await createTestNumber(t.db, org.orgId);
  return { org, number, customer: await createCustomer(capturing.app, t.db, number) };
}

function post(org: TestOrg, url: string, payload: unknown = {}) {
  return capturing.app.inject({ method: 'POST', url, headers: bearer(org.apiKey), payload: payload as Record<string, unknown> });
}

async function verifyByOtp(org: TestOrg, contactId: string): Promise<void> {
  const sent = await post(org, `/v1/contacts/${contactId}/otp`);
  const code = await codeOf(t.db, sent.json<{ message_id: string }>().message_id);
  expect((await post(org, `/v1/contacts/${contactId}/otp/verify`, { code })).statusCode).toBe(200);
}

describe('terms and registration', () => {
  it('registers a contact once it is verified and has accepted terms (terms first)', async () => {
    const { org, customer } = await setUp();
    const terms = await post(org, `/v1/contacts/${customer.contactId}/terms`, { version: '2026-01' });
    expect(terms.statusCode).toBe(200);
    expect(terms.json()).toMatchObject({ terms_version: '2026-01', terms_accepted_at: expect.any(String), registered_at: null });
    await verifyByOtp(org, customer.contactId);
    const contact = await capturing.app.inject({ method: 'GET', url: `/v1/contacts/${customer.contactId}`, headers: bearer(org.apiKey) });
    expect(contact.json()).toMatchObject({ verified_at: expect.any(String), registered_at: expect.any(String) });
    const types = (await eventsOf(t.db, org.orgId)).filter((e) => e.aggregate_id === customer.contactId).map((e) => e.event_type);
    expect(types).toEqual(['contact.created', 'user.terms_accepted', 'user.verified', 'user.registered']);
  });

  it('registers at terms acceptance when the contact was verified first, and only once', async () => {
    const { org, customer } = await setUp();
    await verifyByOtp(org, customer.contactId);
    const first = await post(org, `/v1/contacts/${customer.contactId}/terms`, { version: 'v1' });
    expect(first.json()).toMatchObject({ registered_at: expect.any(String) });
    const second = await post(org, `/v1/contacts/${customer.contactId}/terms`, { version: 'v2' });
    expect(second.json()).toMatchObject({ terms_version: 'v2', registered_at: first.json<{ registered_at: string }>().registered_at });
    const registered = (await eventsOf(t.db, org.orgId)).filter((e) => e.event_type === 'user.registered');
    expect(registered.length).toBe(1);
    expect((await post(org, `/v1/contacts/${customer.contactId}/terms`, {})).statusCode).toBe(400);
  });

  it('updates last_active_at on every inbound message', async () => {
    const { org, number, customer } = await setUp();
    const before = await t.db.selectFrom('contacts').select('last_active_at').where('id', '=', customer.contactId).executeTakeFirstOrThrow();
    await deliverInbound(capturing.app, t.db, number, { from: customer.from, timestamp: Math.floor(Date.now() / 1000) + 60 });
    const after = await t.db.selectFrom('contacts').select('last_active_at').where('id', '=', customer.contactId).executeTakeFirstOrThrow();
    expect(after.last_active_at!.getTime()).toBeGreaterThan(before.last_active_at!.getTime());
    void org;
  });
});

describe('blocking', () => {
  it('refuses sends and OTPs to a blocked contact, stores its messages flagged without events, and unblocks', async () => {
    const { org, number, customer } = await setUp();
    const blocked = await post(org, `/v1/contacts/${customer.contactId}/block`, { reason: 'abuse' });
    expect(blocked.json()).toMatchObject({ blocked_at: expect.any(String), blocked_reason: 'abuse' });
    expect((await post(org, `/v1/contacts/${customer.contactId}/block`, { reason: 'again' })).json()).toMatchObject({ blocked_reason: 'abuse' });

    const send = await post(org, '/v1/messages', { thread_id: customer.threadId, type: 'text', text: { body: 'hello' } });
    expect(send.statusCode).toBe(422);
    expect(send.json()).toMatchObject({ error: { code: 'contact_blocked' } });
    const template = await post(org, '/v1/messages', {
      from_phone_number_id: number.phoneNumberId, to: customer.e164, type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } },
    });
    expect(template.json()).toMatchObject({ error: { code: 'contact_blocked' } });
    expect((await post(org, `/v1/contacts/${customer.contactId}/otp`)).json()).toMatchObject({ error: { code: 'contact_blocked' } });

    const before = (await eventsOf(t.db, org.orgId)).length;
    const inbound = await deliverInbound(capturing.app, t.db, number, { from: customer.from });
    const stored = await t.db.selectFrom('messages').select(['from_blocked_contact']).where('id', '=', inbound.messageId).executeTakeFirstOrThrow();
    expect(stored.from_blocked_contact).toBe(true);
    expect((await eventsOf(t.db, org.orgId)).length).toBe(before);
    const blockedEvents = (await eventsOf(t.db, org.orgId)).filter((e) => e.event_type === 'contact.blocked');
    expect(blockedEvents.map((e) => e.payload)).toEqual([{ contact_id: customer.contactId, client_id: customer.clientId, reason: 'abuse' }]);

    const unblocked = await post(org, `/v1/contacts/${customer.contactId}/unblock`);
    expect(unblocked.json()).toMatchObject({ blocked_at: null, blocked_reason: null });
    expect((await post(org, '/v1/messages', { thread_id: customer.threadId, type: 'text', text: { body: 'hello' } })).statusCode).toBe(202);
    const next = await deliverInbound(capturing.app, t.db, number, { from: customer.from });
    expect((await eventsOf(t.db, org.orgId)).some((e) => e.event_type === 'message.received' && e.aggregate_id === next.messageId)).toBe(true);
  });

  it('answers 404 for another organization\'s contact', async () => {
    const { customer } = await setUp();
    const other = await createTestOrg(t.db);
    expect((await post(other, `/v1/contacts/${customer.contactId}/block`)).statusCode).toBe(404);
    expect((await post(other, `/v1/contacts/${customer.contactId}/otp`)).statusCode).toBe(404);
  });
});

describe('GET/PATCH /v1/clients/{id}/preferences', () => {
  it('creates one row per client with the defaults, validates language tags and IANA time zones, and keeps one row per client', async () => {
    const { org, customer } = await setUp();
    const url = `/v1/clients/${customer.clientId}/preferences`;
    const defaults = await capturing.app.inject({ method: 'GET', url, headers: bearer(org.apiKey) });
    expect(defaults.json()).toEqual({
      client_id: customer.clientId, notifications_enabled: true, language: 'en-GB', timezone: 'Europe/London', custom: {}, updated_at: expect.any(String),
    });
    // The row exists from the moment the client was created (first inbound message).
    expect((await t.db.selectFrom('client_preferences').select('client_id').where('client_id', '=', customer.clientId).execute()).length).toBe(1);
    const patch = (payload: unknown) => capturing.app.inject({ method: 'PATCH', url, headers: bearer(org.apiKey), payload: payload as Record<string, unknown> });

    const changed = await patch({ language: 'pt-br', timezone: 'America/Sao_Paulo', custom: { vip: true } });
    expect(changed.json()).toMatchObject({ language: 'pt-BR', timezone: 'America/Sao_Paulo', custom: { vip: true }, notifications_enabled: true });
    expect((await patch({ notifications_enabled: false })).json()).toMatchObject({ notifications_enabled: false, language: 'pt-BR', custom: { vip: true } });
    expect((await patch({ timezone: 'UTC' })).json()).toMatchObject({ timezone: 'UTC' });

    for (const bad of [{ language: 'not a tag!' }, { timezone: 'Mars/Olympus_Mons' }, { timezone: '+01:00' }, {}, { custom: [1] }, { colour: 'red' }]) {
      const response = await patch(bad);
      expect(response.statusCode, JSON.stringify(bad)).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'validation_failed' } });
    }
    const rows = await t.db.selectFrom('client_preferences').selectAll().where('client_id', '=', customer.clientId).execute();
    expect(rows.length).toBe(1);

    const other = await createTestOrg(t.db);
    expect((await capturing.app.inject({ method: 'GET', url, headers: bearer(other.apiKey) })).statusCode).toBe(404);
  });
});
