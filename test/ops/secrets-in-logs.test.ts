/**
 * SPEC §2.4: logs never contain tokens, OTPs or secrets. The whole flow runs at log level `trace`
 * (webhook handshake, Embedded Signup, numbers connected with tokens, API keys, a password login
 * and its cookies, an OTP sent and verified through the dispatcher, an event subscription with
 * signed deliveries, signed Meta and Twilio webhooks), every log line of the hub, dispatcher, relay
 * and deliverer is collected, and no secret value may appear in any of them.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventDeliverer } from '../../src/events/deliverer.js';
import { EventRelay } from '../../src/events/relay.js';
import { Dispatcher } from '../../src/outbound/dispatcher.js';
import { setOperatorPassword } from '../../src/sessions/sessions.service.js';
import { codeOf, createCustomer } from '../endusers/helpers.js';
import { startSubscriber, type Subscriber } from '../events/helpers.js';
import { bearer, waitFor } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestOrg, signedHeaders, TEST_APP_SECRET, TEST_VERIFY_TOKEN, testCipher, testEgress, textWebhook, uniqueDigits } from '../helpers/factories.js';
import { createTwilioNumber, encodeForm, postTwilio } from '../helpers/twilio.js';
import { completeSignup, type Hub, issueCode, simNumbers, startHub, startSignup } from '../onboarding/helpers.js';
import { seedTemplates } from '../helpers/templates.js';

let t: TestDatabase;
let hub: Hub;
let subscriber: Subscriber;
const lines: string[] = [];
const logger = pino({ level: 'trace' }, new Writable({
  write(chunk: Buffer, _encoding, done) {
    lines.push(chunk.toString('utf8'));
    done();
  },
}));

beforeAll(async () => {
  t = await createTestDatabase(10);
  hub = await startHub(t.db, { logger });
  subscriber = await startSubscriber();
});

afterAll(async () => {
  await subscriber?.close();
  await hub?.close();
  await t?.drop();
});

/** The value of one cookie in a Set-Cookie answer. */
function cookieValue(setCookie: string | string[] | undefined, name: string): string {
  const list = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : [];
  return list.map((c) => c.split(';')[0]!).find((pair) => pair.startsWith(`${name}=`))!.slice(name.length + 1);
}

describe('logs at level trace', () => {
  it('contain no secret of the whole flow', async () => {
    const secrets: Record<string, string> = { app_secret: TEST_APP_SECRET, verify_token: TEST_VERIFY_TOKEN };
    const org = await createTestOrg(t.db);
    secrets.api_key = org.apiKey;
    const headers = bearer(org.apiKey);

    // Meta's verify handshake carries the verify token in the URL that Fastify logs.
    const handshake = await hub.app.inject({ method: 'GET', url: `/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${TEST_VERIFY_TOKEN}&hub.challenge=4242` });
    expect(handshake.body).toBe('4242');

    // Embedded Signup: the state, the code and the token Graph gives for it.
    const wabaId = uniqueDigits();
    const signupNumbers = simNumbers(1);
    const code = await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: signupNumbers });
    const state = await startSignup(hub.app, org.apiKey);
    Object.assign(secrets, { signup_code: code, signup_state: state });
    expect((await completeSignup(hub.app, org.apiKey, { code, state })).statusCode).toBe(201);
    const signed = await t.db.selectFrom('phone_numbers').select(['access_token_ciphertext', 'access_token_key_id']).where('phone_number_id', '=', signupNumbers[0]!.id).executeTakeFirstOrThrow();
    secrets.signup_access_token = testCipher.decrypt({ ciphertext: signed.access_token_ciphertext!, keyId: signed.access_token_key_id! });

    // A number connected by hand with its token.
    secrets.manual_access_token = `EAAG${randomBytes(24).toString('hex')}`;
    const manual = { wabaId: uniqueDigits(), phoneNumberId: uniqueDigits() };
    const connected = await hub.app.inject({
      method: 'POST', url: '/v1/phone-numbers', headers,
      payload: { waba_id: manual.wabaId, phone_number_id: manual.phoneNumberId, display_phone_number: '+1 555 010 0000', access_token: secrets.manual_access_token },
    });
    expect(connected.statusCode, connected.body).toBe(201);

    // A password login and its cookies.
    secrets.password = `pw-${randomBytes(12).toString('hex')}`;
    await setOperatorPassword(t.db, org.orgId, org.operatorId, secrets.password);
    const email = (await t.db.selectFrom('operators').select('email').where('id', '=', org.operatorId).executeTakeFirstOrThrow()).email;
    const login = await hub.app.inject({ method: 'POST', url: '/v1/session', payload: { email, password: secrets.password } });
    expect(login.statusCode, login.body).toBe(201);
    secrets.session_cookie = cookieValue(login.headers['set-cookie'], 'wahub_session');
    secrets.csrf_token = cookieValue(login.headers['set-cookie'], 'wahub_csrf');
    expect((await hub.app.inject({ method: 'GET', url: '/v1/session', headers: { cookie: `wahub_session=${secrets.session_cookie}` } })).statusCode).toBe(200);

    // A signed inbound message on the signed-up number, then an OTP sent and verified.
    const number = { wabaId, phoneNumberId: signupNumbers[0]!.id } as Parameters<typeof createCustomer>[2];
    const inboundBody = textWebhook({ wabaId, phoneNumberId: number.phoneNumberId, from: `1555${uniqueDigits(7)}`, wamid: `wamid.${uniqueDigits()}` });
    secrets.hub_signature = signedHeaders(inboundBody)['x-hub-signature-256']!;
    const customer = await createCustomer(hub.app, t.db, number);
    // The OTP's authentication template must be in the WABA's registry (the signup's sync found none at this simulator).
    await seedTemplates(t.db, org.orgId, wabaId);
    const otp = await hub.app.inject({ method: 'POST', url: `/v1/contacts/${customer.contactId}/otp`, headers, payload: {} });
    expect(otp.statusCode, otp.body).toBe(202);
    secrets.otp_code = await codeOf(t.db, otp.json().message_id as string);
    const dispatcher = new Dispatcher({
      db: t.db, cipher: testCipher, graph: hub.graph, logger, leaseTtlMs: 60_000, batchSize: 10, pollIntervalMs: 20, maxAttempts: 3, retryBaseMs: 10,
    });
    await waitFor(async () => {
      await dispatcher.runOnce();
      const row = await t.db.selectFrom('messages').select('provider_message_id').where('id', '=', otp.json().message_id as string).executeTakeFirstOrThrow();
      return row.provider_message_id !== null;
    }, 'the OTP message sent');
    const verified = await hub.app.inject({ method: 'POST', url: `/v1/contacts/${customer.contactId}/otp/verify`, headers, payload: { code: secrets.otp_code } });
    expect(verified.statusCode, verified.body).toBe(200);
    await hub.app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(inboundBody), payload: inboundBody });

    // An event subscription: its secret, and the signatures of its deliveries.
    const subscription = await hub.app.inject({ method: 'POST', url: '/v1/event-subscriptions', headers, payload: { url: subscriber.url, event_types: ['*'] } });
    expect(subscription.statusCode, subscription.body).toBe(201);
    secrets.subscription_secret = subscription.json().secret as string;
    await hub.app.inject({ method: 'POST', url: `/v1/contacts/${customer.contactId}/block`, headers, payload: { reason: 'test' } });
    await new EventRelay({ db: t.db, logger, publisher: undefined, batchSize: 100, pollIntervalMs: 20 }).drain();
    const deliverer = new EventDeliverer({ db: t.db, cipher: testCipher, egress: testEgress, logger, timeoutMs: 2_000, retryBaseMs: 1, retryMaxMs: 5, giveUpMs: 60_000, pollIntervalMs: 20 });
    await waitFor(async () => (await deliverer.runOnce()) === 0 && subscriber.received.length > 0, 'deliveries made');
    secrets.event_signature = String(subscriber.received[0]!.headers['x-wahub-signature']);

    // A Twilio number (its Auth Token) and a webhook signed with it.
    const twilio = await createTwilioNumber(t.db, org.orgId);
    secrets.twilio_auth_token = twilio.authToken;
    const twilioBody = encodeForm({ AccountSid: twilio.accountSid, From: `whatsapp:+1555${uniqueDigits(7)}`, To: twilio.phoneNumberId, Body: 'hi', MessageSid: `SM${randomBytes(16).toString('hex')}`, NumMedia: '0' });
    const twilioAnswer = await postTwilio(hub.app, { body: twilioBody, authToken: twilio.authToken, baseUrl: 'http://localhost:80' });
    expect([200, 403]).toContain(twilioAnswer.statusCode);

    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(20);
    expect(log).toContain('[redacted]');
    for (const [name, value] of Object.entries(secrets)) {
      expect(value.length, name).toBeGreaterThan(5);
      expect(log.includes(value), `${name} appears in a log line`).toBe(false);
    }
  });
});
