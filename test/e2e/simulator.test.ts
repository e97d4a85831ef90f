/**
 * End to end over real HTTP: the hub listens on a port, the Cloud API simulator listens on another;
 * the dispatcher sends through GraphApiClient to the simulator, and the simulator posts signed
 * inbound and status webhooks back to the hub. The dispatcher is driven explicitly (`runOnce`), so
 * each case decides when delivery happens; waiting is always a poll with a deadline.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registry } from '../../src/ops/metrics.js';
import { Dispatcher } from '../../src/outbound/dispatcher.js';
import { setPhoneNumberToken } from '../../src/outbound/number-queue.service.js';
import { GraphApiClient, type SendResult } from '../../src/providers/meta/graph.client.js';
import { startSimulatorServer, type SimulatorServer } from '../../src/simulator/server.js';
import { bearer, customerWaId, waitFor } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  createTestApp, createTestNumber, createTestOrg, silentLogger, TEST_APP_SECRET, testCipher, type TestNumber, type TestOrg,
} from '../helpers/factories.js';

let t: TestDatabase;
let app: FastifyInstance;
let sim: SimulatorServer;
let graph: GraphApiClient;
let dispatcher: Dispatcher;
const extraGraphClients: GraphApiClient[] = [];

function newDispatcher(client: GraphApiClient): Dispatcher {
  return new Dispatcher({
    db: t.db, cipher: testCipher, graph: client, logger: silentLogger,
    leaseTtlMs: 60_000, batchSize: 10, pollIntervalMs: 20, maxAttempts: 3, retryBaseMs: 10,
  });
}

beforeAll(async () => {
  t = await createTestDatabase();
  app = await createTestApp(t.db);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const hubUrl = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  sim = await startSimulatorServer({
    port: 0, webhookUrl: `${hubUrl}/webhooks/whatsapp`, appSecret: TEST_APP_SECRET, delays: { sentMs: 0, deliveredMs: 10, readMs: 20 },
  });
  graph = new GraphApiClient({ baseUrl: sim.url, version: 'v24.0', timeoutMs: 5000 });
  dispatcher = newDispatcher(graph);
});

afterAll(async () => {
  // The simulator first: it waits for its in-flight webhooks, which need the hub still listening.
  await sim?.close();
  await app?.close();
  await graph?.close();
  for (const client of extraGraphClients) await client.close();
  await t?.drop();
});

interface Setup { org: TestOrg; number: TestNumber }

/** A new organization and number, registered in the simulator (with the number's token unless told otherwise). */
async function setup(simulatorToken?: string): Promise<Setup> {
  const org = await createTestOrg(t.db);
  const number = await createTestNumber(t.db, org.orgId);
  sim.simulator.registerNumber(number.phoneNumberId, {
    waba_id: number.wabaId, display_phone_number: number.displayPhoneNumber, access_token: simulatorToken ?? number.accessToken,
  });
  return { org, number };
}

/** A customer writes through the simulator (signed webhook over HTTP); returns the hub's thread. */
async function customerWrites(s: Setup, text = 'Hi, where is my order?'): Promise<{ threadId: string; from: string; wamid: string }> {
  const from = customerWaId();
  const { wamid, status } = await sim.simulator.injectInbound({ phone_number_id: s.number.phoneNumberId, from, profile_name: 'Maya Chen', text });
  expect(status).toBe(200);
  const row = await t.db.selectFrom('messages').select('thread_id').where('org_id', '=', s.org.orgId).where('provider_message_id', '=', wamid).executeTakeFirstOrThrow();
  return { threadId: row.thread_id, from, wamid };
}

async function queue(s: Setup, payload: Record<string, unknown>): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(s.org.apiKey), payload });
  expect(response.statusCode, response.body).toBe(202);
  return response.json().id;
}

const template = { type: 'template', template: { name: 'order_update', language: { code: 'en_US' } } };

async function messageRow(id: string) {
  return t.db.selectFrom('messages').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
}

async function outboxRow(messageId: string) {
  return t.db.selectFrom('message_outbox').selectAll().where('message_id', '=', messageId).executeTakeFirstOrThrow();
}

async function apiMessage(s: Setup, id: string) {
  return (await app.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: bearer(s.org.apiKey) })).json();
}

async function pendingStatuses(wamid: string): Promise<string[]> {
  const rows = await t.db.selectFrom('pending_statuses').select('status').where('provider_message_id', '=', wamid).execute();
  return rows.map((row) => row.status).sort();
}

function sendsOf(s: Setup) {
  return sim.simulator.sends().filter((send) => send.phone_number_id === s.number.phoneNumberId);
}

/** Runs dispatcher rounds until `probe` holds (or fails after the deadline). */
async function drive<T>(d: Dispatcher, probe: () => Promise<T | undefined | null | false>, what: string, timeoutMs = 5_000): Promise<T> {
  return waitFor(async () => {
    await d.runOnce();
    return probe();
  }, what, timeoutMs);
}

describe('hub ⇄ simulator over HTTP', () => {
  it('sends a reply to an inbound message once, records the wamid and ends at read', async () => {
    const s = await setup();
    const { threadId, from } = await customerWrites(s);
    const id = await queue(s, { thread_id: threadId, type: 'text', text: { body: 'Your order ships today' } });

    const wamid = await drive(dispatcher, async () => (await messageRow(id)).provider_message_id, 'wamid recorded');
    const final = await waitFor(async () => {
      const message = await apiMessage(s, id);
      return message.status === 'read' && message;
    }, 'status read');

    expect(final).toMatchObject({ id, thread_id: threadId, direction: 'outbound', status: 'read', provider_message_id: wamid, error: null });
    const sends = sendsOf(s);
    expect(sends).toHaveLength(1);
    expect(sends[0]).toMatchObject({ to: `+${from}`, type: 'text', wamid });
    expect(sends[0]!.body).toEqual({
      messaging_product: 'whatsapp', recipient_type: 'individual', to: `+${from}`, type: 'text', text: { body: 'Your order ships today' },
    });
    expect(await outboxRow(id)).toMatchObject({ state: 'done', attempts: 1, lease_token: null });
    expect(await pendingStatuses(wamid)).toEqual([]);
  });

  it('answers a username-only customer (no number) with recipient, and the reply goes sent → delivered → read', async () => {
    const s = await setup();
    const userId = `US.${customerWaId()}7`;
    const { wamid: inbound, status } = await sim.simulator.injectInbound({ phone_number_id: s.number.phoneNumberId, user_id: userId, username: 'maya.chen', text: 'Hi!' });
    expect(status).toBe(200);
    const { thread_id: threadId } = await t.db.selectFrom('messages').select('thread_id').where('org_id', '=', s.org.orgId).where('provider_message_id', '=', inbound).executeTakeFirstOrThrow();
    const id = await queue(s, { thread_id: threadId, type: 'text', text: { body: 'Hello @maya.chen' } });

    const wamid = await drive(dispatcher, async () => (await messageRow(id)).provider_message_id, 'wamid recorded');
    await waitFor(async () => (await apiMessage(s, id)).status === 'read', 'status read');
    const [send] = sendsOf(s);
    expect(send).toMatchObject({ to: null, recipient: userId, wamid });
    expect(send!.body).toEqual({ messaging_product: 'whatsapp', recipient_type: 'individual', recipient: userId, type: 'text', text: { body: 'Hello @maya.chen' } });
    const changes = await t.db.selectFrom('outbox_events').select('payload').where('aggregate_id', '=', id).where('event_type', '=', 'message.status_changed').orderBy('seq').execute();
    expect(changes.map((e) => (e.payload as { status: string }).status)).toEqual(['sent', 'delivered', 'read']);
  });

  it('counts claims, accepted sends and provider errors by Meta code in the metrics', async () => {
    const count = async (name: string, labels: Record<string, string>) => {
      const metric = await registry.getSingleMetric(name)?.get();
      return (metric?.values ?? [])
        .filter((v) => Object.entries(labels).every(([k, value]) => String((v.labels as Record<string, unknown>)[k]) === value))
        .reduce((sum, v) => sum + v.value, 0);
    };
    const before = {
      accepted: await count('wahub_provider_send_duration_seconds', { outcome: 'accepted' }),
      errors: await count('wahub_provider_errors_total', { code: '131047', class: 'permanent' }),
      claims: await count('wahub_outbox_claim_duration_seconds', {}),
    };
    const s = await setup();
    const { threadId } = await customerWrites(s);
    const ok = await queue(s, { thread_id: threadId, type: 'text', text: { body: 'counted' } });
    await drive(dispatcher, async () => (await outboxRow(ok)).state === 'done', 'sent');
    sim.simulator.injectFailure({ phone_number_id: s.number.phoneNumberId, code: 131047, mode: 'sync' });
    const failed = await queue(s, { thread_id: threadId, type: 'text', text: { body: 'refused' } });
    await drive(dispatcher, async () => (await outboxRow(failed)).state === 'failed', 'failed');
    expect(await count('wahub_provider_send_duration_seconds', { outcome: 'accepted' })).toBeGreaterThan(before.accepted);
    expect(await count('wahub_provider_errors_total', { code: '131047', class: 'permanent' })).toBe(before.errors + 1);
    expect(await count('wahub_outbox_claim_duration_seconds', {})).toBeGreaterThan(before.claims);
  });

  it('sends a read receipt for an inbound message as Meta\'s mark-as-read body', async () => {
    const s = await setup();
    const { threadId, wamid: inboundWamid } = await customerWrites(s);
    const id = await queue(s, { thread_id: threadId, type: 'mark_as_read', mark_as_read: { message_id: inboundWamid } });

    await drive(dispatcher, async () => (await outboxRow(id)).state === 'done', 'read receipt sent');

    const sends = sendsOf(s);
    expect(sends).toHaveLength(1);
    expect(sends[0]).toMatchObject({ type: 'mark_as_read', to: null, body: { messaging_product: 'whatsapp', status: 'read', message_id: inboundWamid } });
    expect(await messageRow(id)).toMatchObject({ status: 'sent', provider_message_id: null });
  });

  it('ends at read when every status arrives before the wamid is recorded', async () => {
    // The real send happens, then the client holds the result until the hub has parked all three
    // status webhooks in pending_statuses: the dispatcher records the wamid strictly after them.
    class StatusesFirstGraphClient extends GraphApiClient {
      override async sendMessage(phoneNumberId: string, accessToken: string, body: Record<string, unknown>): Promise<SendResult> {
        const result = await super.sendMessage(phoneNumberId, accessToken, body);
        if (result.ok && result.wamid) {
          const wamid = result.wamid;
          await waitFor(async () => (await pendingStatuses(wamid)).length === 3, 'sent, delivered and read parked as pending');
        }
        return result;
      }
    }
    const racing = new StatusesFirstGraphClient({ baseUrl: sim.url, version: 'v24.0', timeoutMs: 5000 });
    extraGraphClients.push(racing);
    const s = await setup();
    const { threadId } = await customerWrites(s);
    const id = await queue(s, { thread_id: threadId, type: 'text', text: { body: 'racing' } });

    expect(await newDispatcher(racing).runOnce()).toBe(1);

    const message = await messageRow(id);
    const wamid = sendsOf(s)[0]!.wamid!;
    expect(message).toMatchObject({ status: 'read', provider_message_id: wamid });
    expect(await pendingStatuses(wamid)).toEqual([]);
    expect(await outboxRow(id)).toMatchObject({ state: 'done' });
  });

  it('fails the message and its outbox row on a synchronous 131047, without retrying', async () => {
    const s = await setup();
    sim.simulator.injectFailure({ phone_number_id: s.number.phoneNumberId, code: 131047, mode: 'sync' });
    const id = await queue(s, { from_phone_number_id: s.number.phoneNumberId, to: `+${customerWaId()}`, ...template });

    await drive(dispatcher, async () => (await messageRow(id)).status === 'failed', 'message failed');

    expect(await messageRow(id)).toMatchObject({ status: 'failed', error_code: 131047, provider_message_id: null });
    const outbox = await outboxRow(id);
    expect(outbox).toMatchObject({ state: 'failed', attempts: 1 });
    expect(outbox.last_error).toMatchObject({ code: 131047, class: 'permanent' });
    expect((await apiMessage(s, id)).error).toEqual({ code: 131047, title: 'Re-engagement message' });
    expect(sendsOf(s)).toHaveLength(0);
  });

  it('fails the message through the status webhook when 131047 comes asynchronously', async () => {
    const s = await setup();
    sim.simulator.injectFailure({ phone_number_id: s.number.phoneNumberId, code: 131047, mode: 'webhook' });
    const id = await queue(s, { from_phone_number_id: s.number.phoneNumberId, to: `+${customerWaId()}`, ...template });

    await drive(dispatcher, async () => (await outboxRow(id)).state === 'done', 'send accepted');
    const failed = await waitFor(async () => {
      const message = await messageRow(id);
      return message.status === 'failed' && message;
    }, 'failed status webhook applied');

    expect(failed).toMatchObject({ error_code: 131047, provider_message_id: sendsOf(s)[0]!.wamid });
    expect(sendsOf(s)).toHaveLength(1);
    expect(await pendingStatuses(failed.provider_message_id!)).toEqual([]);
  });

  it('retries after a 503 and then delivers, with a single accepted send', async () => {
    const s = await setup();
    const { threadId } = await customerWrites(s);
    sim.simulator.injectFailure({ phone_number_id: s.number.phoneNumberId, http_status: 503, mode: 'sync' });
    const id = await queue(s, { thread_id: threadId, type: 'text', text: { body: 'after a hiccup' } });

    await drive(dispatcher, async () => (await outboxRow(id)).state === 'done', 'outbox row done');
    await waitFor(async () => (await messageRow(id)).status === 'read', 'status read');

    const outbox = await outboxRow(id);
    expect(outbox.attempts).toBe(2);
    expect(outbox.last_error).toMatchObject({ class: 'retryable', httpStatus: 503 });
    expect(sendsOf(s)).toHaveLength(1);
    expect((await messageRow(id)).provider_message_id).toBe(sendsOf(s)[0]!.wamid);
  });

  it('parks the row and the number on error 190, keeps later messages waiting, and sends both after set-token', async () => {
    const s = await setup('a-different-token');
    const id = await queue(s, { from_phone_number_id: s.number.phoneNumberId, to: `+${customerWaId()}`, ...template });

    await drive(dispatcher, async () => {
      const number = await t.db.selectFrom('phone_numbers').select('status').where('id', '=', s.number.id).executeTakeFirstOrThrow();
      return number.status === 'reauth_required';
    }, 'number reauth_required');

    const parked = await outboxRow(id);
    expect(parked).toMatchObject({ state: 'parked', attempts: 0, lease_token: null });
    expect(parked.last_error).toMatchObject({ code: 190, class: 'reauth' });
    const message = await messageRow(id);
    expect(message.provider_message_id).toBeNull();
    expect(['queued', 'sending']).toContain(message.status);
    expect(sendsOf(s)).toHaveLength(0);

    // A message accepted meanwhile waits too; further rounds do not touch either row.
    const second = await queue(s, { from_phone_number_id: s.number.phoneNumberId, to: `+${customerWaId()}`, ...template });
    await dispatcher.runOnce();
    await dispatcher.runOnce();
    expect(await outboxRow(id)).toMatchObject({ state: 'parked', attempts: 0 });
    expect(await outboxRow(second)).toMatchObject({ state: 'pending', attempts: 0 });

    // Re-authorised: the right token in the simulator and the number active again.
    sim.simulator.registerNumber(s.number.phoneNumberId, {
      waba_id: s.number.wabaId, display_phone_number: s.number.displayPhoneNumber, access_token: s.number.accessToken,
    });
    const replaced = await setPhoneNumberToken(t.db, testCipher, { orgId: s.org.orgId, phoneNumberId: s.number.phoneNumberId, accessToken: s.number.accessToken });
    expect(replaced).toEqual({ id: s.number.id, status: 'active', resumed: 1 });
    await drive(dispatcher, async () => (await outboxRow(id)).state === 'done' && (await outboxRow(second)).state === 'done', 'both sent');
    expect(sendsOf(s)).toHaveLength(2);
  });

  it('sends the messages of one thread in acceptance order, even when the first one needs a retry', async () => {
    const s = await setup();
    const { threadId } = await customerWrites(s);
    sim.simulator.injectFailure({ phone_number_id: s.number.phoneNumberId, http_status: 503, mode: 'sync' });
    const bodies = ['first', 'second', 'third', 'fourth', 'fifth'];
    const ids: string[] = [];
    for (const body of bodies) ids.push(await queue(s, { thread_id: threadId, type: 'text', text: { body } }));

    await drive(dispatcher, async () => {
      const rows = await t.db.selectFrom('message_outbox').select('state').where('message_id', 'in', ids).execute();
      return rows.every((row) => row.state === 'done');
    }, 'all five sent');

    expect(sendsOf(s).map((send) => (send.body.text as { body: string }).body)).toEqual(bodies);
    expect((await outboxRow(ids[0]!)).attempts).toBe(2);
  });
});
