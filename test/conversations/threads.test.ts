/**
 * Threads read API through `app.inject()` on a real database: `GET /v1/threads` (newest activity
 * first, keyset pages), `GET /v1/threads/{id}`, `GET /v1/threads/{id}/messages` (newest first) and
 * `POST /v1/threads` (create-or-return, race-safe).
 */
import { sql } from 'kysely';
import { describe, expect, it } from 'vitest';
import { bearer, customerWaId, deliverInbound } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { countRows, createTestNumber, createTestOrg } from '../helpers/factories.js';

const bed = useAppBed();

interface Page { data: Array<Record<string, any>>; next_cursor: string | null }

async function get(apiKey: string, url: string) {
  return bed.app.inject({ method: 'GET', url, headers: bearer(apiKey) });
}

/** Follows next_cursor from the first page to the last; fails on a non-200 or a runaway loop. */
async function allPages(apiKey: string, path: string, limit: number): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const query: string = `limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const response = await get(apiKey, `${path}?${query}`);
    expect(response.statusCode, response.body).toBe(200);
    const page = response.json() as Page;
    pages.push(page);
    cursor = page.next_cursor;
    if (pages.length > 50) throw new Error('pagination does not terminate');
  } while (cursor);
  return pages;
}

/** The expected order of a keyset list: timestamp text (microseconds, UTC) desc, then uuid desc. */
function byKeysetDesc(a: { at: string; id: string }, b: { at: string; id: string }): number {
  if (a.at !== b.at) return a.at < b.at ? 1 : -1;
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

describe('GET /v1/threads', () => {
  it('lists threads newest activity first with the customer and business number', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const base = Math.floor(Date.now() / 1000) - 3600;
    const customers = [
      { name: 'Maya Chen', from: customerWaId() },
      { name: 'Oliver Hughes', from: customerWaId() },
      { name: 'Priya Sharma', from: customerWaId() },
    ];
    const threadIds: string[] = [];
    for (const [i, customer] of customers.entries()) {
      threadIds.push((await deliverInbound(bed.app, bed.t.db, number, { ...customer, timestamp: base + i * 60 })).threadId);
    }

    const page = (await get(org.apiKey, '/v1/threads')).json() as Page;

    expect(page.next_cursor).toBeNull();
    expect(page.data.map((thread) => thread.id)).toEqual([...threadIds].reverse());
    expect(page.data[0]).toMatchObject({
      id: threadIds[2], status: 'open', owner_operator_id: null, e164: `+${customers[2]!.from}`, wa_id: customers[2]!.from,
      profile_name: 'Priya Sharma', phone_number_id: number.phoneNumberId, display_phone_number: number.displayPhoneNumber,
      last_inbound_at: new Date((base + 120) * 1000).toISOString(), last_message_at: new Date((base + 120) * 1000).toISOString(),
    });

    // An outbound message is activity too: that thread moves to the top.
    const sent = await bed.app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey), payload: {
      thread_id: threadIds[0], type: 'template', template: { name: 'hello', language: { code: 'en_US' } },
    } });
    expect(sent.statusCode).toBe(202);
    const after = (await get(org.apiKey, '/v1/threads')).json() as Page;
    expect(after.data.map((thread) => thread.id)).toEqual([threadIds[0], threadIds[2], threadIds[1]]);
  });

  it('pages 7 threads 3 at a time: disjoint, complete, in order, the last next_cursor null', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    for (let i = 0; i < 7; i++) await deliverInbound(bed.app, bed.t.db, number);
    // Ties on last_message_at (with microseconds) must be broken by id, across page boundaries too.
    const ids = (await bed.t.db.selectFrom('threads').select('id').where('org_id', '=', org.orgId).execute()).map((r) => r.id);
    const stamps = ['2026-01-01T12:00:00.000001Z', '2026-01-01T12:00:00.123456Z', '2026-01-01T12:00:00.123456Z',
      '2026-01-01T12:00:00.123456Z', '2026-01-01T12:00:00.123457Z', '2026-01-01T11:59:59.999999Z', '2026-01-01T12:00:00.123456Z'];
    for (const [i, id] of ids.entries()) {
      await sql`UPDATE threads SET last_message_at = ${stamps[i]}::timestamptz WHERE id = ${id}`.execute(bed.t.db);
    }
    const expected = ids.map((id, i) => ({ id, at: stamps[i]! })).sort(byKeysetDesc).map((row) => row.id);

    const pages = await allPages(org.apiKey, '/v1/threads', 3);

    expect(pages.map((page) => page.data.length)).toEqual([3, 3, 1]);
    expect(pages.slice(0, -1).every((page) => typeof page.next_cursor === 'string')).toBe(true);
    expect(pages.at(-1)!.next_cursor).toBeNull();
    const seen = pages.flatMap((page) => page.data.map((thread) => thread.id));
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen).toEqual(expected);
  });

  it('ends with next_cursor null when the last page is exactly full', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    for (let i = 0; i < 4; i++) await deliverInbound(bed.app, bed.t.db, number);
    const pages = await allPages(org.apiKey, '/v1/threads', 2);
    expect(pages.map((page) => page.data.length)).toEqual([2, 2]);
    expect(pages[1]!.next_cursor).toBeNull();
  });

  it('answers 400 invalid_cursor for a cursor it did not issue', async () => {
    const org = await createTestOrg(bed.t.db);
    const forged = [
      'garbage',
      Buffer.from('{"at":"yesterday","id":"x"}').toString('base64url'),
      Buffer.from(JSON.stringify({ at: '2026-01-01T12:00:00.000000Z', id: 'not-a-uuid' })).toString('base64url'),
      Buffer.from('[1,2]').toString('base64url'),
    ];
    for (const cursor of forged) {
      const response = await get(org.apiKey, `/v1/threads?cursor=${encodeURIComponent(cursor)}`);
      expect(response.statusCode, cursor).toBe(400);
      expect(response.json().error.code).toBe('invalid_cursor');
    }
  });

  it('answers 400 validation_failed for limit 0, 101 or not a number, and accepts 1 and 100', async () => {
    const org = await createTestOrg(bed.t.db);
    for (const limit of ['0', '101', 'abc', '-1', '2.5']) {
      const response = await get(org.apiKey, `/v1/threads?limit=${limit}`);
      expect(response.statusCode, limit).toBe(400);
      expect(response.json().error).toMatchObject({ code: 'validation_failed', details: [{ path: 'limit' }] });
    }
    expect((await get(org.apiKey, '/v1/threads?limit=1')).statusCode).toBe(200);
    expect((await get(org.apiKey, '/v1/threads?limit=100')).statusCode).toBe(200);
  });
});

describe('GET /v1/threads/{id}', () => {
  it('returns one thread, with the customer service window end while it is open', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const now = Math.floor(Date.now() / 1000);
    const { threadId } = await deliverInbound(bed.app, bed.t.db, number, { timestamp: now });
    const response = await get(org.apiKey, `/v1/threads/${threadId}`);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      id: threadId, customer_service_window_expires_at: new Date((now + 24 * 3600) * 1000).toISOString(),
    });

    await sql`UPDATE threads SET last_inbound_at = now() - interval '25 hours' WHERE id = ${threadId}`.execute(bed.t.db);
    expect((await get(org.apiKey, `/v1/threads/${threadId}`)).json().customer_service_window_expires_at).toBeNull();
  });

  it('answers 404 for an unknown id and for ids that are not uuids', async () => {
    const org = await createTestOrg(bed.t.db);
    for (const id of ['00000000-0000-4000-8000-000000000000', 'abc', '123', '5b0c8c8e-1d2a-4a49-9a49-3f1b7a0b6f1']) {
      for (const path of [`/v1/threads/${id}`, `/v1/threads/${id}/messages`]) {
        const response = await get(org.apiKey, path);
        expect(response.statusCode, path).toBe(404);
        expect(response.json().error.code).toBe('not_found');
      }
    }
  });
});

describe('GET /v1/threads/{id}/messages', () => {
  it('pages a thread\'s messages newest first, disjoint and complete, inbound and outbound together', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const from = customerWaId();
    const { threadId } = await deliverInbound(bed.app, bed.t.db, number, { from, body: 'in-0' });
    for (let i = 1; i < 4; i++) await deliverInbound(bed.app, bed.t.db, number, { from, body: `in-${i}` });
    for (let i = 0; i < 3; i++) {
      const response = await bed.app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey), payload: { thread_id: threadId, type: 'text', text: { body: `out-${i}` } } });
      expect(response.statusCode).toBe(202);
    }
    // Another thread's messages never appear in this one.
    await deliverInbound(bed.app, bed.t.db, number, { body: 'elsewhere' });

    const rows = await sql<{ id: string; at: string; body: string }>`
      SELECT id, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS at, content->>'body' AS body
      FROM messages WHERE thread_id = ${threadId}`.execute(bed.t.db);
    const expected = rows.rows.sort(byKeysetDesc).map((row) => row.id);

    const pages = await allPages(org.apiKey, `/v1/threads/${threadId}/messages`, 3);

    expect(pages.map((page) => page.data.length)).toEqual([3, 3, 1]);
    const seen = pages.flatMap((page) => page.data.map((message) => message.id));
    expect(seen).toEqual(expected);
    expect(pages.flatMap((page) => page.data.map((message) => message.content.body))).toEqual(['out-2', 'out-1', 'out-0', 'in-3', 'in-2', 'in-1', 'in-0']);
    expect(pages[0]!.data[0]).toMatchObject({ thread_id: threadId, direction: 'outbound', type: 'text', status: 'queued', error: null });
  });

  it('gives an inbound message the provider\'s timestamp, the same instant the thread list shows', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    // The customer sent it 7 minutes before the webhook arrived (as the sandbox's demo messages are).
    const sentAt = Math.floor(Date.now() / 1000) - 7 * 60;
    const { threadId } = await deliverInbound(bed.app, bed.t.db, number, { timestamp: sentAt });

    const [message] = (await get(org.apiKey, `/v1/threads/${threadId}/messages`)).json().data as Array<{ provider_timestamp: string; created_at: string }>;
    expect(message!.provider_timestamp).toBe(new Date(sentAt * 1000).toISOString());
    expect(Date.parse(message!.created_at) - sentAt * 1000).toBeGreaterThan(6 * 60_000);
    expect((await get(org.apiKey, `/v1/threads/${threadId}`)).json().last_message_at).toBe(message!.provider_timestamp);
  });

  it('answers 400 for a bad cursor or limit on the message list', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const { threadId } = await deliverInbound(bed.app, bed.t.db, number);
    expect((await get(org.apiKey, `/v1/threads/${threadId}/messages?cursor=nope`)).json().error.code).toBe('invalid_cursor');
    expect((await get(org.apiKey, `/v1/threads/${threadId}/messages?limit=0`)).json().error.code).toBe('validation_failed');
    expect((await get(org.apiKey, `/v1/threads/${threadId}/messages?limit=101`)).statusCode).toBe(400);
  });
});

describe('POST /v1/threads', () => {
  function open(apiKey: string, payload: Record<string, unknown>) {
    return bed.app.inject({ method: 'POST', url: '/v1/threads', headers: bearer(apiKey), payload });
  }

  it('creates the thread (201), then returns the same thread (200)', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const phone = `+${customerWaId()}`;

    const created = await open(org.apiKey, { phone, from_phone_number_id: number.phoneNumberId });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({
      id: expect.any(String), status: 'open', e164: phone, wa_id: null, phone_number_id: number.phoneNumberId,
      last_inbound_at: null, customer_service_window_expires_at: null,
    });

    const again = await open(org.apiKey, { phone, from_phone_number_id: number.phoneNumberId });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toEqual(created.json());
    expect(await countRows(bed.t.db, 'threads', org.orgId)).toBe(1);
  });

  it('returns the thread an inbound message already created for that customer', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const { threadId, from } = await deliverInbound(bed.app, bed.t.db, number, { name: 'Ana Souza' });
    const response = await open(org.apiKey, { phone: `+${from}`, from_phone_number_id: number.phoneNumberId });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({ id: threadId, profile_name: 'Ana Souza', wa_id: from });
  });

  it('makes one contact, one client and one thread from 50 concurrent calls for one phone', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const payload = { phone: `+${customerWaId()}`, from_phone_number_id: number.phoneNumberId };

    const responses = await Promise.all(Array.from({ length: 50 }, () => open(org.apiKey, payload)));

    const statuses = responses.map((r) => r.statusCode);
    expect(statuses.every((s) => s === 200 || s === 201), statuses.join(',')).toBe(true);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(new Set(responses.map((r) => r.json().id)).size).toBe(1);
    expect(await countRows(bed.t.db, 'contacts', org.orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'clients', org.orgId)).toBe(1);
    expect(await countRows(bed.t.db, 'threads', org.orgId)).toBe(1);
  });

  it('refuses a bad body (400), a phone that is not E.164 (422) and an unknown number (404)', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const missing = await open(org.apiKey, { from_phone_number_id: number.phoneNumberId });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().error).toMatchObject({ code: 'validation_failed', details: [{ path: 'phone' }] });
    const extra = await open(org.apiKey, { phone: '+14155550123', from_phone_number_id: number.phoneNumberId, name: 'x' });
    expect(extra.statusCode).toBe(400);
    const invalid = await open(org.apiKey, { phone: '4155550123', from_phone_number_id: number.phoneNumberId });
    expect(invalid.statusCode).toBe(422);
    expect(invalid.json().error.code).toBe('invalid_phone_number');
    const unknown = await open(org.apiKey, { phone: '+14155550123', from_phone_number_id: '999999999999998' });
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json().error.code).toBe('not_found');
    expect(await countRows(bed.t.db, 'contacts', org.orgId)).toBe(0);
  });

  it('answers 401 without an API key', async () => {
    const response = await bed.app.inject({ method: 'POST', url: '/v1/threads', payload: { phone: '+14155550123', from_phone_number_id: '1' } });
    expect(response.statusCode).toBe(401);
    expect(response.json().error.code).toBe('unauthorized');
    expect((await bed.app.inject({ method: 'GET', url: '/v1/threads' })).statusCode).toBe(401);
  });
});
