/**
 * Events of the dispatcher's outcomes, written in the transaction that records them: a send Meta
 * accepted → `message.status_changed` (sent); a permanent error → `message.failed` with Meta's
 * code; error 190 → `phone_number.reauth_required`, once per number. One in-process Dispatcher
 * sends to the Cloud API simulator over HTTP.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dispatcher } from '../../src/outbound/dispatcher.js';
import { GraphApiClient } from '../../src/providers/meta/graph.client.js';
import type { SimulatorServer } from '../../src/simulator/server.js';
import type { Principal } from '../../src/tenancy/tenancy.service.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestOrg, silentLogger, testCipher, type TestOrg } from '../helpers/factories.js';
import { connectNumber, pollUntil, principalOf, queueTemplates, recipient, startSendOnlySimulator } from '../outbound/dispatcher/helpers.js';
import { eventsOf } from './helpers.js';

let t: TestDatabase;
let sim: SimulatorServer;
let graph: GraphApiClient;
let dispatcher: Dispatcher;
let org: TestOrg;
let principal: Principal;

beforeAll(async () => {
  t = await createTestDatabase(10);
  sim = await startSendOnlySimulator();
  graph = new GraphApiClient({ baseUrl: sim.url, version: 'v24.0', timeoutMs: 5_000 });
  dispatcher = new Dispatcher({
    db: t.db, cipher: testCipher, graph, logger: silentLogger, listenUrl: t.url,
    leaseTtlMs: 10_000, leaseRefreshMs: 2_000, batchSize: 10, pollIntervalMs: 20, maxAttempts: 3, retryBaseMs: 20,
  });
  dispatcher.start();
  org = await createTestOrg(t.db);
  principal = await principalOf(t.db, org.apiKey);
});
afterAll(async () => {
  await dispatcher?.stop();
  await graph?.close();
  await sim?.close();
  await t?.drop();
});

async function messageEvents(messageId: string, what: string, count: number) {
  return pollUntil(async () => {
    const events = (await eventsOf(t.db, org.orgId)).filter((e) => e.aggregate_id === messageId);
    return events.length >= count && events;
  }, what, 10_000, 20);
}

describe('events of the dispatcher', () => {
  it('records message.status_changed (sent) with the wamid when Meta accepted the send', async () => {
    const number = await connectNumber(t.db, sim, org.orgId, 80);
    const [queued] = await queueTemplates(t.db, principal, [{ phoneNumberId: number.phoneNumberId, to: recipient(1) }]);
    const events = await messageEvents(queued!.messageId, 'sent event', 2);
    expect(events.map((e) => [e.event_type, e.payload.status])).toEqual([['message.queued', 'queued'], ['message.status_changed', 'sent']]);
    expect(events[1]!.payload).toMatchObject({ message_id: queued!.messageId, provider_message_id: expect.stringMatching(/^wamid\./), direction: 'outbound' });
    expect(events[1]!.metadata).toEqual({ source: 'worker' });
  });

  it('records message.failed with Meta\'s code on a permanent error', async () => {
    const number = await connectNumber(t.db, sim, org.orgId, 80);
    sim.simulator.injectFailure({ phone_number_id: number.phoneNumberId, code: 131047, mode: 'sync' });
    const [queued] = await queueTemplates(t.db, principal, [{ phoneNumberId: number.phoneNumberId, to: recipient(2) }]);
    const events = await messageEvents(queued!.messageId, 'failed event', 2);
    expect(events[1]).toMatchObject({ event_type: 'message.failed', payload: { status: 'failed', error_code: 131047 } });
  });

  it('records phone_number.reauth_required once when Meta rejects the token (190)', async () => {
    // The simulator (Meta) accepts only another token than the one the number holds.
    const number = await connectNumber(t.db, sim, org.orgId, 80, 'the-new-token');
    await queueTemplates(t.db, principal, [{ phoneNumberId: number.phoneNumberId, to: recipient(3) }, { phoneNumberId: number.phoneNumberId, to: recipient(4) }]);
    await pollUntil(async () => {
      const parked = await t.db.selectFrom('message_outbox').select('id').where('phone_number_ref', '=', number.id).where('state', '=', 'parked').execute();
      return parked.length >= 1;
    }, 'parked rows', 10_000, 20);
    const reauth = (await eventsOf(t.db, org.orgId)).filter((e) => e.aggregate_id === number.id && e.event_type === 'phone_number.reauth_required');
    expect(reauth.length).toBe(1);
    expect(reauth[0]!.payload).toEqual({ phone_number_ref: number.id, status: 'reauth_required' });
  });
});
