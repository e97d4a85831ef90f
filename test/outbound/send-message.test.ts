/**
 * `POST /v1/messages` and `GET /v1/messages/{id}` through `app.inject()` on a real database:
 * acceptance (message + outbox row in one transaction), addressing, validation, the customer
 * service window, references, Idempotency-Key (including 50 parallel retries), send policy, the
 * public message shape and authentication.
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { bearer, customerWaId, deliverInbound } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { countRows, createTestNumber, createTestOperator, createTestOrg, type TestNumber, type TestOrg } from '../helpers/factories.js';

const bed = useAppBed();

const text = (body = 'Hello from wahub') => ({ type: 'text', text: { body } });
const template = { type: 'template', template: { name: 'order_update', language: { code: 'en_US' } } };

function send(apiKey: string, payload: Record<string, unknown>, headers: Record<string, string> = {}) {
  return bed.app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(apiKey, headers), payload });
}

/** An organization with one number and one thread whose customer wrote just now (window open). */
async function orgWithOpenThread(): Promise<{ org: TestOrg; number: TestNumber; threadId: string; inboundWamid: string; from: string }> {
  const org = await createTestOrg(bed.t.db);
  const number = await createTestNumber(bed.t.db, org.orgId);
  const inbound = await deliverInbound(bed.app, bed.t.db, number);
  return { org, number, threadId: inbound.threadId, inboundWamid: inbound.wamid, from: inbound.from };
}

async function outboxRowsOf(messageId: string) {
  return bed.t.db.selectFrom('message_outbox').selectAll().where('message_id', '=', messageId).execute();
}

async function outboundCount(orgId: string): Promise<number> {
  const row = await bed.t.db
    .selectFrom('messages')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('org_id', '=', orgId)
    .where('direction', '=', 'outbound')
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

describe('POST /v1/messages: acceptance', () => {
  it('answers 202 {id, status: queued, thread_id} and commits the message with exactly one pending outbox row', async () => {
    const { org, number, threadId } = await orgWithOpenThread();

    const response = await send(org.apiKey, { thread_id: threadId, ...text('Your order shipped') });

    expect(response.statusCode).toBe(202);
    const body = response.json();
    expect(body).toEqual({ id: expect.any(String), status: 'queued', thread_id: threadId });
    const message = await bed.t.db.selectFrom('messages').selectAll().where('id', '=', body.id).executeTakeFirstOrThrow();
    expect(message).toMatchObject({
      org_id: org.orgId, thread_id: threadId, phone_number_ref: number.id, direction: 'outbound', type: 'text',
      status: 'queued', content: { body: 'Your order shipped' }, sent_by_operator_id: org.operatorId, provider_message_id: null,
    });
    const outbox = await outboxRowsOf(body.id);
    expect(outbox).toHaveLength(1);
    expect(outbox[0]).toMatchObject({ org_id: org.orgId, thread_id: threadId, phone_number_ref: number.id, state: 'pending', attempts: 0 });
  });

  it('writes neither the message nor the outbox row when the outbox insert fails (one transaction)', async () => {
    const { org, threadId } = await orgWithOpenThread();
    // A real constraint that refuses this one request's outbox row (correlation id = X-Request-Id).
    await sql`ALTER TABLE message_outbox ADD CONSTRAINT test_refuse_outbox CHECK (correlation_id IS DISTINCT FROM 'refuse-outbox')`.execute(bed.t.db);
    try {
      const response = await send(org.apiKey, { thread_id: threadId, ...text() }, { 'x-request-id': 'refuse-outbox' });
      expect(response.statusCode).toBe(500);
      expect(response.json().error.code).toBe('internal_error');
    } finally {
      await sql`ALTER TABLE message_outbox DROP CONSTRAINT test_refuse_outbox`.execute(bed.t.db);
    }
    expect(await outboundCount(org.orgId)).toBe(0);
    expect(await countRows(bed.t.db, 'message_outbox', org.orgId)).toBe(0);

    // The same request without the fault goes through: the failure above was the constraint only.
    expect((await send(org.apiKey, { thread_id: threadId, ...text() })).statusCode).toBe(202);
  });

  it('addresses by from_phone_number_id + to, creating contact, client and thread once', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const to = `+${customerWaId()}`;

    const first = await send(org.apiKey, { from_phone_number_id: number.phoneNumberId, to, ...template });
    expect(first.statusCode).toBe(202);
    const { thread_id: threadId, id } = first.json();
    const thread = await bed.t.db
      .selectFrom('threads')
      .innerJoin('contacts', 'contacts.id', 'threads.contact_id')
      .select(['threads.phone_number_ref', 'contacts.e164', 'contacts.client_id'])
      .where('threads.id', '=', threadId)
      .executeTakeFirstOrThrow();
    expect(thread).toMatchObject({ phone_number_ref: number.id, e164: to });
    expect(await outboxRowsOf(id)).toHaveLength(1);

    const second = await send(org.apiKey, { from_phone_number_id: number.phoneNumberId, to, ...template });
    expect(second.statusCode).toBe(202);
    expect(second.json().thread_id).toBe(threadId);
    expect(await countRows(bed.t.db, 'contacts', org.orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'clients', org.orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'threads', org.orgId)).toBe(1);
    expect(await outboundCount(org.orgId)).toBe(2);
  });

  it('normalises a formatted E.164 `to` onto the same contact', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const a = await send(org.apiKey, { from_phone_number_id: number.phoneNumberId, to: '+1 (415) 555-0123', ...template });
    const b = await send(org.apiKey, { from_phone_number_id: number.phoneNumberId, to: '+14155550123', ...template });
    expect([a.statusCode, b.statusCode]).toEqual([202, 202]);
    expect(a.json().thread_id).toBe(b.json().thread_id);
    expect(await countRows(bed.t.db, 'contacts', org.orgId)).toBe(1);
  });

  it('answers 404 for an unknown thread_id or from_phone_number_id', async () => {
    const org = await createTestOrg(bed.t.db);
    const unknownThread = await send(org.apiKey, { thread_id: '00000000-0000-4000-8000-000000000000', ...template });
    expect(unknownThread.statusCode).toBe(404);
    expect(unknownThread.json().error.code).toBe('not_found');
    const unknownNumber = await send(org.apiKey, { from_phone_number_id: '999999999999999', to: '+14155550123', ...template });
    expect(unknownNumber.statusCode).toBe(404);
    expect(unknownNumber.json().error.code).toBe('not_found');
    expect(await countRows(bed.t.db, 'contacts', org.orgId)).toBe(0);
  });

  it('refuses to queue on a disconnected number with 422 phone_number_not_active', async () => {
    const { org, number, threadId } = await orgWithOpenThread();
    await bed.t.db.updateTable('phone_numbers').set({ status: 'disconnected', access_token_ciphertext: null, access_token_key_id: null }).where('id', '=', number.id).execute();
    const response = await send(org.apiKey, { thread_id: threadId, ...text() });
    expect(response.statusCode).toBe(422);
    expect(response.json().error.code).toBe('phone_number_not_active');
    expect(await outboundCount(org.orgId)).toBe(0);
  });
});

describe('POST /v1/messages: validation', () => {
  const threadId = '5b0c8c8e-1d2a-4a49-9a49-3f1b7a0b6f11';
  const buttons = (n: number) => Array.from({ length: n }, (_, i) => ({ type: 'reply', reply: { id: `b${i}`, title: `Option ${i}` } }));
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['a 4097-character text body', { thread_id: threadId, ...text('x'.repeat(4097)) }, 'text.body'],
    ['4 reply buttons', { thread_id: threadId, type: 'interactive', interactive: { type: 'button', body: { text: 'Pick' }, action: { buttons: buttons(4) } } }, 'interactive.action.buttons'],
    ['a type without its object', { thread_id: threadId, type: 'text' }, 'text'],
    ['an unknown type', { thread_id: threadId, type: 'carousel', carousel: {} }, 'type'],
    ['both thread_id and to', { thread_id: threadId, from_phone_number_id: '123456', to: '+14155550123', ...text() }, 'thread_id'],
    ['neither thread_id nor to', { ...text() }, 'thread_id'],
    ['to without from_phone_number_id', { to: '+14155550123', ...text() }, 'from_phone_number_id'],
    ['an unknown top-level key', { thread_id: threadId, ...text(), priority: 'high' }, ''],
  ];

  it.each(cases)('refuses %s with 400 validation_failed naming the path', async (_name, payload, path) => {
    const org = await createTestOrg(bed.t.db);
    const response = await send(org.apiKey, payload);
    expect(response.statusCode).toBe(400);
    const { error } = response.json();
    expect(error.code).toBe('validation_failed');
    expect(error.details).toEqual(expect.arrayContaining([expect.objectContaining({ path, message: expect.any(String) })]));
    expect(await outboundCount(org.orgId)).toBe(0);
  });

  it('accepts a 4096-character text body and 3 buttons (the limits themselves)', async () => {
    const { org, threadId: open } = await orgWithOpenThread();
    expect((await send(org.apiKey, { thread_id: open, ...text('x'.repeat(4096)) })).statusCode).toBe(202);
    const interactive = { type: 'interactive', interactive: { type: 'button', body: { text: 'Pick' }, action: { buttons: buttons(3) } } };
    expect((await send(org.apiKey, { thread_id: open, ...interactive })).statusCode).toBe(202);
  });

  it('refuses a `to` that is not E.164 with 422 invalid_phone_number', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    for (const to of ['14155550123', '+1415', 'call me']) {
      const response = await send(org.apiKey, { from_phone_number_id: number.phoneNumberId, to, ...template });
      expect(response.statusCode, to).toBe(422);
      expect(response.json().error.code).toBe('invalid_phone_number');
    }
    expect(await countRows(bed.t.db, 'contacts', org.orgId)).toBe(0);
    expect(await countRows(bed.t.db, 'threads', org.orgId)).toBe(0);
  });

  it('refuses a malformed body that is not JSON with 400 invalid_json', async () => {
    const org = await createTestOrg(bed.t.db);
    const response = await bed.app.inject({
      method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey, { 'content-type': 'application/json' }), payload: '{"type":',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('invalid_json');
  });
});

describe('POST /v1/messages: customer service window', () => {
  it('refuses free-form messages in a thread where the customer never wrote, but accepts templates', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const opened = await bed.app.inject({
      method: 'POST', url: '/v1/threads', headers: bearer(org.apiKey), payload: { phone: `+${customerWaId()}`, from_phone_number_id: number.phoneNumberId },
    });
    const threadId = opened.json().id;

    const free = await send(org.apiKey, { thread_id: threadId, ...text() });
    expect(free.statusCode).toBe(422);
    expect(free.json().error.code).toBe('outside_customer_service_window');
    expect(await outboundCount(org.orgId)).toBe(0);

    expect((await send(org.apiKey, { thread_id: threadId, ...template })).statusCode).toBe(202);
  });

  it('refuses free-form messages 25 hours after the last inbound message, but accepts them at 23 hours', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const setLastInbound = (hoursAgo: number) =>
      sql`UPDATE threads SET last_inbound_at = now() - make_interval(hours => ${hoursAgo}) WHERE id = ${threadId}`.execute(bed.t.db);

    await setLastInbound(25);
    const late = await send(org.apiKey, { thread_id: threadId, ...text() });
    expect(late.statusCode).toBe(422);
    expect(late.json().error.code).toBe('outside_customer_service_window');
    const image = await send(org.apiKey, { thread_id: threadId, type: 'image', image: { link: 'https://example.com/a.png' } });
    expect(image.statusCode).toBe(422);
    expect((await send(org.apiKey, { thread_id: threadId, ...template })).statusCode).toBe(202);

    await setLastInbound(23);
    expect((await send(org.apiKey, { thread_id: threadId, ...text() })).statusCode).toBe(202);
  });

  it('refuses a free-form send by from_phone_number_id + to to a new customer, leaving no message', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const response = await send(org.apiKey, { from_phone_number_id: number.phoneNumberId, to: `+${customerWaId()}`, ...text() });
    expect(response.statusCode).toBe(422);
    expect(response.json().error.code).toBe('outside_customer_service_window');
    expect(await outboundCount(org.orgId)).toBe(0);
    // The upserted contact/thread roll back with the refused send.
    expect(await countRows(bed.t.db, 'threads', org.orgId)).toBe(0);
  });
});

describe('POST /v1/messages: reactions, replies and read receipts', () => {
  it('refuses a reaction to an unknown wamid with 400 validation_failed at reaction.message_id', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const response = await send(org.apiKey, { thread_id: threadId, type: 'reaction', reaction: { message_id: 'wamid.unknown', emoji: '👍' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'validation_failed', details: [{ path: 'reaction.message_id' }] });
    expect(await outboundCount(org.orgId)).toBe(0);
  });

  it('refuses mark_as_read of an unknown wamid with 400 validation_failed at mark_as_read.message_id', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const response = await send(org.apiKey, { thread_id: threadId, type: 'mark_as_read', mark_as_read: { message_id: 'wamid.unknown' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'validation_failed', details: [{ path: 'mark_as_read.message_id' }] });
  });

  it('refuses a reference to a wamid of another thread', async () => {
    const { org, number, threadId } = await orgWithOpenThread();
    const other = await deliverInbound(bed.app, bed.t.db, number);
    expect(other.threadId).not.toBe(threadId);
    const response = await send(org.apiKey, { thread_id: threadId, type: 'reaction', reaction: { message_id: other.wamid, emoji: '👍' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('validation_failed');
  });

  it('queues mark_as_read, a reaction and a reply for an inbound message of the thread', async () => {
    const { org, threadId, inboundWamid } = await orgWithOpenThread();
    const read = await send(org.apiKey, { thread_id: threadId, type: 'mark_as_read', mark_as_read: { message_id: inboundWamid } });
    expect(read.statusCode).toBe(202);
    const stored = await bed.t.db.selectFrom('messages').select(['type', 'content']).where('id', '=', read.json().id).executeTakeFirstOrThrow();
    expect(stored).toEqual({ type: 'mark_as_read', content: { message_id: inboundWamid } });
    expect(await outboxRowsOf(read.json().id)).toHaveLength(1);

    const reaction = await send(org.apiKey, { thread_id: threadId, type: 'reaction', reaction: { message_id: inboundWamid, emoji: '👍' } });
    expect(reaction.statusCode).toBe(202);
    const reply = await send(org.apiKey, { thread_id: threadId, ...text('Quoted'), context: { message_id: inboundWamid } });
    expect(reply.statusCode).toBe(202);
    const replyRow = await bed.t.db.selectFrom('messages').select('content').where('id', '=', reply.json().id).executeTakeFirstOrThrow();
    expect(replyRow.content).toEqual({ body: 'Quoted', context: { message_id: inboundWamid } });
  });

  it('allows mark_as_read outside the window (a read receipt is not a message)', async () => {
    const { org, threadId, inboundWamid } = await orgWithOpenThread();
    await sql`UPDATE threads SET last_inbound_at = now() - interval '2 days' WHERE id = ${threadId}`.execute(bed.t.db);
    const read = await send(org.apiKey, { thread_id: threadId, type: 'mark_as_read', mark_as_read: { message_id: inboundWamid } });
    expect(read.statusCode).toBe(202);
  });

  it('refuses mark_as_read of an outbound message', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const sent = (await send(org.apiKey, { thread_id: threadId, ...text() })).json();
    await bed.t.db.updateTable('messages').set({ provider_message_id: 'wamid.outbound-1' }).where('id', '=', sent.id).execute();
    const response = await send(org.apiKey, { thread_id: threadId, type: 'mark_as_read', mark_as_read: { message_id: 'wamid.outbound-1' } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('validation_failed');
  });
});

describe('POST /v1/messages: Idempotency-Key', () => {
  it('answers a retry with the same key and body with the original response, flagged idempotent-replayed', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const headers = { 'idempotency-key': 'order-42-shipped' };
    const first = await send(org.apiKey, { thread_id: threadId, ...text('Shipped') }, headers);
    expect(first.statusCode).toBe(202);
    expect(first.headers['idempotent-replayed']).toBeUndefined();

    // Same body with its keys in another order is the same request.
    const retry = await send(org.apiKey, { text: { body: 'Shipped' }, type: 'text', thread_id: threadId }, headers);
    expect(retry.statusCode).toBe(202);
    expect(retry.headers['idempotent-replayed']).toBe('true');
    expect(retry.json()).toEqual(first.json());
    expect(await outboundCount(org.orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'message_outbox', org.orgId)).toBe(1);
  });

  it('refuses the same key with a different body with 409 idempotency_key_reused', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const headers = { 'idempotency-key': 'k-1' };
    expect((await send(org.apiKey, { thread_id: threadId, ...text('one') }, headers)).statusCode).toBe(202);
    const reused = await send(org.apiKey, { thread_id: threadId, ...text('two') }, headers);
    expect(reused.statusCode).toBe(409);
    expect(reused.json().error.code).toBe('idempotency_key_reused');
    expect(await outboundCount(org.orgId)).toBe(1);
  });

  it('refuses another operator reusing a key with the same body instead of replaying their colleague\'s message', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const admin = await createTestOperator(bed.t.db, org.orgId, 'admin');
    const headers = { 'idempotency-key': 'shared-key' };
    expect((await send(org.apiKey, { thread_id: threadId, ...text('same') }, headers)).statusCode).toBe(202);
    const other = await send(admin.apiKey, { thread_id: threadId, ...text('same') }, headers);
    expect(other.statusCode).toBe(409);
    expect(other.json().error.code).toBe('idempotency_key_reused');
    expect(await outboundCount(org.orgId)).toBe(1);
  });

  it('refuses a malformed Idempotency-Key with 400 validation_failed', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const response = await send(org.apiKey, { thread_id: threadId, ...text() }, { 'idempotency-key': 'x'.repeat(256) });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('validation_failed');
    expect(await outboundCount(org.orgId)).toBe(0);
  });

  it('turns 50 parallel sends with one key into one message, one outbox row and 50 identical responses', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const payload = { thread_id: threadId, ...text('exactly once') };

    const responses = await Promise.all(Array.from({ length: 50 }, () => send(org.apiKey, payload, { 'idempotency-key': 'burst-1' })));

    expect(responses.map((r) => r.statusCode)).toEqual(Array(50).fill(202));
    const bodies = responses.map((r) => r.json());
    expect(new Set(bodies.map((b) => JSON.stringify(b))).size).toBe(1);
    expect(bodies[0]).toMatchObject({ status: 'queued', thread_id: threadId });
    expect(responses.filter((r) => r.headers['idempotent-replayed'] === 'true')).toHaveLength(49);
    expect(await outboundCount(org.orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'message_outbox', org.orgId)).toBe(1);
  });

  it('turns 50 parallel first sends to a new number with one key into one contact, thread and message', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const payload = { from_phone_number_id: number.phoneNumberId, to: `+${customerWaId()}`, ...template };

    const responses = await Promise.all(Array.from({ length: 50 }, () => send(org.apiKey, payload, { 'idempotency-key': 'burst-2' })));

    expect(responses.map((r) => r.statusCode)).toEqual(Array(50).fill(202));
    expect(new Set(responses.map((r) => r.body)).size).toBe(1);
    expect(await countRows(bed.t.db, 'contacts', org.orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'clients', org.orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'threads', org.orgId)).toBe(1);
    expect(await outboundCount(org.orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'message_outbox', org.orgId)).toBe(1);
  });
});

describe('POST /v1/messages: who may send', () => {
  async function ownerOf(threadId: string): Promise<string | null> {
    const row = await bed.t.db.selectFrom('threads').select('owner_operator_id').where('id', '=', threadId).executeTakeFirstOrThrow();
    return row.owner_operator_id;
  }

  it('makes an agent who replies in an unowned thread its owner', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const agent = await createTestOperator(bed.t.db, org.orgId, 'agent');
    expect(await ownerOf(threadId)).toBeNull();

    expect((await send(agent.apiKey, { thread_id: threadId, ...text() })).statusCode).toBe(202);
    expect(await ownerOf(threadId)).toBe(agent.operatorId);
  });

  it('refuses an agent who is neither owner nor co-writer with 403 not_allowed_to_send, writing nothing', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const owner = await createTestOperator(bed.t.db, org.orgId, 'agent');
    const other = await createTestOperator(bed.t.db, org.orgId, 'agent');
    expect((await send(owner.apiKey, { thread_id: threadId, ...text() })).statusCode).toBe(202);

    const refused = await send(other.apiKey, { thread_id: threadId, ...text() });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error.code).toBe('not_allowed_to_send');
    expect(await outboundCount(org.orgId)).toBe(1);
    expect(await ownerOf(threadId)).toBe(owner.operatorId);
  });

  it('lets the owner agent keep sending and a co-writer agent send', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const owner = await createTestOperator(bed.t.db, org.orgId, 'agent');
    const cowriter = await createTestOperator(bed.t.db, org.orgId, 'agent');
    expect((await send(owner.apiKey, { thread_id: threadId, ...text('1') })).statusCode).toBe(202);
    expect((await send(owner.apiKey, { thread_id: threadId, ...text('2') })).statusCode).toBe(202);
    expect((await send(cowriter.apiKey, { thread_id: threadId, ...text('3') })).statusCode).toBe(403);

    await bed.t.db.insertInto('thread_collaborators').values({ org_id: org.orgId, thread_id: threadId, operator_id: cowriter.operatorId }).execute();
    expect((await send(cowriter.apiKey, { thread_id: threadId, ...text('4') })).statusCode).toBe(202);
    expect(await ownerOf(threadId)).toBe(owner.operatorId);
  });

  it('lets an admin and the organization owner send in a thread owned by an agent, without taking it over', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const agent = await createTestOperator(bed.t.db, org.orgId, 'agent');
    const admin = await createTestOperator(bed.t.db, org.orgId, 'admin');
    expect((await send(agent.apiKey, { thread_id: threadId, ...text() })).statusCode).toBe(202);

    expect((await send(admin.apiKey, { thread_id: threadId, ...text() })).statusCode).toBe(202);
    expect((await send(org.apiKey, { thread_id: threadId, ...text() })).statusCode).toBe(202);
    expect(await ownerOf(threadId)).toBe(agent.operatorId);
  });

  it('gives an unowned thread to exactly one of two agents replying at the same moment', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const agents = await Promise.all([createTestOperator(bed.t.db, org.orgId, 'agent'), createTestOperator(bed.t.db, org.orgId, 'agent')]);
    const responses = await Promise.all(agents.map((a) => send(a.apiKey, { thread_id: threadId, ...text() })));
    expect(responses.map((r) => r.statusCode).sort()).toEqual([202, 403]);
    const winner = agents[responses.findIndex((r) => r.statusCode === 202)]!;
    expect(await ownerOf(threadId)).toBe(winner.operatorId);
  });
});

describe('GET /v1/messages/{id}', () => {
  const isoTimestamp = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

  it('returns exactly {id, thread_id, direction, type, status, provider_message_id, content, error, created_at}', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const { id } = (await send(org.apiKey, { thread_id: threadId, ...text('shape') }, { 'idempotency-key': 'shape-1' })).json();

    const response = await bed.app.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: bearer(org.apiKey) });

    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(Object.keys(body).sort()).toEqual(['content', 'created_at', 'direction', 'error', 'id', 'provider_message_id', 'provider_timestamp', 'status', 'thread_id', 'type']);
    expect(body).toEqual({
      id, thread_id: threadId, direction: 'outbound', type: 'text', status: 'queued', provider_message_id: null,
      content: { body: 'shape' }, error: null, provider_timestamp: null, created_at: expect.stringMatching(isoTimestamp),
    });
  });

  it('shows an inbound message with its wamid and a failed message with its error', async () => {
    const { org, threadId, inboundWamid } = await orgWithOpenThread();
    const inbound = await bed.t.db.selectFrom('messages').select('id').where('provider_message_id', '=', inboundWamid).executeTakeFirstOrThrow();
    const inboundBody = (await bed.app.inject({ method: 'GET', url: `/v1/messages/${inbound.id}`, headers: bearer(org.apiKey) })).json();
    expect(inboundBody).toMatchObject({ direction: 'inbound', type: 'text', status: 'received', provider_message_id: inboundWamid, content: { body: 'hello' }, error: null });

    const { id } = (await send(org.apiKey, { thread_id: threadId, ...text() })).json();
    await bed.t.db.updateTable('messages').set({ status: 'failed', error_code: 131026, error_title: 'Message undeliverable' }).where('id', '=', id).execute();
    const failed = (await bed.app.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: bearer(org.apiKey) })).json();
    expect(failed).toMatchObject({ status: 'failed', error: { code: 131026, title: 'Message undeliverable' } });
  });

  it('answers 404 for an unknown or non-uuid id', async () => {
    const org = await createTestOrg(bed.t.db);
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid', '1']) {
      const response = await bed.app.inject({ method: 'GET', url: `/v1/messages/${id}`, headers: bearer(org.apiKey) });
      expect(response.statusCode, id).toBe(404);
      expect(response.json().error.code).toBe('not_found');
    }
  });
});

describe('/v1/messages authentication', () => {
  it('answers 401 unauthorized without a key, with a malformed, unknown or revoked key, writing nothing', async () => {
    const { org, threadId } = await orgWithOpenThread();
    const revoked = await createTestOperator(bed.t.db, org.orgId, 'admin');
    await bed.t.db.updateTable('api_keys').set({ revoked_at: new Date() }).where('operator_id', '=', revoked.operatorId).execute();
    const wellFormedUnknown = `wah_${'0'.repeat(12)}_${'A'.repeat(43)}`;
    const tampered = `${org.apiKey.slice(0, -1)}${org.apiKey.endsWith('A') ? 'B' : 'A'}`;
    const headerSets: Array<Record<string, string>> = [
      {}, { authorization: org.apiKey }, { authorization: 'Bearer nope' }, { authorization: `Basic ${org.apiKey}` },
      bearer(wellFormedUnknown), bearer(tampered), bearer(revoked.apiKey),
    ];
    for (const headers of headerSets) {
      const post = await bed.app.inject({ method: 'POST', url: '/v1/messages', headers, payload: { thread_id: threadId, ...text() } });
      expect(post.statusCode, JSON.stringify(headers)).toBe(401);
      expect(post.json().error.code).toBe('unauthorized');
      const get = await bed.app.inject({ method: 'GET', url: `/v1/messages/${threadId}`, headers });
      expect(get.statusCode).toBe(401);
    }
    expect(await outboundCount(org.orgId)).toBe(0);
  });
});
