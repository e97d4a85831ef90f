/**
 * What the Twilio simulator says, in Twilio's shapes: REST error bodies, the validation of a
 * Messages API form, the message resource it answers, and the parameters of status callbacks and
 * inbound messages in the order Twilio sends them (PROTOCOL.md §7, §8.2; Twilio "Message resource"
 * and "Twilio's response" pages).
 */
import { randomBytes } from 'node:crypto';
import { TWILIO_ERROR_CODES } from '../../providers/twilio/errors.js';
import { CONTENT_SID_PATTERN } from '../../providers/twilio/send.request.js';
import type { TwilioParams } from '../../providers/twilio/signature.js';
import { param } from '../../providers/twilio/webhook.parser.js';

/** An HTTP answer of the simulator. */
export type Reply = { statusCode: number; body: unknown };

/** One accepted Messages API call. `at` is epoch ms. */
export interface TwilioSimulatedSend {
  account_sid: string;
  sid: string;
  /** `whatsapp:+E164` as sent. */
  from: string;
  to: string;
  /** Every form parameter received (`MediaUrl` repeated as an array). */
  params: TwilioParams;
  at: number;
}

const ADDRESS = /^whatsapp:\+[1-9][0-9]{6,14}$/;

/** A Twilio REST error: `{code, message, more_info, status}` with the code's usual HTTP status. */
export function twilioError(code: number, message?: string, httpStatus?: number): Reply {
  const status = httpStatus ?? TWILIO_ERROR_CODES[code]?.httpStatus ?? 400;
  return { statusCode: status, body: { code, message: message ?? TWILIO_ERROR_CODES[code]?.title ?? 'Error', more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
}

/** A new message SID: `SM` (or `MM` with media) + 32 hex. */
export function messageSid(prefix: 'SM' | 'MM'): string {
  return `${prefix}${randomBytes(16).toString('hex')}`;
}

function isStringRecord(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string');
}

/**
 * Validates a Messages API form like Twilio.
 * @param senderAccount the account SID owning a `From` address, or undefined when unknown
 * @returns the error reply (21211 bad To, 63007 unknown From, 21655/21656 bad content, 21619 nothing to send), or null
 */
export function validateMessageForm(accountSid: string, params: TwilioParams, senderAccount: (from: string) => string | undefined): Reply | null {
  const from = param(params, 'From') ?? '';
  const to = param(params, 'To') ?? '';
  if (!ADDRESS.test(to)) return twilioError(21211, `Invalid 'To' Phone Number: ${to.slice(0, 40)}`);
  if (senderAccount(from) !== accountSid) return twilioError(63007, `Twilio could not find a Channel with the specified From address: ${from.slice(0, 40)}`);
  const contentSid = param(params, 'ContentSid');
  if (contentSid !== undefined && !CONTENT_SID_PATTERN.test(contentSid)) return twilioError(21655);
  const variables = param(params, 'ContentVariables');
  if (variables !== undefined) {
    let parsed: unknown = null;
    try {
      parsed = JSON.parse(variables);
    } catch {
      // stays null: refused below
    }
    if (!isStringRecord(parsed)) return twilioError(21656);
  }
  if (!param(params, 'Body') && !param(params, 'MediaUrl') && !contentSid) return twilioError(21619);
  const callback = param(params, 'StatusCallback');
  if (callback !== undefined && !/^https?:\/\//.test(callback)) return twilioError(21609, 'Invalid StatusCallback URL');
  return null;
}

/** The 201 body of an accepted message (`status: queued`). */
export function messageResource(send: TwilioSimulatedSend): Record<string, unknown> {
  const now = new Date(send.at).toUTCString();
  const media = send.params.MediaUrl;
  const base = `/2010-04-01/Accounts/${send.account_sid}/Messages/${send.sid}`;
  return {
    sid: send.sid, account_sid: send.account_sid, from: send.from, to: send.to, body: param(send.params, 'Body') ?? '', status: 'queued',
    direction: 'outbound-api', api_version: '2010-04-01', num_segments: '1', num_media: String(Array.isArray(media) ? media.length : media ? 1 : 0),
    price: null, price_unit: null, error_code: null, error_message: null, messaging_service_sid: null, date_created: now, date_updated: now,
    date_sent: null, uri: `${base}.json`, subresource_uris: { media: `${base}/Media.json` },
  };
}

/** Status callback parameters in the order Twilio sends them (fixtures/twilio/status_undelivered.txt). */
export function callbackParams(send: TwilioSimulatedSend, status: string, errorCode?: number): Array<[string, string]> {
  return [
    ...(errorCode === undefined ? [] : [['ErrorCode', String(errorCode)] as [string, string]]),
    ['SmsSid', send.sid], ['SmsStatus', status], ['MessageStatus', status], ['ChannelToAddress', send.to.replace(/^whatsapp:/, '')],
    ['To', send.to], ['ChannelPrefix', 'whatsapp'], ['MessageSid', send.sid], ['AccountSid', send.account_sid], ['StructuredMessage', 'false'],
    ['From', send.from], ['ApiVersion', '2010-04-01'], ['ChannelInstallSid', `XE${randomBytes(16).toString('hex')}`],
  ];
}

/**
 * Inbound message parameters in the order Twilio sends them (fixtures/twilio/inbound_text.txt),
 * `extra` added or overriding (media, location, buttons, …).
 */
export function inboundMessageParams(values: {
  sid: string; to: string; from: string; accountSid: string; profileName: string; text: string; extra?: Record<string, string>;
}): Array<[string, string]> {
  const base: Record<string, string> = {
    SmsMessageSid: values.sid, NumMedia: '0', ProfileName: values.profileName, MessageType: 'text', SmsSid: values.sid, WaId: values.from,
    SmsStatus: 'received', Body: values.text, To: values.to, NumSegments: '1', ReferralNumMedia: '0', MessageSid: values.sid,
    AccountSid: values.accountSid, From: `whatsapp:+${values.from}`, ApiVersion: '2010-04-01',
  };
  return Object.entries({ ...base, ...values.extra });
}
