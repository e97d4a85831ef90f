/**
 * GDPR (issue 5): export of every row about a client, erasure in one transaction that leaves no
 * row anywhere mentioning the client's number (every table is searched) but an anonymous
 * tombstone, and the retention purge of inactive clients through `wahub retention run`.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eraseClient } from '../../src/clients/gdpr.service.js';
import { purgeInactiveClients } from '../../src/clients/retention.service.js';
import { EventRelay } from '../../src/events/relay.js';
import { bearer, customerWaId, deliverInbound, inboundWamid } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { runWahub } from '../helpers/cli.js';
import {
  createTestNumber, createTestOperator, createTestOrg, signedHeaders, silentLogger, statusWebhook, type TestNumber, type TestOrg, textWebhook, uniqueDigits,
} from '../helpers/factories.js';
import { startSubscriber, type Subscriber } from '../events/helpers.js';

const bed = useAppBed(10);
let subscriber: Subscriber;

beforeAll(async () => {
  subscriber = await startSubscriber();
});
afterAll(async () => {
  await subscriber.close();
});

function call(org: TestOrg, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: Record<string, unknown>) {
  return bed.app.inject({ method, url, headers: bearer(org.apiKey), ...(payload ? { payload } : {}) });
}

async function webhook(payload: string): Promise<void> {
  const response = await bed.app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(payload), payload });
  expect(response.statusCode).toBe(200);
}

/** A customer with a bit of everything: messages both ways, a pending status, a dead letter, an OTP, terms, preferences, a block, events and deliveries. */
async function richCustomer(org: TestOrg, number: TestNumber) {
  const from = customerWaId();
  const first = await deliverInbound(bed.app, bed.t.db, number, { from, body: `call me on +${from}` });
  await deliverInbound(bed.app, bed.t.db, number, { from });
  const contact = await bed.t.db.selectFrom('threads').innerJoin('contacts', 'contacts.id', 'threads.contact_id')
    .select(['contacts.id', 'contacts.client_id']).where('threads.id', '=', first.threadId).executeTakeFirstOrThrow();
  expect((await call(org, 'POST', '/v1/messages', { thread_id: first.threadId, type: 'text', text: { body: 'hi there' } })).statusCode).toBe(202);
  await webhook(statusWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, wamid: `wamid.unknown-${from}`, status: 'delivered', recipient: from }));
  await webhook(textWebhook({ wabaId: uniqueDigits(), phoneNumberId: number.phoneNumberId, from, wamid: inboundWamid() }));
  expect((await call(org, 'POST', `/v1/contacts/${contact.id}/otp`, {})).statusCode).toBe(202);
  expect((await call(org, 'POST', `/v1/contacts/${contact.id}/terms`, { version: 'v1' })).statusCode).toBe(200);
  expect((await call(org, 'PATCH', `/v1/clients/${contact.client_id}/preferences`, { language: 'fr-FR', custom: { note: 'likes mornings' } })).statusCode).toBe(200);
  expect((await call(org, 'POST', `/v1/contacts/${contact.id}/block`, { reason: 'asked us to stop' })).statusCode).toBe(200);
  return { from, contactId: contact.id, clientId: contact.client_id, threadId: first.threadId };
}

/** Rows of every table whose text mentions `digits`. */
async function rowsMentioning(digits: string): Promise<Record<string, number>> {
  const tables = await sql<{ table_name: string }>`
    SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`.execute(bed.t.db);
  const found: Record<string, number> = {};
  for (const { table_name } of tables.rows) {
    const result = await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table_name)} x WHERE x::text LIKE ${`%${digits}%`}`.execute(bed.t.db);
    if (Number(result.rows[0]!.n) > 0) found[table_name] = Number(result.rows[0]!.n);
  }
  return found;
}

describe('GET /v1/clients/{id}/export and DELETE /v1/clients/{id}', () => {
  it('exports every row about the client, without OTP hashes', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const customer = await richCustomer(org, number);
    const response = await call(org, 'GET', `/v1/clients/${customer.clientId}/export`);
    expect(response.statusCode).toBe(200);
    const body = response.json<Record<string, unknown[] | Record<string, unknown>>>();
    expect(body.client).toMatchObject({ id: customer.clientId });
    expect(body.contacts).toMatchObject([{ id: customer.contactId, e164: `+${customer.from}`, terms_version: 'v1', blocked_reason: 'asked us to stop' }]);
    expect(body.preferences).toMatchObject({ language: 'fr-FR', custom: { note: 'likes mornings' } });
    expect((body.messages as unknown[]).length).toBe(4); // 2 inbound, 1 text, 1 OTP template
    expect((body.message_outbox as unknown[]).length).toBe(2);
    expect((body.otp_challenges as unknown[]).length).toBe(1);
    expect((body.pending_statuses as unknown[]).length).toBe(1);
    expect((body.webhook_dead_letters as unknown[]).length).toBe(1);
    expect((body.events as Array<{ event_type: string }>).map((e) => e.event_type)).toContain('contact.blocked');
    expect(response.body).not.toContain('code_hash');
    expect(response.body).not.toContain('request_hash');
  });

  it('erases the client in one transaction: no row of any table mentions its number afterwards, only an anonymous tombstone remains', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    expect((await call(org, 'POST', '/v1/event-subscriptions', { url: subscriber.url, event_types: ['*'] })).statusCode).toBe(201);
    const customer = await richCustomer(org, number);
    const other = await richCustomer(org, number);
    await new EventRelay({ db: bed.t.db, logger: silentLogger, publisher: undefined, batchSize: 100, pollIntervalMs: 10 }).drain();
    expect(Object.keys(await rowsMentioning(customer.from)).length).toBeGreaterThanOrEqual(6);

    const erased = await call(org, 'DELETE', `/v1/clients/${customer.clientId}`);
    expect(erased.statusCode).toBe(200);
    expect(erased.json()).toMatchObject({ client_id: customer.clientId, deleted: { clients: 1, contacts: 1, threads: 1, messages: 4, pending_statuses: 1, webhook_dead_letters: 1 } });

    expect(await rowsMentioning(customer.from)).toEqual({});
    const leftovers = await sql<{ n: string }>`
      SELECT (SELECT count(*) FROM contacts WHERE id = ${customer.contactId}) + (SELECT count(*) FROM otp_challenges WHERE contact_id = ${customer.contactId})
           + (SELECT count(*) FROM client_preferences WHERE client_id = ${customer.clientId})
           + (SELECT count(*) FROM outbox_events WHERE aggregate_id IN (${customer.contactId}, ${customer.threadId}) )
           + (SELECT count(*) FROM message_outbox o JOIN messages m ON m.id = o.message_id WHERE m.thread_id = ${customer.threadId}) AS n`.execute(bed.t.db);
    expect(leftovers.rows[0]!.n).toBe('0');

    const tombstones = await bed.t.db.selectFrom('outbox_events').selectAll().where('event_type', '=', 'client.erased').where('org_id', '=', org.orgId).execute();
    expect(tombstones.map((e) => e.payload)).toEqual([{ client_id: customer.clientId, contact_ids: [customer.contactId], erased_at: expect.any(String) }]);

    // The other customer of the organization is untouched.
    expect((await call(org, 'GET', `/v1/clients/${other.clientId}/export`)).json()).toMatchObject({ contacts: [{ id: other.contactId }] });
    expect(Object.keys(await rowsMentioning(other.from))).toContain('messages');
    expect((await call(org, 'DELETE', `/v1/clients/${customer.clientId}`)).statusCode).toBe(404);
  });

  it('exports a customer\'s BSUID and username, and erasure leaves no row holding its number, BSUID or username', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const customer = await richCustomer(org, number);
    const bsuid = `US.${uniqueDigits(17)}`;
    const username = `gdpr${uniqueDigits(8)}`;
    const value = (extra: Record<string, unknown>) => JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: number.wabaId, changes: [{ field: 'messages', value: {
        messaging_product: 'whatsapp', metadata: { display_phone_number: number.displayPhoneNumber, phone_number_id: number.phoneNumberId }, ...extra,
      } }] }],
    });
    // The customer's BSUID and username arrive with its number (linked), then alone; a status for an unknown wamid names only the BSUID.
    await webhook(value({
      contacts: [{ profile: { name: 'Maya', username }, wa_id: customer.from, user_id: bsuid }],
      messages: [{ from: customer.from, id: inboundWamid(), timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'hi' } }],
    }));
    await webhook(value({
      contacts: [{ profile: { name: 'Maya', username }, user_id: bsuid }],
      messages: [{ from_user_id: bsuid, id: inboundWamid(), timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'again' } }],
    }));
    await webhook(value({ statuses: [{ id: `wamid.unknown-${bsuid}`, status: 'delivered', timestamp: String(Math.floor(Date.now() / 1000)), recipient_user_id: bsuid }] }));

    const exported = (await call(org, 'GET', `/v1/clients/${customer.clientId}/export`)).json();
    expect(exported.contacts).toMatchObject([{ id: customer.contactId, e164: `+${customer.from}`, bsuid, username }]);
    expect(Object.keys(await rowsMentioning(bsuid))).toEqual(expect.arrayContaining(['contacts', 'messages', 'pending_statuses']));

    expect((await call(org, 'DELETE', `/v1/clients/${customer.clientId}`)).statusCode).toBe(200);
    expect(await rowsMentioning(customer.from)).toEqual({});
    expect(await rowsMentioning(bsuid)).toEqual({});
    expect(await rowsMentioning(username)).toEqual({});
  });

  it('answers 404 to another organization and 403 to an agent', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const customer = await richCustomer(org, number);
    const stranger = await createTestOrg(bed.t.db);
    expect((await call(stranger, 'DELETE', `/v1/clients/${customer.clientId}`)).statusCode).toBe(404);
    expect((await call(stranger, 'GET', `/v1/clients/${customer.clientId}/export`)).statusCode).toBe(404);
    const agent = await createTestOperator(bed.t.db, org.orgId, 'agent');
    const refused = await bed.app.inject({ method: 'DELETE', url: `/v1/clients/${customer.clientId}`, headers: bearer(agent.apiKey) });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect((await call(org, 'GET', `/v1/clients/${customer.clientId}/export`)).statusCode).toBe(200);
  });

  it("never exports or erases another organization's dead letter that mentions the client's number", async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const customer = await richCustomer(org, number);
    const stranger = await createTestOrg(bed.t.db);
    // Raw text only: the number appears in raw_body, not in a payload.
    await bed.t.db.insertInto('webhook_dead_letters').values({
      org_id: stranger.orgId, provider: 'meta', reason: 'invalid_json', detail: 'not JSON', raw_body: `from ${customer.from}`, dedupe_key: `stranger-${customer.from}`,
    }).execute();

    const exported = (await call(org, 'GET', `/v1/clients/${customer.clientId}/export`)).json<{ webhook_dead_letters: Array<{ raw_body: string | null }> }>();
    expect(exported.webhook_dead_letters).toHaveLength(1);
    expect(exported.webhook_dead_letters[0]!.raw_body).toBeNull();
    const erased = await call(org, 'DELETE', `/v1/clients/${customer.clientId}`);
    expect(erased.json()).toMatchObject({ deleted: { webhook_dead_letters: 1 } });
    expect(await bed.t.db.selectFrom('webhook_dead_letters').select('org_id').where('dedupe_key', '=', `stranger-${customer.from}`).execute()).toEqual([{ org_id: stranger.orgId }]);
  });
});

describe('erasure and retention under concurrency', () => {
  it('erases a client while its customer keeps writing: every webhook is stored (under a new client when it came after), nothing is orphaned', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const customer = await richCustomer(org, number);
    // Posted directly (not deliverInbound, whose read-back may find a message the erasure already removed).
    const wamids = Array.from({ length: 10 }, () => inboundWamid());
    const webhooks = wamids.map((wamid) => {
      const payload = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from: customer.from, wamid });
      return bed.app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(payload), payload });
    });
    const erase = call(org, 'DELETE', `/v1/clients/${customer.clientId}`);
    const [erased, ...stored] = await Promise.all([erase, ...webhooks]);
    expect(erased!.statusCode).toBe(200);
    expect(stored.map((response) => response.statusCode)).toEqual(Array(10).fill(200));
    expect(await bed.t.db.selectFrom('clients').select('id').where('id', '=', customer.clientId).execute()).toEqual([]);
    expect(await bed.t.db.selectFrom('contacts').select('id').where('id', '=', customer.contactId).execute()).toEqual([]);
    // Messages that committed before the erasure went with it; those after it live under a new contact.
    const survivors = await bed.t.db.selectFrom('messages').innerJoin('threads', 'threads.id', 'messages.thread_id')
      .innerJoin('contacts', 'contacts.id', 'threads.contact_id').select(['contacts.client_id'])
      .where('messages.provider_message_id', 'in', wamids).execute();
    expect(survivors.every((row) => row.client_id !== customer.clientId)).toBe(true);
  });

  it('keeps a client that became active after it was listed, and two concurrent runs erase each client once', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const active = await richCustomer(org, number);
    const cutoff = new Date(Date.now() - 30 * 24 * 60 * 60 * 1000);
    expect(await eraseClient(bed.t.db, org.orgId, active.clientId, { correlationId: null, source: 'cli' }, { onlyIfInactiveSince: cutoff })).toBeUndefined();
    expect(await bed.t.db.selectFrom('clients').select('id').where('id', '=', active.clientId).execute()).toEqual([{ id: active.clientId }]);

    const old = [await richCustomer(org, number), await richCustomer(org, number), await richCustomer(org, number), await richCustomer(org, number)];
    const oldClients = old.map((c) => c.clientId);
    await sql`UPDATE clients SET created_at = now() - interval '40 days' WHERE id = ANY(${oldClients}::uuid[])`.execute(bed.t.db);
    await sql`UPDATE contacts SET last_active_at = now() - interval '40 days' WHERE client_id = ANY(${oldClients}::uuid[])`.execute(bed.t.db);
    await sql`UPDATE threads SET last_message_at = now() - interval '40 days'
              WHERE contact_id IN (SELECT id FROM contacts WHERE client_id = ANY(${oldClients}::uuid[]))`.execute(bed.t.db);
    const runs = await Promise.all([purgeInactiveClients(bed.t.db, { inactiveDays: 30, batchSize: 1 }), purgeInactiveClients(bed.t.db, { inactiveDays: 30, batchSize: 1 })]);
    expect(runs.map((r) => r.failed)).toEqual([0, 0]);
    expect(runs[0]!.erased + runs[1]!.erased).toBe(4);
    const tombstones = await bed.t.db.selectFrom('outbox_events').select('aggregate_id').where('event_type', '=', 'client.erased').where('aggregate_id', 'in', oldClients).execute();
    expect(tombstones.length).toBe(4);
  });
});

describe('wahub retention run', () => {
  it('erases clients inactive for N days in batches with progress, and keeps active ones', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const old = [await richCustomer(org, number), await richCustomer(org, number), await richCustomer(org, number)];
    const active = await richCustomer(org, number);
    const oldClients = old.map((c) => c.clientId);
    await sql`UPDATE clients SET created_at = now() - interval '40 days' WHERE id = ANY(${[...oldClients, active.clientId]}::uuid[])`.execute(bed.t.db);
    await sql`UPDATE contacts SET last_active_at = now() - interval '40 days' WHERE client_id = ANY(${oldClients}::uuid[])`.execute(bed.t.db);
    await sql`UPDATE threads SET last_message_at = now() - interval '40 days'
              WHERE contact_id IN (SELECT id FROM contacts WHERE client_id = ANY(${oldClients}::uuid[]))`.execute(bed.t.db);

    const result = await runWahub(['retention', 'run', '--inactive-days', '30', '--batch-size', '2', '--json'], { databaseUrl: bed.t.url });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ total: 3, erased: 3, failed: 0 });
    expect(result.stderr).toContain('erased 2/3');
    expect(result.stderr).toContain('erased 3/3');
    const remaining = await bed.t.db.selectFrom('clients').select('id').where('id', 'in', [...oldClients, active.clientId]).execute();
    expect(remaining.map((r) => r.id)).toEqual([active.clientId]);
    for (const customer of old) expect(await rowsMentioning(customer.from)).toEqual({});
    const tombstones = await bed.t.db.selectFrom('outbox_events').select('aggregate_id').where('event_type', '=', 'client.erased').where('org_id', '=', org.orgId).execute();
    expect(tombstones.map((e) => e.aggregate_id).sort()).toEqual([...oldClients].sort());

    const invalid = await runWahub(['retention', 'run', '--inactive-days', '0', '--json'], { databaseUrl: bed.t.url });
    expect(invalid.code).toBe(1);
    expect(JSON.parse(invalid.stdout)).toMatchObject({ error: { code: 'validation_failed' } });
  });
});
