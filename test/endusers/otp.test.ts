/**
 * OTP verification (issue 5): codes sent with the authentication template through the outbox,
 * stored as a keyed hash only, 10-minute expiry, 5 attempts, 3 codes per 15 minutes, single use —
 * also under concurrency — and never in the logs.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/app.js';
import { cleanUpOtps, failExpiredOtpMessages, OTP_EXPIRED_UNSENT_TITLE } from '../../src/endusers/otp.service.js';
import { TokenCipher } from '../../src/shared/token-cipher.js';
import { bearer } from '../helpers/api.js';
import { runWahub } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestNumber, createTestOrg, silentLogger, TEST_APP_SECRET, type TestNumber, type TestOrg } from '../helpers/factories.js';
import { codeOf, createCapturingApp, createCustomer, type CapturingApp } from './helpers.js';

let t: TestDatabase;
let capturing: CapturingApp;
const codesAndHashes: string[] = [];

beforeAll(async () => {
  t = await createTestDatabase(25);
  capturing = await createCapturingApp(t.db);
});
afterAll(async () => {
  await capturing.app.close();
  await t.drop();
});

async function setUp(): Promise<{ org: TestOrg; number: TestNumber; contactId: string; clientId: string }> {
  const org = await createTestOrg(t.db);
  const number = await createTestNumber(t.db, org.orgId);
  const customer = await createCustomer(capturing.app, t.db, number);
  return { org, number, contactId: customer.contactId, clientId: customer.clientId };
}

async function requestCode(org: TestOrg, contactId: string) {
  return capturing.app.inject({ method: 'POST', url: `/v1/contacts/${contactId}/otp`, headers: bearer(org.apiKey), payload: {} });
}

async function sendCode(org: TestOrg, contactId: string): Promise<{ code: string; challengeId: string; messageId: string }> {
  const response = await requestCode(org, contactId);
  expect(response.statusCode, response.body).toBe(202);
  const body = response.json<{ challenge_id: string; message_id: string }>();
  const code = await codeOf(t.db, body.message_id);
  const row = await t.db.selectFrom('otp_challenges').select('code_hash').where('id', '=', body.challenge_id).executeTakeFirstOrThrow();
  codesAndHashes.push(code, row.code_hash);
  return { code, challengeId: body.challenge_id, messageId: body.message_id };
}

async function verify(org: TestOrg, contactId: string, code: string) {
  return capturing.app.inject({ method: 'POST', url: `/v1/contacts/${contactId}/otp/verify`, headers: bearer(org.apiKey), payload: { code } });
}

function wrong(code: string): string {
  return String((Number(code) + 1) % 1_000_000).padStart(6, '0');
}

describe('POST /v1/contacts/{id}/otp and /otp/verify', () => {
  it('sends a 6-digit code in body and button of the authentication template through the outbox, stores only its hash, and verifies it', async () => {
    const { org, number, contactId } = await setUp();
    const { code, challengeId, messageId } = await sendCode(org, contactId);
    expect(code).toMatch(/^\d{6}$/);

    const message = await t.db.selectFrom('messages').selectAll().where('id', '=', messageId).executeTakeFirstOrThrow();
    expect(message).toMatchObject({ type: 'template', status: 'queued', direction: 'outbound', phone_number_ref: number.id });
    expect(message.content).toEqual({
      name: 'verification_code', language: { code: 'en_US' },
      components: [
        { type: 'body', parameters: [{ type: 'text', text: code }] },
        { type: 'button', sub_type: 'url', index: 0, parameters: [{ type: 'text', text: code }] },
      ],
    });
    expect(await t.db.selectFrom('message_outbox').select('state').where('message_id', '=', messageId).executeTakeFirst()).toEqual({ state: 'pending' });
    const challenge = await t.db.selectFrom('otp_challenges').selectAll().where('id', '=', challengeId).executeTakeFirstOrThrow();
    expect(challenge.code_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(challenge.code_hash).not.toContain(code);
    expect(challenge.expires_at.getTime() - challenge.created_at.getTime()).toBe(10 * 60_000);

    const verified = await verify(org, contactId, code);
    expect(verified.statusCode).toBe(200);
    expect(verified.json()).toMatchObject({ verified_at: expect.any(String), registered_at: null });
    const contact = await t.db.selectFrom('contacts').select('verified_at').where('id', '=', contactId).executeTakeFirstOrThrow();
    expect(contact.verified_at).not.toBeNull();
    const events = await t.db.selectFrom('outbox_events').select(['event_type', 'payload']).where('aggregate_id', '=', contactId).execute();
    expect(events.map((e) => e.event_type)).toContain('user.verified');
    const allEvents = await sql<{ text: string }>`SELECT string_agg(payload::text || metadata::text, ' ') AS text FROM outbox_events WHERE org_id = ${org.orgId}`.execute(t.db);
    expect(allEvents.rows[0]!.text).not.toContain(code);
  });

  it('locks the code after 5 wrong attempts, even for the right code', async () => {
    const { org, contactId } = await setUp();
    const { code } = await sendCode(org, contactId);
    for (let attempt = 1; attempt <= 5; attempt++) {
      const response = await verify(org, contactId, wrong(code));
      expect(response.statusCode).toBe(422);
      expect(response.json()).toEqual({ error: { code: 'otp_incorrect', message: expect.any(String), details: { attempts_remaining: 5 - attempt } } });
    }
    const locked = await verify(org, contactId, code);
    expect(locked.statusCode).toBe(429);
    expect(locked.json()).toMatchObject({ error: { code: 'otp_attempts_exceeded' } });
  });

  it('refuses an expired code', async () => {
    const { org, contactId } = await setUp();
    const { code, challengeId } = await sendCode(org, contactId);
    await sql`UPDATE otp_challenges SET created_at = created_at - interval '11 minutes', expires_at = expires_at - interval '11 minutes' WHERE id = ${challengeId}`.execute(t.db);
    const response = await verify(org, contactId, code);
    expect(response.statusCode).toBe(422);
    expect(response.json()).toMatchObject({ error: { code: 'otp_expired' } });
  });

  it('refuses a code used once already', async () => {
    const { org, contactId } = await setUp();
    const { code } = await sendCode(org, contactId);
    expect((await verify(org, contactId, code)).statusCode).toBe(200);
    const again = await verify(org, contactId, code);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ error: { code: 'otp_already_used' } });
  });

  it('refuses to verify when no code was sent', async () => {
    const { org, contactId } = await setUp();
    expect((await verify(org, contactId, '123456')).json()).toMatchObject({ error: { code: 'otp_not_requested' } });
  });

  it('sends at most 3 codes per contact in 15 minutes (429 past that); only the newest code is valid', async () => {
    const { org, contactId } = await setUp();
    const sent = [await sendCode(org, contactId), await sendCode(org, contactId), await sendCode(org, contactId)];
    const fourth = await requestCode(org, contactId);
    expect(fourth.statusCode).toBe(429);
    expect(fourth.json()).toMatchObject({ error: { code: 'rate_limited' } });
    await sql`UPDATE otp_challenges SET created_at = created_at - interval '16 minutes' WHERE contact_id = ${contactId}`.execute(t.db);
    expect((await requestCode(org, contactId)).statusCode).toBe(202);
    expect((await verify(org, contactId, sent[2]!.code)).statusCode).not.toBe(200);
  });

  it('never exceeds 5 attempts with 20 parallel wrong verifications', async () => {
    const { org, contactId } = await setUp();
    const { code, challengeId } = await sendCode(org, contactId);
    const responses = await Promise.all(Array.from({ length: 20 }, () => verify(org, contactId, wrong(code))));
    const codes = responses.map((r) => r.json<{ error: { code: string } }>().error.code);
    expect(codes.filter((c) => c === 'otp_incorrect').length).toBe(5);
    expect(codes.filter((c) => c === 'otp_attempts_exceeded').length).toBe(15);
    const row = await t.db.selectFrom('otp_challenges').select('attempts').where('id', '=', challengeId).executeTakeFirstOrThrow();
    expect(row.attempts).toBe(5);
  });

  it('never creates more than 3 codes with 10 parallel requests', async () => {
    const { org, contactId } = await setUp();
    const responses = await Promise.all(Array.from({ length: 10 }, () => requestCode(org, contactId)));
    expect(responses.filter((r) => r.statusCode === 202).length).toBe(3);
    expect(responses.filter((r) => r.statusCode === 429).length).toBe(7);
    const challenges = await t.db.selectFrom('otp_challenges').select('id').where('contact_id', '=', contactId).execute();
    expect(challenges.length).toBe(3);
    const templates = await t.db.selectFrom('messages').innerJoin('threads', 'threads.id', 'messages.thread_id')
      .select('messages.id').where('threads.contact_id', '=', contactId).where('messages.type', '=', 'template').execute();
    expect(templates.length).toBe(3);
  });

  it('verifies a right code once when it is submitted 10 times in parallel', async () => {
    const { org, contactId } = await setUp();
    const { code } = await sendCode(org, contactId);
    const responses = await Promise.all(Array.from({ length: 10 }, () => verify(org, contactId, code)));
    expect(responses.filter((r) => r.statusCode === 200).length).toBe(1);
    const verifiedEvents = await t.db.selectFrom('outbox_events').select('id').where('aggregate_id', '=', contactId).where('event_type', '=', 'user.verified').execute();
    expect(verifiedEvents.length).toBe(1);
  });

  it('redacts the code from the message once it was sent and the challenge is over (OTP clean-up job)', async () => {
    const { org, contactId } = await setUp();
    const { code, messageId } = await sendCode(org, contactId);
    await cleanUpOtps(t.db);
    expect(await codeOf(t.db, messageId)).toBe(code); // still queued: the dispatcher needs it
    expect((await verify(org, contactId, code)).statusCode).toBe(200);
    await sql`UPDATE messages SET status = 'sent' WHERE id = ${messageId}`.execute(t.db);
    expect((await cleanUpOtps(t.db)).redacted).toBeGreaterThanOrEqual(1);
    const content = await t.db.selectFrom('messages').select('content').where('id', '=', messageId).executeTakeFirstOrThrow();
    expect(JSON.stringify(content.content)).not.toContain(code);
    expect(JSON.stringify(content.content)).toContain('••••••');
  });

  it('sends with the organization\'s own template once `wahub org set-otp-template` set it', async () => {
    const { org, contactId } = await setUp();
    const cli = await runWahub(['org', 'set-otp-template', '--org', org.orgId, '--name', 'login_code', '--language', 'pt_BR', '--json'], { databaseUrl: t.url });
    expect(cli.code, cli.stdout + cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ otp_template_name: 'login_code', otp_template_language: 'pt_BR' });
    const { messageId } = await sendCode(org, contactId);
    const message = await t.db.selectFrom('messages').select('content').where('id', '=', messageId).executeTakeFirstOrThrow();
    expect(message.content).toMatchObject({ name: 'login_code', language: { code: 'pt_BR' } });
  });

  it('fails an OTP message still waiting in the outbox once its code expired, so it is never sent late', async () => {
    const { org, contactId } = await setUp();
    const { challengeId, messageId } = await sendCode(org, contactId);
    await failExpiredOtpMessages(t.db); // earlier tests of this file left expired codes behind
    expect(await t.db.selectFrom('message_outbox').select('state').where('message_id', '=', messageId).executeTakeFirstOrThrow()).toEqual({ state: 'pending' });
    await sql`UPDATE otp_challenges SET created_at = created_at - interval '11 minutes', expires_at = expires_at - interval '11 minutes' WHERE id = ${challengeId}`.execute(t.db);
    expect(await failExpiredOtpMessages(t.db)).toBe(1);
    expect(await t.db.selectFrom('message_outbox').select(['state', 'last_error']).where('message_id', '=', messageId).executeTakeFirstOrThrow())
      .toMatchObject({ state: 'failed', last_error: { class: 'otp_expired' } });
    expect(await t.db.selectFrom('messages').select(['status', 'error_title']).where('id', '=', messageId).executeTakeFirstOrThrow())
      .toEqual({ status: 'failed', error_title: OTP_EXPIRED_UNSENT_TITLE });
    const failed = await t.db.selectFrom('outbox_events').select('payload').where('aggregate_id', '=', messageId).where('event_type', '=', 'message.failed').execute();
    expect(failed.length).toBe(1);
    expect(await failExpiredOtpMessages(t.db)).toBe(0);
  });

  it('wrote no code and no code hash to the logs of all of the above', () => {
    const logs = capturing.logs();
    expect(logs.length).toBeGreaterThan(0);
    expect(codesAndHashes.length).toBeGreaterThan(10);
    // A 6-digit code also occurs by chance inside longer digit runs (epoch-ms times, ids): only a
    // code standing alone counts, or the test would fail about once in a few hundred runs.
    for (const secret of codesAndHashes) expect(logs).not.toMatch(new RegExp(`(?<![0-9A-Za-z])${secret.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}(?![0-9A-Za-z])`));
  });
});

describe('OTP codes across a rotation of TOKEN_ENCRYPTION_KEYS (OTP_HASH_KEY unset)', () => {
  it('still verifies a code sent before the new key was put first, while the old key is configured', async () => {
    const { org, contactId } = await setUp();
    const { code } = await sendCode(org, contactId);
    // The rotation of the runbook: the new key first, the old one kept until `wahub keys rotate` is done.
    const rotated = new TokenCipher([{ id: 'test2', key: Buffer.alloc(32, 9) }, { id: 'test1', key: Buffer.alloc(32, 7) }]);
    const app = await buildApp({ db: t.db, logger: silentLogger, cipher: rotated, meta: { appSecret: TEST_APP_SECRET, verifyToken: 'v' } });
    try {
      const response = await app.inject({ method: 'POST', url: `/v1/contacts/${contactId}/otp/verify`, headers: bearer(org.apiKey), payload: { code } });
      expect(response.statusCode, response.body).toBe(200);
    } finally {
      await app.close();
    }
  });
});
