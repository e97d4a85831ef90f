/**
 * `POST /webhooks/twilio` (PROTOCOL.md §7): form-encoded inbound messages and status callbacks,
 * verified with the number's Auth Token over the public URL, stored exactly once by MessageSid,
 * statuses forward only (`undelivered` → failed); a bad signature is 403 with nothing written.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { computeTwilioSignature } from '../../src/providers/twilio/signature.js';
import { useAppBed } from '../helpers/bed.js';
import { countRows, createTestApp, createTestOrg, type TestOrg } from '../helpers/factories.js';
import {
  accountSid, createTwilioNumber, encodeForm, FIXTURE_ACCOUNT_SID, FIXTURE_AUTH_TOKEN, FIXTURE_BASE_URL, inboundParams, postTwilio,
  statusParams, twilioFixture, type TestTwilioNumber,
} from '../helpers/twilio.js';
import { insertOutboundMessage, insertThread, messageStatus } from './helpers.js';

const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

const bed = useAppBed(4, { publicBaseUrl: FIXTURE_BASE_URL });
let org: TestOrg;
/** The fixtures' number: +1 555 010 0001 on the fixtures' account (PROTOCOL.md §8.2). */
let fixtureNumber: TestTwilioNumber;

beforeAll(async () => {
  org = await createTestOrg(bed.t.db);
  fixtureNumber = await createTwilioNumber(bed.t.db, org.orgId, { e164: '+15550100001', accountSid: FIXTURE_ACCOUNT_SID, authToken: FIXTURE_AUTH_TOKEN });
});

async function counts(orgId?: string) {
  return {
    messages: await countRows(bed.t.db, 'messages', orgId), contacts: await countRows(bed.t.db, 'contacts', orgId), threads: await countRows(bed.t.db, 'threads', orgId),
    dead: await countRows(bed.t.db, 'webhook_dead_letters'), pending: await countRows(bed.t.db, 'pending_statuses', orgId),
  };
}

async function inbound(sid: string) {
  return bed.t.db.selectFrom('messages').selectAll().where('provider_message_id', '=', sid).execute();
}

describe('POST /webhooks/twilio with the shared fixtures', () => {
  it('stores inbound_text.txt with its documented signature, answers empty TwiML, and stores a redelivery once', async () => {
    const body = twilioFixture('inbound_text.txt');
    const post = () => postTwilio(bed.app, { path: '/webhooks/twilio/whatsapp', body, authToken: FIXTURE_AUTH_TOKEN, signature: 'FF+ReYKt8TDlUd7iRQ0j/lq6xlA=' });
    const first = await post();
    expect(first.statusCode, first.body).toBe(200);
    expect(first.headers['content-type']).toMatch(/^text\/xml/);
    expect(first.body).toBe(EMPTY_TWIML);
    expect((await post()).statusCode).toBe(200);

    const rows = await inbound('SM35a7fc003554219469be44bb1c434927');
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      org_id: org.orgId, phone_number_ref: fixtureNumber.id, direction: 'inbound', type: 'text', status: 'received',
      content: { body: 'Hi! Is my order #4512 shipping today? Café ☕' },
    });
    expect(rows[0]!.raw).toMatchObject({ AccountSid: FIXTURE_ACCOUNT_SID, WaId: '14155550123', MessageType: 'text' });
    const contact = await bed.t.db.selectFrom('contacts').selectAll().where('org_id', '=', org.orgId).where('e164', '=', '+14155550123').executeTakeFirstOrThrow();
    expect(contact).toMatchObject({ wa_id: '14155550123', profile_name: 'Maya Chen' });
    const thread = await bed.t.db.selectFrom('threads').selectAll().where('id', '=', rows[0]!.thread_id).executeTakeFirstOrThrow();
    expect(thread).toMatchObject({ phone_number_ref: fixtureNumber.id, contact_id: contact.id });
    expect(thread.last_inbound_at).not.toBeNull();
  });

  it('marks the outbound message of status_undelivered.txt failed with 63016', async () => {
    const { threadId } = await insertThread(bed.t.db, { orgId: org.orgId, phoneNumberRef: fixtureNumber.id, e164: '+5511987654321' });
    const id = await insertOutboundMessage(bed.t.db, { orgId: org.orgId, threadId, phoneNumberRef: fixtureNumber.id, wamid: 'SM041648e63693060b1519bef2e1225079', status: 'sent' });
    const response = await postTwilio(bed.app, { path: '/webhooks/twilio/status', body: twilioFixture('status_undelivered.txt'), authToken: FIXTURE_AUTH_TOKEN, signature: 'XMqZXKBid/pB78uatDx57pSfyi4=' });
    expect(response.statusCode, response.body).toBe(200);
    expect(await messageStatus(bed.t.db, id)).toEqual({
      status: 'failed', error_code: 63016, error_title: 'Failed to send freeform message because you are outside the allowed window',
    });
  });

  it.each([
    ['a tampered parameter', (body: string) => body.replace('Caf%C3%A9', 'Cafe'), 'FF+ReYKt8TDlUd7iRQ0j/lq6xlA='],
    ['an added parameter', (body: string) => `${body}&Extra=1`, 'FF+ReYKt8TDlUd7iRQ0j/lq6xlA='],
    ['a signature from another token', (body: string) => body, computeTwilioSignature('other', `${FIXTURE_BASE_URL}/webhooks/twilio/whatsapp`, {})],
    ['no signature', (body: string) => body, null],
  ])('answers 403 to %s and writes nothing', async (_label, change, signature) => {
    const before = await counts();
    const body = change(twilioFixture('inbound_text.txt').replace('SM35a7fc003554219469be44bb1c434927', 'SM35a7fc003554219469be44bb1c43ffff'));
    const response = await postTwilio(bed.app, { path: '/webhooks/twilio/whatsapp', body, authToken: FIXTURE_AUTH_TOKEN, signature });
    expect(response.statusCode).toBe(403);
    expect(response.json()).toEqual({ error: { code: 'forbidden', message: 'missing or invalid X-Twilio-Signature' } });
    expect(await counts()).toEqual(before);
  });

  it('answers 403 when the signed URL is not the public one (behind a proxy without PUBLIC_BASE_URL)', async () => {
    const direct = await createTestApp(bed.t.db);
    try {
      const before = await counts();
      const response = await direct.inject({
        method: 'POST', url: '/webhooks/twilio/whatsapp', payload: twilioFixture('inbound_text.txt'),
        headers: { host: 'api.example.test', 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': 'FF+ReYKt8TDlUd7iRQ0j/lq6xlA=' },
      });
      expect(response.statusCode).toBe(403);
      expect(await counts()).toEqual(before);
    } finally {
      await direct.close();
    }
  });

  it('accepts the fixture when PUBLIC_BASE_URL names the default port explicitly', async () => {
    const withPort = await createTestApp(bed.t.db, { publicBaseUrl: 'https://api.example.test:443' });
    try {
      const response = await postTwilio(withPort, { path: '/webhooks/twilio/whatsapp', body: twilioFixture('inbound_text.txt'), authToken: FIXTURE_AUTH_TOKEN, signature: 'FF+ReYKt8TDlUd7iRQ0j/lq6xlA=' });
      expect(response.statusCode).toBe(200);
      expect(await inbound('SM35a7fc003554219469be44bb1c434927')).toHaveLength(1);
    } finally {
      await withPort.close();
    }
  });

  it('verifies over PUBLIC_BASE_URL with a path prefix a proxy strips', async () => {
    const prefixed = await createTestApp(bed.t.db, { publicBaseUrl: 'https://proxy.example.test/wahub/' });
    try {
      const number = await createTwilioNumber(bed.t.db, org.orgId);
      const params = inboundParams(number, { from: '14155550996' });
      const signed = await postTwilio(prefixed, { body: encodeForm(params), authToken: number.authToken, baseUrl: 'https://proxy.example.test/wahub' });
      expect(signed.statusCode).toBe(200);
      const unprefixed = await postTwilio(prefixed, { body: encodeForm({ ...params, MessageSid: 'SMother' }), authToken: number.authToken, baseUrl: 'https://proxy.example.test' });
      expect(unprefixed.statusCode).toBe(403);
      expect(await inbound(params.MessageSid!)).toHaveLength(1);
    } finally {
      await prefixed.close();
    }
  });

  it('refuses a body that is not form-encoded with 415', async () => {
    const response = await bed.app.inject({ method: 'POST', url: '/webhooks/twilio', payload: '{}', headers: { 'content-type': 'application/json' } });
    expect(response.statusCode).toBe(415);
  });
});

describe('POST /webhooks/twilio message content', () => {
  let number: TestTwilioNumber;
  beforeAll(async () => {
    number = await createTwilioNumber(bed.t.db, org.orgId);
  });

  async function deliver(extra: Record<string, string>, body = '') {
    const params = inboundParams(number, { from: '447700900123', body, extra });
    const response = await postTwilio(bed.app, { body: encodeForm(params), authToken: number.authToken });
    expect(response.statusCode, response.body).toBe(200);
    const [row] = await inbound(params.MessageSid!);
    return row!;
  }

  it('stores an image with its Twilio media URL and caption in Meta\'s image shape', async () => {
    const url = `https://api.twilio.com/2010-04-01/Accounts/${number.accountSid}/Messages/MM1/Media/ME0123456789abcdef0123456789abcdef`;
    const row = await deliver({ MessageType: 'image', NumMedia: '1', MediaUrl0: url, MediaContentType0: 'image/jpeg' }, 'Look');
    expect(row).toMatchObject({ type: 'image', content: { id: 'ME0123456789abcdef0123456789abcdef', url, mime_type: 'image/jpeg', caption: 'Look' } });
  });

  it('stores a location, a quick reply, a reply to a business message and a referral', async () => {
    expect(await deliver({ MessageType: 'location', Latitude: '51.5074', Longitude: '-0.1278', Label: 'Office', Address: '1 Main St' }))
      .toMatchObject({ type: 'location', content: { latitude: 51.5074, longitude: -0.1278, name: 'Office', address: '1 Main St' } });
    expect(await deliver({ MessageType: 'interactive', ButtonText: 'Yes', ButtonPayload: 'confirm', OriginalRepliedMessageSid: 'SMout1' }, 'Yes'))
      .toMatchObject({ type: 'interactive', content: { type: 'button_reply', button_reply: { id: 'confirm', title: 'Yes' }, context: { id: 'SMout1' } } });
    expect(await deliver({ MessageType: 'button', ButtonText: 'Stop', ButtonPayload: 'stop' }, 'Stop'))
      .toMatchObject({ type: 'button', content: { payload: 'stop', text: 'Stop' } });
    expect(await deliver({ ReferralSourceType: 'ad', ReferralSourceId: '123', ReferralCtwaClid: 'clid', ReferralHeadline: 'Sale' }, 'From the ad'))
      .toMatchObject({ type: 'text', content: { body: 'From the ad', referral: { source_type: 'ad', source_id: '123', ctwa_clid: 'clid', headline: 'Sale' } } });
  });

  it('stores an unknown message type as unsupported, keeping the parameters', async () => {
    const row = await deliver({ MessageType: 'poll' });
    expect(row).toMatchObject({ type: 'unsupported', content: { unsupported_type: 'poll', errors: [] } });
    expect(row.raw).toMatchObject({ MessageType: 'poll' });
  });
});

describe('POST /webhooks/twilio under concurrency', () => {
  it('stores one message, contact and thread when the same webhook arrives 20 times at once', async () => {
    const number = await createTwilioNumber(bed.t.db, org.orgId);
    const params = inboundParams(number, { from: '14155550995', body: 'once' });
    const responses = await Promise.all(Array.from({ length: 20 }, () => postTwilio(bed.app, { body: encodeForm(params), authToken: number.authToken })));
    expect(responses.map((r) => r.statusCode)).toEqual(Array(20).fill(200));
    expect(await inbound(params.MessageSid!)).toHaveLength(1);
    expect(await bed.t.db.selectFrom('contacts').select('id').where('org_id', '=', org.orgId).where('e164', '=', '+14155550995').execute()).toHaveLength(1);
    const threads = await bed.t.db.selectFrom('threads').select('id').where('phone_number_ref', '=', number.id).execute();
    expect(threads).toHaveLength(1);
  });
});

describe('POST /webhooks/twilio routing', () => {
  it('keeps a message for a sender that is not connected as a dead letter, verified with its account\'s token', async () => {
    const number = await createTwilioNumber(bed.t.db, org.orgId);
    const stranger = { ...number, phoneNumberId: 'whatsapp:+15559990000' };
    const params = inboundParams(stranger, { from: '14155550999' });
    const before = await counts(org.orgId);
    const response = await postTwilio(bed.app, { body: encodeForm(params), authToken: number.authToken });
    expect(response.statusCode).toBe(200);
    expect(await counts(org.orgId)).toEqual({ ...before, dead: before.dead + 1 });
    const letter = await bed.t.db.selectFrom('webhook_dead_letters').selectAll().where('phone_number_id', '=', 'whatsapp:+15559990000').executeTakeFirstOrThrow();
    expect(letter).toMatchObject({ provider: 'twilio', reason: 'unroutable_phone_number', org_id: null });
  });

  it('answers 403 when neither the sender nor the account is known, writing nothing', async () => {
    const ghost = { id: '', phoneNumberId: 'whatsapp:+15559990001', e164: '+15559990001', accountSid: accountSid(), authToken: 'ghost-token' };
    const before = await counts();
    const response = await postTwilio(bed.app, { body: encodeForm(inboundParams(ghost, { from: '14155550998' })), authToken: ghost.authToken });
    expect(response.statusCode).toBe(403);
    expect(await counts()).toEqual(before);
  });

  it('does not let one account\'s token sign for another account\'s number', async () => {
    const victim = await createTwilioNumber(bed.t.db, org.orgId);
    const attacker = await createTwilioNumber(bed.t.db, (await createTestOrg(bed.t.db)).orgId);
    const params = inboundParams(victim, { from: '14155550997' });
    const response = await postTwilio(bed.app, { body: encodeForm(params), authToken: attacker.authToken });
    expect(response.statusCode).toBe(403);
    expect(await inbound(params.MessageSid!)).toEqual([]);
  });

  it('parks a status for an unknown MessageSid in pending_statuses and ignores callbacks before sent', async () => {
    const number = await createTwilioNumber(bed.t.db, org.orgId);
    const sid = 'SMunknown0000000000000000000000001';
    for (const status of ['queued', 'sending', 'delivered']) {
      const response = await postTwilio(bed.app, { path: '/webhooks/twilio/status', body: encodeForm(statusParams(number, { sid, status, to: '14155550123' })), authToken: number.authToken });
      expect(response.statusCode).toBe(200);
    }
    const pending = await bed.t.db.selectFrom('pending_statuses').select(['status']).where('provider_message_id', '=', sid).execute();
    expect(pending).toEqual([{ status: 'delivered' }]);
  });
});
