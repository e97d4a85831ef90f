/**
 * The inbox API beside the thread read API: list filters and unread counts, thread actions
 * (assign, co-writers, close/reopen, read), contact blocking, quick replies, dead letters and the
 * per-number queue depth.
 */
import { describe, expect, it } from 'vitest';
import { bearer, customerWaId, deliverInbound } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { createTestNumber, createTestOperator, createTestOrg, type TestNumber, type TestOrg } from '../helpers/factories.js';

const bed = useAppBed();

const call = (apiKey: string, method: 'GET' | 'POST' | 'DELETE', url: string, payload?: unknown) =>
  bed.app.inject({ method, url, headers: bearer(apiKey), ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });

async function setup(): Promise<{ org: TestOrg; number: TestNumber; agent: { operatorId: string; apiKey: string }; other: { operatorId: string; apiKey: string } }> {
  const org = await createTestOrg(bed.t.db);
  const number = await createTestNumber(bed.t.db, org.orgId);
  return { org, number, agent: await createTestOperator(bed.t.db, org.orgId, 'agent'), other: await createTestOperator(bed.t.db, org.orgId, 'agent') };
}

describe('GET /v1/threads filters and unread counts', () => {
  it('filters by assignee, status and search, and counts unread inbound messages per operator', async () => {
    const { org, number, agent } = await setup();
    // A fixed number: a random one holds "100" about once in a hundred runs, and `q=100%` also searches digits.
    const maya = await deliverInbound(bed.app, bed.t.db, number, { from: '14155550123', name: 'Maya Chen' });
    await deliverInbound(bed.app, bed.t.db, number, { from: maya.from, name: 'Maya Chen' });
    const leo = await deliverInbound(bed.app, bed.t.db, number, { from: '4915112345678', name: 'Leo' });
    expect((await call(org.apiKey, 'POST', `/v1/threads/${leo.threadId}/assign`, { operator_id: agent.operatorId })).statusCode).toBe(200);
    expect((await call(org.apiKey, 'POST', `/v1/threads/${maya.threadId}/close`)).statusCode).toBe(200);

    const names = async (apiKey: string, query: string) =>
      (await call(apiKey, 'GET', `/v1/threads?${query}`)).json().data.map((thread: { profile_name: string }) => thread.profile_name);
    expect(await names(agent.apiKey, 'assignee=me')).toEqual(['Leo']);
    expect(await names(agent.apiKey, 'assignee=unassigned')).toEqual(['Maya Chen']);
    expect(await names(org.apiKey, 'status=open')).toEqual(['Leo']);
    expect(await names(org.apiKey, 'status=closed')).toEqual(['Maya Chen']);
    expect(await names(org.apiKey, 'q=maya')).toEqual(['Maya Chen']);
    expect(await names(org.apiKey, 'q=%2B49151')).toEqual(['Leo']);
    expect(await names(org.apiKey, 'q=100%25')).toEqual([]);
    expect((await call(org.apiKey, 'GET', '/v1/threads?assignee=someone')).statusCode).toBe(400);

    const list = (await call(agent.apiKey, 'GET', '/v1/threads')).json().data as Array<Record<string, any>>;
    const mayaRow = list.find((thread) => thread.id === maya.threadId)!;
    expect(mayaRow.unread_count).toBe(2);
    expect(mayaRow.last_message).toMatchObject({ type: 'text', direction: 'inbound', content: { body: 'hello' } });
    expect(list.find((thread) => thread.id === leo.threadId)!.owner).toMatchObject({ id: agent.operatorId });
    expect((await call(agent.apiKey, 'POST', `/v1/threads/${maya.threadId}/read`)).statusCode).toBe(204);
    const after = (await call(agent.apiKey, 'GET', `/v1/threads/${maya.threadId}`)).json();
    expect(after.unread_count).toBe(0);
    // Read markers are per operator.
    expect((await call(org.apiKey, 'GET', `/v1/threads/${maya.threadId}`)).json().unread_count).toBe(2);
  });
});

describe('unread counts after a reply', () => {
  it('a reply through the API marks every earlier inbound message read for every operator; a later one is unread again', async () => {
    const { org, number, agent, other } = await setup();
    const first = await deliverInbound(bed.app, bed.t.db, number, { from: customerWaId() });
    await deliverInbound(bed.app, bed.t.db, number, { from: first.from });
    const unread = async (apiKey: string) => (await call(apiKey, 'GET', '/v1/threads')).json().data.find((thread: { id: string }) => thread.id === first.threadId).unread_count;
    expect(await unread(agent.apiKey)).toBe(2);

    const reply = await call(other.apiKey, 'POST', '/v1/messages', { thread_id: first.threadId, type: 'text', text: { body: 'On it' } });
    expect(reply.statusCode, reply.body).toBe(202);
    expect(await unread(agent.apiKey)).toBe(0);
    expect(await unread(other.apiKey)).toBe(0);
    expect(await unread(org.apiKey)).toBe(0);
    expect((await call(agent.apiKey, 'GET', `/v1/threads/${first.threadId}`)).json().unread_count).toBe(0);

    await deliverInbound(bed.app, bed.t.db, number, { from: first.from });
    expect(await unread(agent.apiKey)).toBe(1);
    expect(await unread(other.apiKey)).toBe(1);
  });
});

describe('thread actions', () => {
  it('lets an agent take an unassigned thread or release their own, and nothing else', async () => {
    const { org, number, agent, other } = await setup();
    const { threadId } = await deliverInbound(bed.app, bed.t.db, number);
    const take = await call(agent.apiKey, 'POST', `/v1/threads/${threadId}/assign`, { operator_id: agent.operatorId });
    expect(take.statusCode, take.body).toBe(200);
    expect(take.json().owner_operator_id).toBe(agent.operatorId);
    expect((await call(other.apiKey, 'POST', `/v1/threads/${threadId}/assign`, { operator_id: other.operatorId })).json().error.code).toBe('forbidden');
    expect((await call(agent.apiKey, 'POST', `/v1/threads/${threadId}/assign`, { operator_id: other.operatorId })).statusCode).toBe(403);
    expect((await call(agent.apiKey, 'POST', `/v1/threads/${threadId}/assign`, { operator_id: null })).json().owner_operator_id).toBeNull();
    // Owners and admins assign anyone of the organization, and only them.
    expect((await call(org.apiKey, 'POST', `/v1/threads/${threadId}/assign`, { operator_id: other.operatorId })).json().owner_operator_id).toBe(other.operatorId);
    const stranger = await createTestOrg(bed.t.db, 'Stranger');
    const foreign = await call(org.apiKey, 'POST', `/v1/threads/${threadId}/assign`, { operator_id: stranger.operatorId });
    expect(foreign.statusCode).toBe(400);
    expect((await call(stranger.apiKey, 'POST', `/v1/threads/${threadId}/assign`, { operator_id: null })).statusCode).toBe(404);
  });

  it('lets a co-writer send, and the send policy shows as can_send', async () => {
    const { org, number, agent, other } = await setup();
    const { threadId } = await deliverInbound(bed.app, bed.t.db, number);
    await call(org.apiKey, 'POST', `/v1/threads/${threadId}/assign`, { operator_id: agent.operatorId });
    const text = { thread_id: threadId, type: 'text', text: { body: 'hi' } };
    expect((await call(other.apiKey, 'GET', `/v1/threads/${threadId}`)).json().can_send).toBe(false);
    expect((await call(other.apiKey, 'POST', '/v1/messages', text)).json().error.code).toBe('not_allowed_to_send');
    // Only the owner (or an admin) adds co-writers.
    expect((await call(other.apiKey, 'POST', `/v1/threads/${threadId}/cowriters`, { operator_id: other.operatorId })).statusCode).toBe(403);
    expect((await call(agent.apiKey, 'POST', `/v1/threads/${threadId}/cowriters`, { operator_id: other.operatorId })).statusCode).toBe(204);
    const detail = (await call(other.apiKey, 'GET', `/v1/threads/${threadId}`)).json();
    expect(detail.can_send).toBe(true);
    expect(detail.cowriters.map((c: { id: string }) => c.id)).toEqual([other.operatorId]);
    expect((await call(other.apiKey, 'POST', '/v1/messages', text)).statusCode).toBe(202);
    expect((await call(agent.apiKey, 'DELETE', `/v1/threads/${threadId}/cowriters/${other.operatorId}`)).statusCode).toBe(204);
    expect((await call(other.apiKey, 'POST', '/v1/messages', text)).statusCode).toBe(403);
  });

  it('closes and reopens for writers only', async () => {
    const { org, number, agent, other } = await setup();
    const { threadId } = await deliverInbound(bed.app, bed.t.db, number);
    await call(org.apiKey, 'POST', `/v1/threads/${threadId}/assign`, { operator_id: agent.operatorId });
    expect((await call(other.apiKey, 'POST', `/v1/threads/${threadId}/close`)).json().error.code).toBe('not_allowed_to_send');
    expect((await call(agent.apiKey, 'POST', `/v1/threads/${threadId}/close`)).json().status).toBe('closed');
    expect((await call(agent.apiKey, 'POST', `/v1/threads/${threadId}/reopen`)).json().status).toBe('open');
  });
});

describe('POST /v1/contacts/{id}/block', () => {
  it('blocks a contact: its threads refuse sends until it is unblocked', async () => {
    const { org, number } = await setup();
    const { threadId } = await deliverInbound(bed.app, bed.t.db, number);
    const contactId = (await call(org.apiKey, 'GET', `/v1/threads/${threadId}`)).json().contact_id;
    expect((await call(org.apiKey, 'POST', `/v1/contacts/${contactId}/block`, { reason: 'spam' })).statusCode).toBe(200);
    expect((await call(org.apiKey, 'POST', `/v1/contacts/${contactId}/block`, { reason: 'again' })).statusCode).toBe(200);
    // One event per change of state, written with the change.
    const events = await bed.t.db.selectFrom('outbox_events').select(['event_type', 'payload']).where('aggregate_id', '=', contactId).where('event_type', 'like', 'contact.%blocked').execute();
    expect(events).toEqual([{ event_type: 'contact.blocked', payload: expect.objectContaining({ contact_id: contactId, reason: 'spam' }) }]);
    const blocked = (await call(org.apiKey, 'GET', `/v1/threads/${threadId}`)).json();
    expect(blocked.contact_blocked_at).not.toBeNull();
    expect(blocked.can_send).toBe(false);
    const refused = await call(org.apiKey, 'POST', '/v1/messages', { thread_id: threadId, type: 'text', text: { body: 'hi' } });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().error.code).toBe('contact_blocked');
    expect((await call(org.apiKey, 'POST', `/v1/contacts/${contactId}/unblock`)).statusCode).toBe(200);
    expect((await call(org.apiKey, 'POST', '/v1/messages', { thread_id: threadId, type: 'text', text: { body: 'hi' } })).statusCode).toBe(202);
    const stranger = await createTestOrg(bed.t.db, 'Stranger');
    expect((await call(stranger.apiKey, 'POST', `/v1/contacts/${contactId}/block`, {})).statusCode).toBe(404);
  });
});

describe('quick replies, dead letters and queue depth', () => {
  it('keeps quick replies per organization, managed by owners and admins', async () => {
    const { org, agent } = await setup();
    const created = await call(org.apiKey, 'POST', '/v1/quick-replies', { title: 'Shipping', body: 'We ship within 24 hours.' });
    expect(created.statusCode, created.body).toBe(201);
    expect((await call(org.apiKey, 'POST', '/v1/quick-replies', { title: 'shipping', body: 'again' })).statusCode).toBe(409);
    expect((await call(agent.apiKey, 'POST', '/v1/quick-replies', { title: 'Mine', body: 'x' })).statusCode).toBe(403);
    expect((await call(agent.apiKey, 'GET', '/v1/quick-replies')).json().data.map((q: { title: string }) => q.title)).toEqual(['Shipping']);
    const stranger = await createTestOrg(bed.t.db, 'Stranger');
    expect((await call(stranger.apiKey, 'GET', '/v1/quick-replies')).json().data).toEqual([]);
    expect((await call(stranger.apiKey, 'DELETE', `/v1/quick-replies/${created.json().id}`)).statusCode).toBe(404);
    expect((await call(org.apiKey, 'DELETE', `/v1/quick-replies/${created.json().id}`)).statusCode).toBe(204);
  });

  it('lists the organization\'s dead letters (owners and admins) and the queue depth of each number', async () => {
    const { org, number, agent } = await setup();
    await bed.t.db.insertInto('webhook_dead_letters').values({
      org_id: org.orgId, provider: 'meta', reason: 'unknown_field', detail: 'field "x" is not handled', payload: JSON.stringify({ x: 1 }), dedupe_key: `dl-${org.orgId}`,
    }).execute();
    const letters = await call(org.apiKey, 'GET', '/v1/dead-letters');
    expect(letters.statusCode).toBe(200);
    expect(letters.json().data).toMatchObject([{ reason: 'unknown_field', detail: 'field "x" is not handled' }]);
    expect(letters.json().data[0]).not.toHaveProperty('payload');
    expect((await call(agent.apiKey, 'GET', '/v1/dead-letters')).statusCode).toBe(403);

    const { threadId } = await deliverInbound(bed.app, bed.t.db, number, { from: customerWaId() });
    for (const body of ['one', 'two']) await call(org.apiKey, 'POST', '/v1/messages', { thread_id: threadId, type: 'text', text: { body } });
    const numbers = (await call(org.apiKey, 'GET', '/v1/phone-numbers')).json().data;
    expect(numbers).toMatchObject([{ phone_number_id: number.phoneNumberId, queue_depth: 2 }]);
  });
});
