/**
 * Twilio test helpers: the shared fixtures byte for byte (PROTOCOL.md §8.2), Twilio numbers
 * connected through the real service, and form webhooks signed as Twilio signs them.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Db } from '../../src/db/database.js';
import { connectTwilioNumber } from '../../src/numbers/numbers.service.js';
import { computeTwilioSignature, type TwilioParams } from '../../src/providers/twilio/signature.js';
import { testCipher, uniqueDigits } from './factories.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** `test/fixtures/twilio`: the shared Twilio fixtures (`../shared/fixtures/twilio`), kept in the repository so any clone runs them. */
export const TWILIO_FIXTURE_DIR = path.resolve(repoRoot, 'test/fixtures/twilio');

/** Account and token the fixtures are signed with (PROTOCOL.md §8.2). */
export const FIXTURE_ACCOUNT_SID = 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0';
export const FIXTURE_AUTH_TOKEN = 'test_twilio_auth_token';
/** The public base URL the fixtures were signed for. */
export const FIXTURE_BASE_URL = 'https://api.example.test';

/** The exact body of a Twilio fixture (no trailing newline). */
export function twilioFixture(name: string): string {
  return readFileSync(path.join(TWILIO_FIXTURE_DIR, name), 'utf8');
}

export interface TestTwilioNumber {
  id: string;
  /** `whatsapp:+E164` */
  phoneNumberId: string;
  e164: string;
  accountSid: string;
  authToken: string;
}

/** A random account SID (`AC` + 32 hex). */
export function accountSid(): string {
  return `AC${randomBytes(16).toString('hex')}`;
}

/** Connects a Twilio sender (random number, account and token unless given). */
export async function createTwilioNumber(db: Db, orgId: string, values: Partial<Omit<TestTwilioNumber, 'id' | 'phoneNumberId'>> = {}): Promise<TestTwilioNumber> {
  const number = {
    e164: values.e164 ?? `+1555${uniqueDigits(7)}`,
    accountSid: values.accountSid ?? accountSid(),
    authToken: values.authToken ?? `twilio-token-${randomBytes(8).toString('hex')}`,
  };
  const { id, phoneNumberId } = await connectTwilioNumber(db, testCipher, { orgId, accountSid: number.accountSid, authToken: number.authToken, phone: number.e164 });
  return { id, phoneNumberId, ...number };
}

/** URL-encodes parameters in the given order, as Twilio does (`+` for spaces). */
export function encodeForm(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

/**
 * POSTs a form to a Twilio webhook path, signed with `authToken` over `baseUrl + path` (the URL
 * the app is told it is reachable at), unless `signature` is given.
 */
export function postTwilio(
  app: FastifyInstance,
  values: { path?: string; body: string; authToken: string; baseUrl?: string; signature?: string | null; signedParams?: TwilioParams },
): Promise<LightMyRequestResponse> {
  const urlPath = values.path ?? '/webhooks/twilio';
  const params = values.signedParams ?? Object.fromEntries(new URLSearchParams(values.body));
  const signature = values.signature === undefined ? computeTwilioSignature(values.authToken, `${values.baseUrl ?? FIXTURE_BASE_URL}${urlPath}`, params) : values.signature;
  return app.inject({
    method: 'POST',
    url: urlPath,
    payload: values.body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature === null ? {} : { 'x-twilio-signature': signature }) },
  });
}

/** Form parameters of an inbound WhatsApp message from `from` (digits) to a Twilio number. */
export function inboundParams(number: TestTwilioNumber, values: { from: string; sid?: string; body?: string; extra?: Record<string, string> }): Record<string, string> {
  const sid = values.sid ?? `SM${randomBytes(16).toString('hex')}`;
  return {
    SmsMessageSid: sid, NumMedia: '0', ProfileName: 'Maya Chen', MessageType: 'text', SmsSid: sid, WaId: values.from, SmsStatus: 'received',
    Body: values.body ?? 'hello', To: number.phoneNumberId, NumSegments: '1', ReferralNumMedia: '0', MessageSid: sid,
    AccountSid: number.accountSid, From: `whatsapp:+${values.from}`, ApiVersion: '2010-04-01', ...values.extra,
  };
}

/** Form parameters of a status callback for an outbound message. */
export function statusParams(number: TestTwilioNumber, values: { sid: string; status: string; to: string; errorCode?: number }): Record<string, string> {
  return {
    ...(values.errorCode === undefined ? {} : { ErrorCode: String(values.errorCode) }),
    SmsSid: values.sid, SmsStatus: values.status, MessageStatus: values.status, ChannelToAddress: `+${values.to}`, To: `whatsapp:+${values.to}`,
    ChannelPrefix: 'whatsapp', MessageSid: values.sid, AccountSid: number.accountSid, StructuredMessage: 'false', From: number.phoneNumberId, ApiVersion: '2010-04-01',
  };
}
