import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CUSTOMERS } from '../../src/sandbox/seed.js';
import { connectTwilioNumber } from '../../src/numbers/numbers.service.js';
import { type Hub, startHub } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('sandbox mode (wahub serve without Meta credentials)', () => {
  let t: TestDatabase;
  let dataDir: string;
  let hub: Hub;

  beforeAll(async () => {
    t = await createTestDatabase(2);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'wahub-sandbox-'));
    await chmod(dataDir, 0o755);
    hub = await startHub('all', {
      DATABASE_URL: t.url, WAHUB_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent',
      SANDBOX_STATUS_DELAYS_MS: '0,10,20', OUTBOX_POLL_INTERVAL_MS: '20',
    });
  });
  afterAll(async () => {
    await hub?.close();
    await t.drop();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('seeds a demo organization, number and API key, and keeps them across restarts', async () => {
    expect(hub.demo?.api_key).toMatch(/^wah_/);
    expect(hub.demo?.operator_password).toMatch(/^demo-/);
    const login = await request(`${hub.url}/v1/session`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: hub.demo!.operator_email, password: hub.demo!.operator_password }),
    });
    expect(login.statusCode).toBe(201);
    await login.body.dump();
    const saved = JSON.parse(await readFile(path.join(dataDir, 'sandbox-demo.json'), 'utf8'));
    expect(saved.api_key).toBe(hub.demo?.api_key);
    const numbers = await t.db.selectFrom('phone_numbers').select(['phone_number_id', 'org_id']).execute();
    expect(numbers).toEqual([{ phone_number_id: '200000000000001', org_id: hub.demo?.org_id }]);
  });

  it('lets a simulated customer write and an API reply reach read through the mounted simulator', async () => {
    const auth = { authorization: `Bearer ${hub.demo!.api_key}`, 'content-type': 'application/json' };
    const injected = await request(`${hub.url}/simulator/_simulator/inbound`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phone_number_id: '200000000000001', from: '14155550123', profile_name: 'Maya', text: 'Hi!' }),
    });
    expect(((await injected.body.json()) as { status: number }).status).toBe(200);
    const threads = (await (await request(`${hub.url}/v1/threads`, { headers: auth })).body.json()) as { data: Array<{ id: string; profile_name: string; e164: string | null; username: string | null }> };
    // The demo customers of a fresh sandbox; Maya is one of them and just wrote again.
    expect(threads.data).toHaveLength(DEMO_CUSTOMERS.length);
    // One of them has a username and no visible number (issue 15).
    expect(threads.data.filter((thread) => thread.e164 === null)).toEqual([expect.objectContaining({ username: 'ana.costa', profile_name: 'Ana Costa' })]);
    const maya = threads.data.find((thread) => thread.e164 === '+14155550123')!;
    expect(maya.profile_name).toBe('Maya');
    const sent = await request(`${hub.url}/v1/messages`, {
      method: 'POST', headers: auth, body: JSON.stringify({ thread_id: maya.id, type: 'text', text: { body: 'Hello Maya' } }),
    });
    expect(sent.statusCode).toBe(202);
    const { id } = (await sent.body.json()) as { id: string };
    const message = await waitFor(async () => {
      const body = (await (await request(`${hub.url}/v1/messages/${id}`, { headers: auth })).body.json()) as { status: string; provider_message_id: string };
      return body.status === 'read' ? body : undefined;
    });
    expect(message.provider_message_id).toMatch(/^wamid\./);
  });

  it('seeds approved templates (positional, named, image header, authentication) and sends one with exactly its components', async () => {
    const auth = { authorization: `Bearer ${hub.demo!.api_key}`, 'content-type': 'application/json' };
    const listed = (await (await request(`${hub.url}/v1/templates?status=APPROVED`, { headers: auth })).body.json()) as { data: Array<{ name: string; parameter_format: string }> };
    expect(listed.data.map((t) => t.name).sort()).toEqual(['appointment_reminder', 'hello_world', 'order_update', 'receipt_photo', 'verification_code']);
    const template = {
      name: 'appointment_reminder', language: { code: 'en_US' },
      components: [{ type: 'body', parameters: [{ type: 'text', parameter_name: 'first_name', text: 'Maya' }, { type: 'text', parameter_name: 'date', text: 'Monday' }] }],
    };
    const sent = await request(`${hub.url}/v1/messages`, {
      method: 'POST', headers: auth, body: JSON.stringify({ from_phone_number_id: '200000000000001', to: '+14155550123', type: 'template', template }),
    });
    expect(sent.statusCode).toBe(202);
    const { id } = (await sent.body.json()) as { id: string };
    const message = await waitFor(async () => {
      const body = (await (await request(`${hub.url}/v1/messages/${id}`, { headers: auth })).body.json()) as { status: string; provider_message_id: string };
      return body.status === 'read' ? body : undefined;
    });
    const sends = (await (await request(`${hub.url}/simulator/_simulator/sends`)).body.json()) as { sends: Array<{ wamid: string; body: { template?: unknown } }> };
    expect(sends.sends.find((s) => s.wamid === message.provider_message_id)?.body.template).toEqual(template);
  });

  it('runs a Twilio number end to end through the mounted Twilio simulator', async () => {
    const sender = '+15550100077';
    const accountSid = 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0';
    await connectTwilioNumber(hub.runtime.db, hub.runtime.cipher, { orgId: hub.demo!.org_id, accountSid, authToken: 'sandbox-twilio-token', phone: sender });
    const json = { 'content-type': 'application/json' };
    const registered = await request(`${hub.url}/simulator/twilio/_simulator/senders/${encodeURIComponent(sender)}`, {
      method: 'PUT', headers: json, body: JSON.stringify({ account_sid: accountSid, auth_token: 'sandbox-twilio-token' }),
    });
    expect(registered.statusCode).toBe(200);
    const injected = await request(`${hub.url}/simulator/twilio/_simulator/inbound`, {
      method: 'POST', headers: json, body: JSON.stringify({ to: sender, from: '447700900123', profile_name: 'Oliver', text: 'Hello from Twilio' }),
    });
    expect(((await injected.body.json()) as { status: number }).status).toBe(200);
    const auth = { authorization: `Bearer ${hub.demo!.api_key}`, ...json };
    const threads = (await (await request(`${hub.url}/v1/threads`, { headers: auth })).body.json()) as { data: Array<{ id: string; profile_name: string }> };
    const thread = threads.data.find((row) => row.profile_name === 'Oliver')!;
    const sent = await request(`${hub.url}/v1/messages`, {
      method: 'POST', headers: auth, body: JSON.stringify({ thread_id: thread.id, type: 'text', text: { body: 'Hello Oliver' } }),
    });
    expect(sent.statusCode).toBe(202);
    const { id } = (await sent.body.json()) as { id: string };
    const message = await waitFor(async () => {
      const body = (await (await request(`${hub.url}/v1/messages/${id}`, { headers: auth })).body.json()) as { status: string; provider_message_id: string };
      return body.status === 'read' ? body : undefined;
    });
    expect(message.provider_message_id).toMatch(/^SM[0-9a-f]{32}$/);
  });
});
