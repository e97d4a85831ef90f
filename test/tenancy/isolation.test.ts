/**
 * Tenant isolation through the HTTP API: organization A's key never sees or touches organization
 * B's threads, messages or numbers — every attempt is a 404 (not 403: B's ids must not even be
 * confirmed to exist), and a refused send writes nothing in either organization.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bearer, customerWaId, deliverInbound } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { countRows, createTestNumber, createTestOrg, type TestNumber, type TestOrg } from '../helpers/factories.js';

const bed = useAppBed();

interface Tenant {
  org: TestOrg;
  number: TestNumber;
  threadId: string;
  inboundWamid: string;
  from: string;
  /** An outbound message queued in the thread. */
  outboundId: string;
  inboundId: string;
}

let a: Tenant;
let b: Tenant;

async function tenant(name: string): Promise<Tenant> {
  const org = await createTestOrg(bed.t.db, name);
  const number = await createTestNumber(bed.t.db, org.orgId);
  const inbound = await deliverInbound(bed.app, bed.t.db, number, { name: `${name} customer` });
  const sent = await bed.app.inject({
    method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey), payload: { thread_id: inbound.threadId, type: 'text', text: { body: `from ${name}` } },
  });
  expect(sent.statusCode).toBe(202);
  return { org, number, threadId: inbound.threadId, inboundWamid: inbound.wamid, from: inbound.from, outboundId: sent.json().id, inboundId: inbound.messageId };
}

/** Row counts of both organizations, to prove that a refused request wrote nothing anywhere. */
async function snapshot(): Promise<Record<string, number>> {
  const tables = ['contacts', 'clients', 'threads', 'messages', 'message_outbox'] as const;
  const counts: Record<string, number> = {};
  for (const table of tables) {
    counts[`a.${table}`] = await countRows(bed.t.db, table, a.org.orgId);
    counts[`b.${table}`] = await countRows(bed.t.db, table, b.org.orgId);
  }
  return counts;
}

beforeAll(async () => {
  a = await tenant('A');
  b = await tenant('B');
});

function expectNotFound(response: { statusCode: number; json: () => any }, what: string): void {
  expect(response.statusCode, what).toBe(404);
  expect(response.json().error.code, what).toBe('not_found');
}

describe('tenant isolation', () => {
  it('answers 404 to A for B\'s thread, B\'s thread messages and B\'s messages', async () => {
    expectNotFound(await bed.app.inject({ method: 'GET', url: `/v1/threads/${b.threadId}`, headers: bearer(a.org.apiKey) }), 'GET thread');
    expectNotFound(await bed.app.inject({ method: 'GET', url: `/v1/threads/${b.threadId}/messages`, headers: bearer(a.org.apiKey) }), 'GET thread messages');
    expectNotFound(await bed.app.inject({ method: 'GET', url: `/v1/messages/${b.outboundId}`, headers: bearer(a.org.apiKey) }), 'GET outbound message');
    expectNotFound(await bed.app.inject({ method: 'GET', url: `/v1/messages/${b.inboundId}`, headers: bearer(a.org.apiKey) }), 'GET inbound message');

    // The same requests with B's key succeed: the 404s above are isolation, not broken ids.
    expect((await bed.app.inject({ method: 'GET', url: `/v1/threads/${b.threadId}`, headers: bearer(b.org.apiKey) })).statusCode).toBe(200);
    expect((await bed.app.inject({ method: 'GET', url: `/v1/messages/${b.outboundId}`, headers: bearer(b.org.apiKey) })).statusCode).toBe(200);
  });

  it('refuses A\'s send into B\'s thread with 404 and writes nothing', async () => {
    const before = await snapshot();
    for (const payload of [
      { thread_id: b.threadId, type: 'text', text: { body: 'spoof' } },
      { thread_id: b.threadId, type: 'template', template: { name: 'hello', language: { code: 'en_US' } } },
      { thread_id: b.threadId, type: 'mark_as_read', mark_as_read: { message_id: b.inboundWamid } },
    ]) {
      expectNotFound(await bed.app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(a.org.apiKey), payload }), `send ${payload.type}`);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses A\'s send from B\'s phone number with 404 and creates no contact or thread', async () => {
    const before = await snapshot();
    for (const to of [`+${b.from}`, `+${customerWaId()}`]) {
      const response = await bed.app.inject({
        method: 'POST', url: '/v1/messages', headers: bearer(a.org.apiKey, { 'idempotency-key': `spoof-${to}` }),
        payload: { from_phone_number_id: b.number.phoneNumberId, to, type: 'template', template: { name: 'hello', language: { code: 'en_US' } } },
      });
      expectNotFound(response, `send from B's number to ${to}`);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('refuses A\'s POST /v1/threads with B\'s number with 404 and creates nothing', async () => {
    const before = await snapshot();
    for (const phone of [`+${b.from}`, `+${customerWaId()}`]) {
      const response = await bed.app.inject({
        method: 'POST', url: '/v1/threads', headers: bearer(a.org.apiKey), payload: { phone, from_phone_number_id: b.number.phoneNumberId },
      });
      expectNotFound(response, `open thread with ${phone}`);
    }
    expect(await snapshot()).toEqual(before);
  });

  it('never lists B\'s threads or messages to A', async () => {
    const threads = (await bed.app.inject({ method: 'GET', url: '/v1/threads?limit=100', headers: bearer(a.org.apiKey) })).json();
    expect(threads.data.map((thread: { id: string }) => thread.id)).toEqual([a.threadId]);
    expect(threads.data[0]).toMatchObject({ phone_number_id: a.number.phoneNumberId, e164: `+${a.from}` });

    const messages = (await bed.app.inject({ method: 'GET', url: `/v1/threads/${a.threadId}/messages?limit=100`, headers: bearer(a.org.apiKey) })).json();
    expect(messages.data.map((message: { id: string }) => message.id).sort()).toEqual([a.inboundId, a.outboundId].sort());

    // And B sees only B's.
    const bThreads = (await bed.app.inject({ method: 'GET', url: '/v1/threads', headers: bearer(b.org.apiKey) })).json();
    expect(bThreads.data.map((thread: { id: string }) => thread.id)).toEqual([b.threadId]);
  });

  it('keeps Idempotency-Keys per organization: the same key in A and B makes two messages', async () => {
    const key = { 'idempotency-key': 'shared-key-1' };
    const template = { type: 'template', template: { name: 'hello', language: { code: 'en_US' } } };
    const inA = await bed.app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(a.org.apiKey, key), payload: { thread_id: a.threadId, ...template } });
    const inB = await bed.app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(b.org.apiKey, key), payload: { thread_id: b.threadId, ...template } });
    expect([inA.statusCode, inB.statusCode]).toEqual([202, 202]);
    expect(inB.headers['idempotent-replayed']).toBeUndefined();
    expect(inA.json().id).not.toBe(inB.json().id);
    expect(inB.json().thread_id).toBe(b.threadId);
  });

  it('does not let A reply to or react to B\'s wamid from A\'s own thread', async () => {
    const before = await snapshot();
    const reaction = await bed.app.inject({
      method: 'POST', url: '/v1/messages', headers: bearer(a.org.apiKey),
      payload: { thread_id: a.threadId, type: 'reaction', reaction: { message_id: b.inboundWamid, emoji: '👍' } },
    });
    expect(reaction.statusCode).toBe(400);
    expect(reaction.json().error.code).toBe('validation_failed');
    expect(await snapshot()).toEqual(before);
  });
});
