import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { verifyMetaSignature } from '../../src/providers/meta/signature.js';
import { parseMetaWebhook } from '../../src/providers/meta/webhook.parser.js';
import { startSimulatorServer, type SimulatorServer } from '../../src/simulator/server.js';

const APP_SECRET = 'simulator-test-secret';
const TOKEN = 'token-phone-1';
const PHONE_1 = '200000000000001';
const WABA_1 = '100000000000001';
const PHONE_OPEN = '200000000000002'; // registered without an access token: any bearer works

interface ReceivedWebhook { raw: Buffer; json: any; signatureValid: boolean; answered: number }

/** A hub stand-in: records every webhook POST and answers with queued statuses, then 200. */
function startReceiver(): Promise<{ server: Server; url: string; received: ReceivedWebhook[]; answers: number[] }> {
  const received: ReceivedWebhook[] = [];
  const answers: number[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const answered = answers.shift() ?? 200;
      received.push({ raw, json: JSON.parse(raw.toString('utf8')), signatureValid: verifyMetaSignature(APP_SECRET, raw, req.headers['x-hub-signature-256']), answered });
      res.writeHead(answered).end();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => {
    resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/meta`, received, answers });
  }));
}

async function waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let receiver: Awaited<ReturnType<typeof startReceiver>>;
let sim: SimulatorServer;

async function call(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown, token: string | null = TOKEN) {
  const res = await request(`${sim.url}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.body.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* plain body */ }
  return { status: res.statusCode, json, text };
}
const send = (body: unknown, phone = PHONE_1, token: string | null = TOKEN) => call('POST', `/v23.0/${phone}/messages`, body, token);
const textTo = (to: string, body = 'Hello from wahub') => ({ messaging_product: 'whatsapp', recipient_type: 'individual', to, type: 'text', text: { body } });
const statusesOf = (wamid: string) => receiver.received
  .flatMap((w) => (w.answered === 200 ? w.json.entry[0].changes[0].value.statuses ?? [] : []))
  .filter((s: any) => s.id === wamid);

beforeAll(async () => {
  receiver = await startReceiver();
  sim = await startSimulatorServer({
    port: 0, webhookUrl: receiver.url, appSecret: APP_SECRET,
    delays: { sentMs: 0, deliveredMs: 10, readMs: 20 }, webhookRetry: { attempts: 5, baseDelayMs: 10 },
  });
  expect((await call('PUT', `/_simulator/numbers/${PHONE_1}`, { waba_id: WABA_1, display_phone_number: '15550100001', access_token: TOKEN })).status).toBe(200);
  expect((await call('PUT', `/_simulator/numbers/${PHONE_OPEN}`, { waba_id: '100000000000002', display_phone_number: '15550100002' })).status).toBe(200);
});

afterEach(async () => {
  await sim.simulator.whenIdle();
  receiver.received.length = 0;
  receiver.answers.length = 0;
});

afterAll(async () => {
  await sim?.close();
  await new Promise((r) => receiver?.server.close(r));
});

describe('POST /:version/:phone_number_id/messages', () => {
  it('accepts a text and posts signed sent, delivered, read webhooks in order', async () => {
    const res = await send(textTo('+14155550123'));
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ messaging_product: 'whatsapp', contacts: [{ input: '+14155550123', wa_id: '14155550123' }], messages: [{ id: expect.stringMatching(/^wamid\./) }] });
    const wamid = res.json.messages[0].id;
    await waitFor(() => statusesOf(wamid).length === 3, 'three statuses');
    expect(statusesOf(wamid).map((s: any) => s.status)).toEqual(['sent', 'delivered', 'read']);
    for (const webhook of receiver.received) {
      expect(webhook.signatureValid).toBe(true);
      expect(webhook.json.entry[0].id).toBe(WABA_1);
      expect(webhook.json.entry[0].changes[0].value.metadata).toEqual({ display_phone_number: '15550100001', phone_number_id: PHONE_1 });
    }
    const [sent] = statusesOf(wamid);
    expect(sent).toMatchObject({ recipient_id: '14155550123', timestamp: expect.stringMatching(/^\d+$/), pricing: { pricing_model: 'PMP' } });
    const items = parseMetaWebhook(receiver.received[0]!.json);
    expect(items).toEqual([expect.objectContaining({ kind: 'status', providerMessageId: wamid, status: 'sent', wabaId: WABA_1, phoneNumberId: PHONE_1 })]);
    expect((await call('GET', '/_simulator/sends')).json.sends).toContainEqual(expect.objectContaining({ phone_number_id: PHONE_1, to: '+14155550123', type: 'text', wamid }));
  });

  it('answers 401 code 190 for a wrong or missing token', async () => {
    for (const token of ['not-the-token', null]) {
      const res = await send(textTo('+14155550123'), PHONE_1, token);
      expect(res.status).toBe(401);
      expect(res.json.error).toMatchObject({ code: 190, type: 'OAuthException', message: expect.stringContaining('Invalid OAuth access token') });
    }
  });

  it('answers 400 code 100 subcode 33 for an unknown phone number id', async () => {
    const res = await send(textTo('+14155550123'), '999999999999999');
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 100, error_subcode: 33, message: expect.stringContaining("Object with ID '999999999999999' does not exist") });
  });

  it('answers 400 code 100 naming the problem for an invalid body', async () => {
    const res = await send(textTo('+14155550123', 'x'.repeat(4097)));
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 100, message: '(#100) Invalid parameter', error_data: { details: expect.stringContaining('text.body') } });
    const noJson = await call('POST', `/v23.0/${PHONE_1}/messages`, undefined);
    expect(noJson.status).toBe(400);
  });

  it('answers a template with message_status accepted, a reaction with only sent, a read receipt with success', async () => {
    const template = await send({ messaging_product: 'whatsapp', to: '+447700900123', type: 'template', template: { name: 'order_update', language: { code: 'en_GB' } } }, PHONE_OPEN, 'any');
    expect(template.json.messages[0]).toEqual({ id: expect.any(String), message_status: 'accepted' });
    const reaction = await send({ messaging_product: 'whatsapp', to: '+447700900123', type: 'reaction', reaction: { message_id: 'wamid.IN', emoji: '\u{1F44D}' } }, PHONE_OPEN, 'any');
    const read = await send({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.IN' }, PHONE_OPEN, 'any');
    expect(read).toMatchObject({ status: 200, json: { success: true } });
    await sim.simulator.whenIdle();
    expect(statusesOf(reaction.json.messages[0].id).map((s: any) => s.status)).toEqual(['sent']);
    expect(statusesOf(template.json.messages[0].id)).toHaveLength(3);
    expect(receiver.received).toHaveLength(4);
  });
});

describe('failure injection', () => {
  it('fails the next matching send synchronously with the code, then recovers', async () => {
    await call('POST', '/_simulator/failures', { phone_number_id: PHONE_1, to: '+5511987654321', code: 131047 });
    const other = await send(textTo('+14155550123'));
    expect(other.status).toBe(200);
    const failed = await send(textTo('+5511987654321'));
    expect(failed.status).toBe(400);
    expect(failed.json.error).toMatchObject({ code: 131047, message: '(#131047) Re-engagement message', error_data: { messaging_product: 'whatsapp' } });
    expect((await send(textTo('+5511987654321'))).status).toBe(200);
  });

  it('accepts the send and posts a failed status in webhook mode', async () => {
    await call('POST', '/_simulator/failures', { to: '+919812345678', code: 131026, mode: 'webhook' });
    const res = await send(textTo('+919812345678'));
    expect(res.status).toBe(200);
    const wamid = res.json.messages[0].id;
    await sim.simulator.whenIdle();
    expect(statusesOf(wamid)).toEqual([expect.objectContaining({
      status: 'failed', recipient_id: '919812345678',
      errors: [expect.objectContaining({ code: 131026, title: 'Message undeliverable', error_data: { details: expect.any(String) } })],
    })]);
  });

  it('answers a plain 503 when only http_status is injected', async () => {
    await call('POST', '/_simulator/failures', { http_status: 503, count: 2 });
    expect((await send(textTo('+14155550123'))).status).toBe(503);
    expect((await send(textTo('+14155550123'))).status).toBe(503);
    expect((await send(textTo('+14155550123'))).status).toBe(200);
  });

  it('refuses a failure without code or http_status', async () => {
    const res = await call('POST', '/_simulator/failures', { to: '+1' });
    expect(res.status).toBe(400);
    expect(res.json.error).toContain('code is required');
  });
});

describe('webhook delivery', () => {
  it('retries a webhook the hub answered 500 until it gets 200', async () => {
    receiver.answers.push(500);
    const res = await send(textTo('+14155550123'));
    const wamid = res.json.messages[0].id;
    await sim.simulator.whenIdle();
    const posts = receiver.received.filter((w) => w.json.entry[0].changes[0].value.statuses[0].id === wamid);
    expect(posts.map((w) => [w.json.entry[0].changes[0].value.statuses[0].status, w.answered]))
      .toEqual([['sent', 500], ['sent', 200], ['delivered', 200], ['read', 200]]);
    expect(posts[0]!.raw.equals(posts[1]!.raw)).toBe(true);
  });

  it('posts an injected inbound text as a signed messages webhook the parser accepts', async () => {
    const res = await call('POST', '/_simulator/inbound', { phone_number_id: PHONE_1, from: '14155550123', profile_name: 'Maya Chen', text: 'Caf\u00e9 ol\u00e9 \u{1F600}' });
    expect(res.json).toEqual({ wamid: expect.stringMatching(/^wamid\./), status: 200 });
    const [webhook] = receiver.received;
    expect(webhook!.signatureValid).toBe(true);
    expect(webhook!.raw.toString('utf8')).toContain('Caf\\u00e9'); // escaped like Meta
    const items = parseMetaWebhook(webhook!.json);
    expect(items).toEqual([expect.objectContaining({
      kind: 'message', wabaId: WABA_1, phoneNumberId: PHONE_1, waId: '14155550123', profileName: 'Maya Chen',
      providerMessageId: res.json.wamid, type: 'text',
    })]);
    expect(webhook!.json.entry[0].changes[0].value.messages[0].text.body).toBe('Caf\u00e9 ol\u00e9 \u{1F600}');
  });

  it('posts a raw inbound messages[] item as given', async () => {
    const message = { type: 'reaction', reaction: { message_id: 'wamid.OUT', emoji: '\u{1F44D}' } };
    const result = await sim.simulator.injectInbound({ phone_number_id: PHONE_1, from: '447700900123', message });
    expect(result.status).toBe(200);
    expect(receiver.received[0]!.json.entry[0].changes[0].value.messages[0]).toEqual({ from: '447700900123', id: result.wamid, timestamp: expect.any(String), ...message });
  });

  it('sends user_id in every messages webhook, and a username-only customer without from or wa_id', async () => {
    await sim.simulator.injectInbound({ phone_number_id: PHONE_1, from: '447700900123', text: 'hi' });
    const result = await sim.simulator.injectInbound({ phone_number_id: PHONE_1, user_id: 'GB.502576394655843', username: 'oliver', profile_name: 'Oliver', text: 'hi' });
    expect(result.status).toBe(200);
    const [withNumber, usernameOnly] = receiver.received.map((w) => w.json.entry[0].changes[0].value);
    expect(withNumber.contacts[0]).toEqual({ profile: { name: 'Simulated Customer' }, wa_id: '447700900123', user_id: expect.stringMatching(/^US\.\d+$/) });
    expect(usernameOnly.contacts).toEqual([{ profile: { name: 'Oliver', username: 'oliver' }, user_id: 'GB.502576394655843' }]);
    expect(usernameOnly.messages[0]).toMatchObject({ from_user_id: 'GB.502576394655843', id: result.wamid });
    expect(usernameOnly.messages[0]).not.toHaveProperty('from');
    const [item] = parseMetaWebhook(receiver.received[1]!.json);
    expect(item).toMatchObject({ kind: 'message', waId: null, bsuid: 'GB.502576394655843', username: 'oliver' });
  });

  it('emits user_changed_user_id as a system message without contacts[]', async () => {
    const system = { type: 'system', system: { type: 'user_changed_user_id', body: 'User changed', user_id: 'GB.999' } };
    await sim.simulator.injectInbound({ phone_number_id: PHONE_1, user_id: 'GB.502576394655843', message: system });
    const value = receiver.received[0]!.json.entry[0].changes[0].value;
    expect(value).not.toHaveProperty('contacts');
    expect(value.messages[0]).toMatchObject({ from_user_id: 'GB.502576394655843', ...system });
  });
});

describe('close()', () => {
  it('cancels pending status webhooks and resolves promptly', async () => {
    const slow = await startSimulatorServer({ port: 0, webhookUrl: receiver.url, appSecret: APP_SECRET, delays: { sentMs: 60_000 } });
    slow.simulator.registerNumber(PHONE_1, { waba_id: WABA_1, display_phone_number: '15550100001' });
    const res = await request(`${slow.url}/v23.0/${PHONE_1}/messages`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer x' }, body: JSON.stringify(textTo('+14155550123')),
    });
    expect(res.statusCode).toBe(200);
    await res.body.dump();
    const started = Date.now();
    await slow.close();
    expect(Date.now() - started).toBeLessThan(1000);
    expect(receiver.received).toHaveLength(0);
  });
});
