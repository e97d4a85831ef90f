/**
 * The edges of the Meta webhook endpoint: the GET verify handshake, X-Hub-Signature-256
 * verification over the raw bytes (PROTOCOL.md §1.2), bodies that are not JSON or too large,
 * routing failures kept as dead letters, and the database being down.
 */
import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../../src/db/database.js';
import { META_WEBHOOK_BODY_LIMIT } from '../../src/inbound/inbound.routes.js';
import { useAppBed } from '../helpers/bed.js';
import type { TestDatabase } from '../helpers/db.js';
import {
  TEST_APP_SECRET, TEST_VERIFY_TOKEN, countRows, createTestApp, createTestNumber, createTestOrg, signedHeaders, textWebhook,
  uniqueDigits, type TestNumber, type TestOrg,
} from '../helpers/factories.js';
import { postWebhook } from './helpers.js';

const WRITTEN_TABLES = ['messages', 'contacts', 'clients', 'threads', 'webhook_dead_letters'] as const;

/** Row counts of every table a webhook can write to. */
async function rowCounts(db: TestDatabase['db']): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (const table of WRITTEN_TABLES) counts[table] = await countRows(db, table);
  return counts;
}

function hmacHex(body: string | Buffer, secret = TEST_APP_SECRET): string {
  return createHmac('sha256', secret).update(body).digest('hex');
}

describe('GET /webhooks/whatsapp (verify handshake)', () => {
  const bed = useAppBed(2);

  const handshake = (query: Record<string, string>) => bed.app.inject({ method: 'GET', url: '/webhooks/whatsapp', query });

  it('echoes the challenge as plain text when the verify token matches', async () => {
    const response = await handshake({ 'hub.mode': 'subscribe', 'hub.verify_token': TEST_VERIFY_TOKEN, 'hub.challenge': '1158201444' });
    expect(response.statusCode).toBe(200);
    expect(response.body).toBe('1158201444');
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
  });

  it('answers 403 to a wrong verify token', async () => {
    const response = await handshake({ 'hub.mode': 'subscribe', 'hub.verify_token': 'not_the_token', 'hub.challenge': '1158201444' });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect(response.body).not.toContain('1158201444');
  });

  it('answers 403 when the mode is not subscribe or the token is missing', async () => {
    expect((await handshake({ 'hub.mode': 'unsubscribe', 'hub.verify_token': TEST_VERIFY_TOKEN, 'hub.challenge': '42' })).statusCode).toBe(403);
    expect((await handshake({ 'hub.mode': 'subscribe', 'hub.challenge': '42' })).statusCode).toBe(403);
  });
});

describe('POST /webhooks/whatsapp signature and body checks', () => {
  const bed = useAppBed(4);
  let org: TestOrg;
  let number: TestNumber;

  beforeAll(async () => {
    org = await createTestOrg(bed.t.db);
    number = await createTestNumber(bed.t.db, org.orgId);
  });

  /** A routable message: were its signature ignored, it would write a contact, thread and message. */
  const routableBody = () => textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from: '14155550123', wamid: `wamid.sig-${uniqueDigits(12)}` });

  it.each([
    ['a tampered body (one byte changed)', () => {
      const body = routableBody();
      const tampered = body.replace('"hello"', '"hellp"');
      if (tampered === body || tampered.length !== body.length) throw new Error('tampering did not change exactly one byte');
      return { body: tampered, headers: signedHeaders(body) };
    }],
    ['a signature made with another secret', () => {
      const body = routableBody();
      return { body, headers: signedHeaders(body, 'not_the_app_secret') };
    }],
    ['no signature header', () => ({ body: routableBody(), headers: { 'content-type': 'application/json' } as Record<string, string> })],
    ['a header without the sha256= prefix', () => {
      const body = routableBody();
      return { body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': hmacHex(body) } };
    }],
    ['a sha1= header', () => {
      const body = routableBody();
      return { body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha1=${hmacHex(body)}` } };
    }],
    ['a truncated hex digest', () => {
      const body = routableBody();
      return { body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${hmacHex(body).slice(0, 63)}` } };
    }],
    ['a non-hex digest', () => {
      const body = routableBody();
      return { body, headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${'z'.repeat(64)}` } };
    }],
    ['an empty header', () => ({ body: routableBody(), headers: { 'content-type': 'application/json', 'x-hub-signature-256': '' } })],
  ])('answers 401 invalid_signature and writes nothing for %s', async (_title, make) => {
    const { body, headers } = make();
    const before = await rowCounts(bed.t.db);
    const response = await postWebhook(bed.app, body, headers);
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ error: { code: 'invalid_signature' } });
    expect(await rowCounts(bed.t.db)).toEqual(before);
  });

  it('stores the same body when it is signed correctly (control for the 401 cases)', async () => {
    const body = routableBody();
    const before = await countRows(bed.t.db, 'messages', org.orgId);
    const response = await postWebhook(bed.app, body);
    expect(response.statusCode).toBe(200);
    expect(await countRows(bed.t.db, 'messages', org.orgId)).toBe(before + 1);
  });

  it('accepts a signature written in uppercase hex (the header is compared case-insensitively)', async () => {
    const body = routableBody();
    const before = await countRows(bed.t.db, 'messages', org.orgId);
    const response = await postWebhook(bed.app, body, { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${hmacHex(body).toUpperCase()}` });
    expect(response.statusCode).toBe(200);
    expect(await countRows(bed.t.db, 'messages', org.orgId)).toBe(before + 1);
  });

  it('answers 400 invalid_json to a signed body that is not JSON and keeps it as one dead letter, even when redelivered', async () => {
    const body = `not json {${uniqueDigits(6)}`;
    const first = await postWebhook(bed.app, body);
    expect(first.statusCode).toBe(400);
    expect(first.json()).toMatchObject({ error: { code: 'invalid_json' } });
    const second = await postWebhook(bed.app, body);
    expect(second.statusCode).toBe(400);
    const rows = await bed.t.db.selectFrom('webhook_dead_letters').select(['reason', 'raw_body', 'payload', 'org_id']).where('raw_body', '=', body).execute();
    expect(rows).toEqual([{ reason: 'invalid_json', raw_body: body, payload: null, org_id: null }]);
  });

  it('answers 413 payload_too_large to a signed body over 3 MB and writes nothing', async () => {
    const body = Buffer.alloc(META_WEBHOOK_BODY_LIMIT + 1, 0x20);
    const before = await rowCounts(bed.t.db);
    const response = await postWebhook(bed.app, body);
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ error: { code: 'payload_too_large' } });
    expect(await rowCounts(bed.t.db)).toEqual(before);
  });

  it('accepts a signed webhook of exactly 3 MB', async () => {
    const json = routableBody();
    const body = Buffer.alloc(META_WEBHOOK_BODY_LIMIT, 0x20);
    body.write(json, 'utf8'); // JSON followed by whitespace padding
    const before = await countRows(bed.t.db, 'messages', org.orgId);
    const response = await postWebhook(bed.app, body);
    expect(response.statusCode, response.body).toBe(200);
    expect(await countRows(bed.t.db, 'messages', org.orgId)).toBe(before + 1);
  });

  it('answers 200 to an unroutable phone_number_id and keeps the message as an unroutable_phone_number dead letter', async () => {
    const phoneNumberId = uniqueDigits();
    const body = textWebhook({ wabaId: number.wabaId, phoneNumberId, from: '14155550123', wamid: `wamid.unroutable-${uniqueDigits(8)}` });
    const messagesBefore = await countRows(bed.t.db, 'messages');
    const response = await postWebhook(bed.app, body);
    expect(response.statusCode).toBe(200);
    const rows = await bed.t.db.selectFrom('webhook_dead_letters').select(['reason', 'org_id', 'waba_id', 'field'])
      .where('phone_number_id', '=', phoneNumberId).execute();
    expect(rows).toEqual([{ reason: 'unroutable_phone_number', org_id: null, waba_id: number.wabaId, field: 'messages' }]);
    expect(await countRows(bed.t.db, 'messages')).toBe(messagesBefore);
  });

  it('keeps a message whose phone_number_id belongs to another WABA than entry.id as a waba_mismatch dead letter', async () => {
    const other = await createTestNumber(bed.t.db, org.orgId); // another WABA of the same organization
    const body = textWebhook({ wabaId: other.wabaId, phoneNumberId: number.phoneNumberId, from: '14155550123', wamid: `wamid.mismatch-${uniqueDigits(8)}` });
    const messagesBefore = await countRows(bed.t.db, 'messages');
    const response = await postWebhook(bed.app, body);
    expect(response.statusCode).toBe(200);
    const rows = await bed.t.db.selectFrom('webhook_dead_letters').select(['reason', 'org_id', 'waba_id'])
      .where('phone_number_id', '=', number.phoneNumberId).where('reason', '=', 'waba_mismatch').execute();
    expect(rows).toEqual([{ reason: 'waba_mismatch', org_id: org.orgId, waba_id: other.wabaId }]);
    expect(await countRows(bed.t.db, 'messages')).toBe(messagesBefore);
  });

  it('keeps the same unprocessed field event of two WABAs as two dead letters, each stored once', async () => {
    const other = await createTestNumber(bed.t.db, org.orgId);
    // Identical values from both WABAs: only entry.id tells them apart.
    const event = (wabaId: string) => JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: wabaId, time: 1767269700, changes: [{ field: 'business_capability_update', value: { max_daily_conversation_per_phone: 1000 } }] }],
    });
    for (const body of [event(number.wabaId), event(other.wabaId), event(number.wabaId), event(other.wabaId)]) {
      expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    }
    const rows = await bed.t.db.selectFrom('webhook_dead_letters').select(['reason', 'field', 'waba_id'])
      .where('waba_id', 'in', [number.wabaId, other.wabaId]).where('field', '=', 'business_capability_update').orderBy('waba_id').execute();
    expect(rows).toEqual([number.wabaId, other.wabaId].sort().map((wabaId) => ({ reason: 'unhandled_field', field: 'business_capability_update', waba_id: wabaId })));
  });

  it('records the same account_update of two WABAs as two account events, each stored once', async () => {
    const other = await createTestNumber(bed.t.db, org.orgId);
    const event = (wabaId: string) => JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: wabaId, time: 1767269700, changes: [{ field: 'account_update', value: { event: 'MM_LITE_TERMS_SIGNED' } }] }],
    });
    for (const body of [event(number.wabaId), event(other.wabaId), event(number.wabaId), event(other.wabaId)]) {
      expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    }
    const rows = await bed.t.db.selectFrom('account_events').select('event').where('event', '=', 'MM_LITE_TERMS_SIGNED').execute();
    expect(rows).toHaveLength(2);
  });
});

describe('POST /webhooks/whatsapp with NUL characters (which PostgreSQL text and jsonb refuse)', () => {
  const bed = useAppBed(4);
  let org: TestOrg;
  let number: TestNumber;

  beforeAll(async () => {
    org = await createTestOrg(bed.t.db);
    number = await createTestNumber(bed.t.db, org.orgId);
  });

  it('stores a message whose text and profile name contain \\u0000, with U+FFFD in their place', async () => {
    const wamid = `wamid.nul-${uniqueDigits(10)}`;
    const body = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from: '14155550123', wamid, body: 'a\u0000b', name: 'Ma\u0000ya' });
    expect(body).toContain('\\u0000');
    const response = await postWebhook(bed.app, body);
    expect(response.statusCode, response.body).toBe(200);
    const message = await bed.t.db.selectFrom('messages').select('content').where('provider_message_id', '=', wamid).executeTakeFirstOrThrow();
    expect(message.content).toEqual({ body: 'a\ufffdb' });
    const contact = await bed.t.db.selectFrom('contacts').select('profile_name').where('org_id', '=', org.orgId).executeTakeFirstOrThrow();
    expect(contact.profile_name).toBe('Ma\ufffdya');
  });

  it('stores a message and a dead letter whose payloads carry \\u0000 in a property name', async () => {
    const wamid = `wamid.nul-key-${uniqueDigits(10)}`;
    const routable = JSON.parse(textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from: '14155550123', wamid })) as Record<string, any>;
    routable.entry[0].changes[0].value.messages[0]['x\u0000'] = 1;
    const unroutable = structuredClone(routable);
    unroutable.entry[0].changes[0].value.metadata.phone_number_id = uniqueDigits();
    for (const body of [routable, unroutable]) {
      const response = await postWebhook(bed.app, JSON.stringify(body));
      expect(response.statusCode, response.body).toBe(200);
    }
    const stored = await bed.t.db.selectFrom('messages').select('raw').where('provider_message_id', '=', wamid).executeTakeFirstOrThrow();
    expect(stored.raw).toMatchObject({ 'x\ufffd': 1 });
    const deadLetters = await bed.t.db.selectFrom('webhook_dead_letters').select('reason')
      .where('phone_number_id', '=', unroutable.entry[0].changes[0].value.metadata.phone_number_id).execute();
    expect(deadLetters).toEqual([{ reason: 'unroutable_phone_number' }]);
  });

  it('keeps an unroutable message containing \\u0000 as a dead letter', async () => {
    const phoneNumberId = uniqueDigits();
    const body = textWebhook({ wabaId: number.wabaId, phoneNumberId, from: '14155550123', wamid: `wamid.nul-${uniqueDigits(10)}`, body: 'x\u0000y' });
    const response = await postWebhook(bed.app, body);
    expect(response.statusCode, response.body).toBe(200);
    const rows = await bed.t.db.selectFrom('webhook_dead_letters').select('reason').where('phone_number_id', '=', phoneNumberId).execute();
    expect(rows).toEqual([{ reason: 'unroutable_phone_number' }]);
  });

  it('keeps a signed non-JSON body containing a NUL byte as one invalid_json dead letter', async () => {
    const body = Buffer.from(`garbage\u0000${uniqueDigits(6)}`, 'utf8');
    for (let i = 0; i < 2; i++) {
      const response = await postWebhook(bed.app, body);
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'invalid_json' } });
    }
    const rows = await bed.t.db.selectFrom('webhook_dead_letters').select(['reason', 'raw_body']).where('reason', '=', 'invalid_json').execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]!.raw_body).toBe(body.toString('utf8').replace('\u0000', '\ufffd'));
  });
});

describe('POST /webhooks/whatsapp while the database is unavailable', () => {
  const db = createDb('postgres://127.0.0.1:1/x', 1);
  let app: FastifyInstance;
  beforeAll(async () => {
    app = await createTestApp(db);
  });
  afterAll(async () => {
    await app?.close();
    await db.destroy();
  });

  it('answers 503 database_unavailable, not 200, so that Meta redelivers', async () => {
    const body = textWebhook({ wabaId: uniqueDigits(), phoneNumberId: uniqueDigits(), from: '14155550123', wamid: 'wamid.db-down' });
    const response = await postWebhook(app, body);
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ error: { code: 'database_unavailable' } });
  });

  it('answers 503 to a signed non-JSON body whose dead letter cannot be written', async () => {
    const response = await postWebhook(app, 'not json');
    expect(response.statusCode).toBe(503);
    expect(response.json()).toMatchObject({ error: { code: 'database_unavailable' } });
  });

  it('still refuses a bad signature with 401 without touching the database', async () => {
    const body = textWebhook({ wabaId: uniqueDigits(), phoneNumberId: uniqueDigits(), from: '14155550123', wamid: 'wamid.db-down-2' });
    const response = await postWebhook(app, body, signedHeaders(body, 'wrong'));
    expect(response.statusCode).toBe(401);
  });
});
