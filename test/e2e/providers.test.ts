/**
 * The same cases, end to end over real HTTP, for both providers (issue 8): the hub listens on a
 * port; the simulator plays Meta's Cloud API at its root and Twilio's Messages API at `/twilio`;
 * the dispatcher sends through the provider interface of each number's provider, and the simulator
 * posts signed inbound messages and status webhooks/callbacks back to the hub. Everything above the
 * provider (contacts, threads, messages, outbox, statuses) must behave the same: inbound stored once
 * per provider message id, statuses forward only, undeliverable → failed, retryable errors retried,
 * permanent ones final, Idempotency-Key honoured.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setPhoneNumberToken } from '../../src/outbound/number-queue.service.js';
import { Dispatcher } from '../../src/outbound/dispatcher.js';
import { GraphApiClient } from '../../src/providers/meta/graph.client.js';
import { TwilioMessagesClient } from '../../src/providers/twilio/messages.client.js';
import type { MessageSender, ProviderName } from '../../src/providers/types.js';
import { startSimulatorServer, type SimulatorServer } from '../../src/simulator/server.js';
import { bearer, customerWaId, waitFor } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  createTestApp, createTestNumber, createTestOrg, signedHeaders, silentLogger, statusWebhook, TEST_APP_SECRET, testCipher, textWebhook, type TestOrg,
} from '../helpers/factories.js';
import { createTwilioNumber, encodeForm, inboundParams, postTwilio, statusParams } from '../helpers/twilio.js';

let t: TestDatabase;
let app: FastifyInstance;
let hubUrl: string;
let sim: SimulatorServer;
let graph: GraphApiClient;
let twilio: TwilioMessagesClient;
let dispatcher: Dispatcher;

beforeAll(async () => {
  t = await createTestDatabase();
  // The hub is reached as 127.0.0.1:<port>; that is the public URL Twilio (the simulator) signs.
  app = await createTestApp(t.db);
  await app.listen({ port: 0, host: '127.0.0.1' });
  hubUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  sim = await startSimulatorServer({
    port: 0, webhookUrl: `${hubUrl}/webhooks/whatsapp`, appSecret: TEST_APP_SECRET, delays: { sentMs: 0, deliveredMs: 10, readMs: 20 },
    twilioInboundWebhookUrl: `${hubUrl}/webhooks/twilio`,
  });
  graph = new GraphApiClient({ baseUrl: sim.url, version: 'v24.0', timeoutMs: 5000 });
  twilio = new TwilioMessagesClient({ baseUrl: sim.twilioUrl!, timeoutMs: 5000, statusCallbackUrl: `${hubUrl}/webhooks/twilio/status` });
  dispatcher = new Dispatcher({
    db: t.db, cipher: testCipher, graph, twilio, logger: silentLogger, leaseTtlMs: 60_000, batchSize: 10, pollIntervalMs: 20, maxAttempts: 3, retryBaseMs: 10,
  });
});

afterAll(async () => {
  await sim?.close();
  await app?.close();
  await graph?.close();
  await twilio?.close();
  await t?.drop();
});

/** A business number of one provider, registered in the simulator. */
interface Setup {
  org: TestOrg;
  numberRef: string;
  /** Meta phone_number_id, or `whatsapp:+E164`. */
  phoneNumberId: string;
}

/** What a provider-neutral case needs from a provider. */
interface Harness {
  setup(): Promise<Setup>;
  /** A customer writes through the simulator (real HTTP, signed); returns the provider message id. */
  customerWrites(s: Setup, from: string, text: string): Promise<string>;
  /** Delivers one inbound text with a fixed provider message id straight to the hub (a redelivery repeats it). */
  deliverInbound(s: Setup, from: string, id: string, text: string): Promise<number>;
  /** Posts one status for an outbound message straight to the hub, signed. */
  postStatus(s: Setup, providerMessageId: string, status: 'sent' | 'delivered' | 'read', to: string): Promise<number>;
  /** The next send to `to` is accepted, then reported undeliverable by status webhook/callback. */
  failAsync(s: Setup): { code: number };
  /** The next send fails synchronously with a retryable error. */
  failRetryable(s: Setup): { code: number };
  /** The next send fails synchronously with a permanent error: the outside-the-window error. */
  failPermanent(s: Setup): { code: number };
  /** Provider message ids of the sends the simulator accepted from this number. */
  sends(s: Setup): string[];
  /** A unique inbound provider message id. */
  messageId(): string;
}

const meta: Harness = {
  async setup() {
    const org = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, org.orgId);
    sim.simulator.registerNumber(number.phoneNumberId, { waba_id: number.wabaId, display_phone_number: number.displayPhoneNumber, access_token: number.accessToken });
    return { org, numberRef: number.id, phoneNumberId: number.phoneNumberId, wabaId: number.wabaId } as Setup;
  },
  async customerWrites(s, from, text) {
    const { wamid, status } = await sim.simulator.injectInbound({ phone_number_id: s.phoneNumberId, from, profile_name: 'Maya Chen', text });
    expect(status).toBe(200);
    return wamid;
  },
  async deliverInbound(s, from, id, text) {
    const payload = textWebhook({ wabaId: (s as Setup & { wabaId: string }).wabaId, phoneNumberId: s.phoneNumberId, from, wamid: id, body: text, name: 'Maya Chen' });
    return (await app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(payload), payload })).statusCode;
  },
  async postStatus(s, providerMessageId, status, to) {
    const payload = statusWebhook({ wabaId: (s as Setup & { wabaId: string }).wabaId, phoneNumberId: s.phoneNumberId, wamid: providerMessageId, status, recipient: to });
    return (await app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(payload), payload })).statusCode;
  },
  failAsync: (s) => (sim.simulator.injectFailure({ phone_number_id: s.phoneNumberId, code: 131026, mode: 'webhook' }), { code: 131026 }),
  failRetryable: (s) => (sim.simulator.injectFailure({ phone_number_id: s.phoneNumberId, code: 131000, mode: 'sync' }), { code: 131000 }),
  failPermanent: (s) => (sim.simulator.injectFailure({ phone_number_id: s.phoneNumberId, code: 131047, mode: 'sync' }), { code: 131047 }),
  sends: (s) => sim.simulator.sends().filter((send) => send.phone_number_id === s.phoneNumberId).map((send) => send.wamid!),
  messageId: () => `wamid.e2e-${customerWaId()}`,
};

const twilioHarness: Harness = {
  async setup() {
    const org = await createTestOrg(t.db);
    const number = await createTwilioNumber(t.db, org.orgId);
    sim.twilio!.registerSender(number.e164, { account_sid: number.accountSid, auth_token: number.authToken });
    return { org, numberRef: number.id, phoneNumberId: number.phoneNumberId, number } as Setup;
  },
  async customerWrites(s, from, text) {
    const { sid, status } = await sim.twilio!.injectInbound({ to: s.phoneNumberId.replace(/^whatsapp:/, ''), from, profile_name: 'Maya Chen', text });
    expect(status).toBe(200);
    return sid;
  },
  async deliverInbound(s, from, id, text) {
    const number = (s as Setup & { number: Parameters<typeof inboundParams>[0] }).number;
    return (await postTwilio(app, { body: encodeForm(inboundParams(number, { from, sid: id, body: text })), authToken: number.authToken, baseUrl: 'http://localhost:80' })).statusCode;
  },
  async postStatus(s, providerMessageId, status, to) {
    const number = (s as Setup & { number: Parameters<typeof statusParams>[0] }).number;
    const body = encodeForm(statusParams(number, { sid: providerMessageId, status, to }));
    return (await postTwilio(app, { path: '/webhooks/twilio/status', body, authToken: number.authToken, baseUrl: 'http://localhost:80' })).statusCode;
  },
  failAsync: (s) => (sim.twilio!.injectFailure({ from: s.phoneNumberId.replace(/^whatsapp:/, ''), code: 63024, mode: 'callback', status: 'undelivered' }), { code: 63024 }),
  failRetryable: (s) => (sim.twilio!.injectFailure({ from: s.phoneNumberId.replace(/^whatsapp:/, ''), code: 20429, mode: 'sync' }), { code: 20429 }),
  failPermanent: (s) => (sim.twilio!.injectFailure({ from: s.phoneNumberId.replace(/^whatsapp:/, ''), code: 63016, mode: 'sync' }), { code: 63016 }),
  sends: (s) => sim.twilio!.sends().filter((send) => send.from === s.phoneNumberId).map((send) => send.sid),
  messageId: () => `SM${customerWaId().padEnd(32, '0')}`,
};

const HARNESSES: Record<ProviderName, Harness> = { meta, twilio: twilioHarness };

async function queue(s: Setup, payload: Record<string, unknown>, idempotencyKey?: string) {
  const headers = bearer(s.org.apiKey, idempotencyKey ? { 'idempotency-key': idempotencyKey } : {});
  return app.inject({ method: 'POST', url: '/v1/messages', headers, payload });
}

async function queued(s: Setup, payload: Record<string, unknown>): Promise<string> {
  const response = await queue(s, payload);
  expect(response.statusCode, response.body).toBe(202);
  return response.json().id;
}

async function messageRow(id: string) {
  return t.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function outboxRow(messageId: string) {
  return t.db.selectFrom('message_outbox').selectAll().where('message_id', '=', messageId).executeTakeFirstOrThrow();
}

async function threadOf(s: Setup, providerMessageId: string): Promise<string> {
  const row = await t.db.selectFrom('messages').select('thread_id').where('org_id', '=', s.org.orgId).where('provider_message_id', '=', providerMessageId).executeTakeFirstOrThrow();
  return row.thread_id;
}

/** Runs dispatcher rounds until `probe` holds. */
async function drive<T>(probe: () => Promise<T | undefined | null | false>, what: string): Promise<T> {
  return waitFor(async () => {
    await dispatcher.runOnce();
    return probe();
  }, what, 10_000);
}

describe.each(['meta', 'twilio'] as const)('%s number end to end through the simulator', (provider) => {
  const h = HARNESSES[provider];

  it('files an inbound message under one contact and thread, and stores a redelivery once', async () => {
    const s = await h.setup();
    const from = customerWaId();
    const id = h.messageId();
    expect(await h.deliverInbound(s, from, id, 'first')).toBe(200);
    expect(await h.deliverInbound(s, from, id, 'first')).toBe(200);
    await h.customerWrites(s, from, 'second');

    const rows = await t.db.selectFrom('messages').select(['provider_message_id', 'thread_id', 'type', 'content']).where('org_id', '=', s.org.orgId).execute();
    expect(rows).toHaveLength(2);
    expect(rows.filter((row) => row.provider_message_id === id)).toHaveLength(1);
    expect(new Set(rows.map((row) => row.thread_id)).size).toBe(1);
    expect(rows.map((row) => row.content).sort((a, b) => String(a.body).localeCompare(String(b.body)))).toEqual([{ body: 'first' }, { body: 'second' }]);
    const contacts = await t.db.selectFrom('contacts').select(['e164', 'profile_name']).where('org_id', '=', s.org.orgId).execute();
    expect(contacts).toEqual([{ e164: `+${from}`, profile_name: 'Maya Chen' }]);
  });

  it('sends a reply once through the provider, records its message id and ends at read', async () => {
    const s = await h.setup();
    const from = customerWaId();
    const threadId = await threadOf(s, await h.customerWrites(s, from, 'Where is my order?'));
    const id = await queued(s, { thread_id: threadId, type: 'text', text: { body: 'It ships today' } });

    const providerId = await drive(async () => (await messageRow(id)).provider_message_id, 'provider message id recorded');
    await waitFor(async () => (await messageRow(id)).status === 'read', 'status read');
    expect(h.sends(s)).toEqual([providerId]);
    expect(await outboxRow(id)).toMatchObject({ state: 'done', attempts: 1 });
  });

  it('moves statuses forward only: sent and delivered after read change nothing', async () => {
    const s = await h.setup();
    const from = customerWaId();
    const threadId = await threadOf(s, await h.customerWrites(s, from, 'hi'));
    const id = await queued(s, { thread_id: threadId, type: 'text', text: { body: 'hello' } });
    const providerId = await drive(async () => (await messageRow(id)).provider_message_id, 'sent');
    await waitFor(async () => (await messageRow(id)).status === 'read', 'status read');

    for (const status of ['delivered', 'sent'] as const) expect(await h.postStatus(s, providerId, status, from)).toBe(200);
    expect(await messageRow(id)).toMatchObject({ status: 'read', error_code: null });
  });

  it('marks a message failed with the provider\'s code when it is reported undeliverable after acceptance', async () => {
    const s = await h.setup();
    const from = customerWaId();
    const threadId = await threadOf(s, await h.customerWrites(s, from, 'hi'));
    const { code } = h.failAsync(s);
    const id = await queued(s, { thread_id: threadId, type: 'text', text: { body: 'will not arrive' } });

    await drive(async () => (await outboxRow(id)).state === 'done', 'send accepted');
    const failed = await waitFor(async () => {
      const row = await messageRow(id);
      return row.status === 'failed' && row;
    }, 'failed status applied');
    expect(failed).toMatchObject({ error_code: code, provider_message_id: h.sends(s)[0] });
    // A late success report cannot bring it back.
    expect(await h.postStatus(s, failed.provider_message_id!, 'read', from)).toBe(200);
    expect((await messageRow(id)).status).toBe('failed');
  });

  it('retries a rate-limited send and delivers it once', async () => {
    const s = await h.setup();
    const threadId = await threadOf(s, await h.customerWrites(s, customerWaId(), 'hi'));
    const { code } = h.failRetryable(s);
    const id = await queued(s, { thread_id: threadId, type: 'text', text: { body: 'after a pause' } });

    await drive(async () => (await outboxRow(id)).state === 'done', 'sent after a retry');
    const outbox = await outboxRow(id);
    expect(outbox.attempts).toBe(2);
    expect(outbox.last_error).toMatchObject({ code, class: 'retryable' });
    expect(h.sends(s)).toHaveLength(1);
  });

  it('fails a send refused as outside the customer service window, without retrying', async () => {
    const s = await h.setup();
    const threadId = await threadOf(s, await h.customerWrites(s, customerWaId(), 'hi'));
    const { code } = h.failPermanent(s);
    const id = await queued(s, { thread_id: threadId, type: 'text', text: { body: 'too late' } });

    await drive(async () => (await outboxRow(id)).state === 'failed', 'failed');
    expect(await messageRow(id)).toMatchObject({ status: 'failed', error_code: code, provider_message_id: null });
    expect(await outboxRow(id)).toMatchObject({ attempts: 1 });
    expect(h.sends(s)).toEqual([]);
  });

  it('answers a retried POST /v1/messages with the same message and sends it once', async () => {
    const s = await h.setup();
    const threadId = await threadOf(s, await h.customerWrites(s, customerWaId(), 'hi'));
    const payload = { thread_id: threadId, type: 'text', text: { body: 'once' } };
    const [first, second] = [await queue(s, payload, `key-${provider}`), await queue(s, payload, `key-${provider}`)];
    expect(first.statusCode).toBe(202);
    expect(second.json()).toEqual(first.json());
    expect((await queue(s, { ...payload, text: { body: 'other' } }, `key-${provider}`)).statusCode).toBe(409);

    const id = first.json().id as string;
    await drive(async () => (await outboxRow(id)).state === 'done', 'sent');
    expect(h.sends(s)).toHaveLength(1);
  });
});

describe('Twilio sends', () => {
  it('sends a template as ContentSid + ContentVariables and media as MediaUrl, with the StatusCallback', async () => {
    const s = await twilioHarness.setup();
    const to = `+${customerWaId()}`;
    const template = {
      type: 'template',
      template: { name: 'HX0123456789abcdef0123456789abcdef', language: { code: 'en' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'Maya' }, { type: 'text', text: '4512' }] }] },
    };
    const templateId = await queued(s, { from_phone_number_id: s.phoneNumberId, to, ...template });
    await drive(async () => (await outboxRow(templateId)).state === 'done', 'template sent');
    const threadId = (await messageRow(templateId)).thread_id;
    await twilioHarness.customerWrites(s, to.slice(1), 'thanks');
    const imageId = await queued(s, { thread_id: threadId, type: 'image', image: { link: 'https://cdn.example.test/receipt.png', caption: 'Receipt' } });
    await drive(async () => (await outboxRow(imageId)).state === 'done', 'image sent');

    const sends = sim.twilio!.sends().filter((send) => send.from === s.phoneNumberId);
    expect(sends.map((send) => send.params)).toEqual([
      {
        To: `whatsapp:${to}`, From: s.phoneNumberId, ContentSid: 'HX0123456789abcdef0123456789abcdef',
        ContentVariables: JSON.stringify({ 1: 'Maya', 2: '4512' }), StatusCallback: `${hubUrl}/webhooks/twilio/status`,
      },
      { To: `whatsapp:${to}`, From: s.phoneNumberId, Body: 'Receipt', MediaUrl: 'https://cdn.example.test/receipt.png', StatusCallback: `${hubUrl}/webhooks/twilio/status` },
    ]);
    expect(sends[1]!.sid).toMatch(/^MM/);
  });

  it('fails, without calling Twilio, what its Messages API cannot express', async () => {
    const s = await twilioHarness.setup();
    const inbound = await twilioHarness.customerWrites(s, customerWaId(), 'hi');
    const threadId = await threadOf(s, inbound);
    const reaction = await queued(s, { thread_id: threadId, type: 'reaction', reaction: { message_id: inbound, emoji: '👍' } });
    const metaTemplate = await queued(s, { thread_id: threadId, type: 'template', template: { name: 'order_update', language: { code: 'en_US' } } });
    await drive(async () => (await outboxRow(reaction)).state === 'failed' && (await outboxRow(metaTemplate)).state === 'failed', 'both failed');
    expect((await messageRow(reaction)).error_title).toBe('reaction messages cannot be sent through Twilio\'s Messages API');
    expect((await messageRow(metaTemplate)).error_title).toMatch(/Content SID/);
    expect(twilioHarness.sends(s)).toEqual([]);
  });

  it('ends at read when every status callback arrives before the MessageSid is recorded', async () => {
    // The real send happens; the sender then holds the result until the hub has parked all three
    // callbacks in pending_statuses, so the dispatcher records the SID strictly after them.
    const pending = async (sid: string) => (await t.db.selectFrom('pending_statuses').select('status').where('provider_message_id', '=', sid).execute()).length;
    const statusesFirst: MessageSender = {
      async sendMessage(request) {
        const result = await twilio.sendMessage(request);
        if (result.ok && result.providerMessageId) {
          const sid = result.providerMessageId;
          await waitFor(async () => (await pending(sid)) === 3, 'sent, delivered and read parked as pending');
        }
        return result;
      },
    };
    const racing = new Dispatcher({
      db: t.db, cipher: testCipher, graph, twilio: statusesFirst, logger: silentLogger, leaseTtlMs: 60_000, batchSize: 10, pollIntervalMs: 20, maxAttempts: 3, retryBaseMs: 10,
    });
    const s = await twilioHarness.setup();
    const threadId = await threadOf(s, await twilioHarness.customerWrites(s, customerWaId(), 'hi'));
    const id = await queued(s, { thread_id: threadId, type: 'text', text: { body: 'racing' } });

    expect(await racing.runOnce()).toBe(1);
    const [sid] = twilioHarness.sends(s);
    expect(await messageRow(id)).toMatchObject({ status: 'read', provider_message_id: sid });
    expect(await pending(sid!)).toBe(0);
  });

  it('parks the number when Twilio refuses its credentials (20003), and set-token resumes it', async () => {
    const s = await twilioHarness.setup();
    sim.twilio!.registerSender(s.phoneNumberId.replace(/^whatsapp:/, ''), { account_sid: (s as Setup & { number: { accountSid: string } }).number.accountSid, auth_token: 'rotated-in-console' });
    const id = await queued(s, { from_phone_number_id: s.phoneNumberId, to: `+${customerWaId()}`, type: 'template', template: { name: 'HX0123456789abcdef0123456789abcdef', language: { code: 'en' } } });
    await drive(async () => (await outboxRow(id)).state === 'parked', 'parked');
    expect((await outboxRow(id)).last_error).toMatchObject({ code: 20003, class: 'reauth' });
    const number = await t.db.selectFrom('phone_numbers').select('status').where('id', '=', s.numberRef).executeTakeFirstOrThrow();
    expect(number.status).toBe('reauth_required');

    const replaced = await setPhoneNumberToken(t.db, testCipher, { orgId: s.org.orgId, phoneNumberId: s.phoneNumberId, accessToken: 'rotated-in-console' });
    expect(replaced).toEqual({ id: s.numberRef, status: 'active', resumed: 1 });
    await drive(async () => (await outboxRow(id)).state === 'done', 'sent with the new token');
    expect(twilioHarness.sends(s)).toHaveLength(1);
  });
});
