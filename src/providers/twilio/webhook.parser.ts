/**
 * Parses a Twilio WhatsApp webhook (form parameters, already signature-checked) into the same
 * normalised items as Meta's parser (`../types.ts`), so the inbound service stores both alike.
 *
 * Two kinds of request reach `/webhooks/twilio` (PROTOCOL.md §7.1–7.2):
 * - an inbound message [TW-REQ][TW-CAP1][TW-CAP2]: `MessageSid`, `From=whatsapp:+<customer>`,
 *   `To=whatsapp:+<business>`, `WaId`, `ProfileName`, `Body`, `NumMedia` + `MediaUrl{N}` /
 *   `MediaContentType{N}`, `Latitude`/`Longitude`/`Address`/`Label`, `ButtonText`/`ButtonPayload`,
 *   `OriginalRepliedMessageSid`, `Referral*`, `Forwarded`/`FrequentlyForwarded`;
 * - a status callback [TW-STATUS]: `MessageSid`, `MessageStatus`, `ErrorCode` when it failed,
 *   `From=whatsapp:+<business>`, `To=whatsapp:+<customer>`.
 * Content is stored in Meta's shapes (`{ body }`, `{ url, mime_type, caption? }`, `location{…}`,
 * `interactive.button_reply`, `button{payload,text}`) so readers see one format whatever the
 * provider. Twilio sends no message time, so `timestamp` is the time of receipt.
 */
import type {
  DeadLetterReason, DeliveryStatusValue, InboundMessageType, ParsedDeadLetter, ParsedInboundMessage, ParsedStatus, ParsedWebhookItem,
} from '../types.js';
import { describeTwilioErrorCode } from './errors.js';
import type { TwilioParams } from './signature.js';

/** `MessageStatus` → wahub status [TW-ENUM]. `undelivered` and `canceled` are final failures, like Meta's `failed`. */
const STATUS_MAP: Readonly<Record<string, DeliveryStatusValue>> = {
  sent: 'sent', delivered: 'delivered', read: 'read', failed: 'failed', undelivered: 'failed', canceled: 'failed',
};
/** States before `sent` (no callback is sent for the first one [TW-STATUS]); they move nothing. */
const IGNORED_STATUSES = new Set(['queued', 'accepted', 'scheduled', 'sending', 'partially_delivered']);
/** `MessageStatus`/`SmsStatus` of an inbound message. */
const INBOUND_STATUSES = new Set(['received', 'receiving']);

const ADDRESS = /^whatsapp:\+([1-9][0-9]{5,14})$/;
/**
 * Twilio's SIDs have 34 characters. A longer one is not stored: `provider_message_id` is in unique
 * B-tree indexes, whose entries PostgreSQL limits to about 2.7 KB, so a long incompressible
 * MessageSid failed the whole webhook (500) on every retry.
 */
const MAX_SID_LENGTH = 256;
/** Largest PostgreSQL `integer` (column `error_code`). */
const INT4_MAX = 2_147_483_647;

/** The first value of a parameter (Twilio sends each once; a repeat keeps the first). Own properties only. */
export function param(params: TwilioParams, name: string): string | undefined {
  if (!Object.hasOwn(params, name)) return undefined;
  const value = params[name];
  return Array.isArray(value) ? value[0] : value;
}

function present(params: TwilioParams, name: string): string | undefined {
  const value = param(params, name);
  return value === undefined || value === '' ? undefined : value;
}

/** True for a status callback, false for an inbound message. */
export function isStatusCallback(params: TwilioParams): boolean {
  const status = param(params, 'MessageStatus');
  return status !== undefined && !INBOUND_STATUSES.has(status);
}

/**
 * The business number's address a webhook concerns (`whatsapp:+E164`): `To` of an inbound
 * message, `From` of a status callback. The route looks up that number's Auth Token with it.
 */
export function twilioBusinessAddress(params: TwilioParams): string | undefined {
  return param(params, isStatusCallback(params) ? 'From' : 'To');
}

function deadLetter(reason: DeadLetterReason, detail: string, phoneNumberId: string | null, raw: TwilioParams): ParsedDeadLetter {
  return { kind: 'dead_letter', provider: 'twilio', reason, detail, wabaId: null, phoneNumberId, field: null, raw };
}

/** `MediaContentType{N}` → Meta type: WhatsApp stickers arrive as WebP images. */
function mediaType(contentType: string): InboundMessageType {
  if (contentType === 'image/webp') return 'sticker';
  if (contentType.startsWith('image/')) return 'image';
  if (contentType.startsWith('video/')) return 'video';
  if (contentType.startsWith('audio/')) return 'audio';
  return 'document';
}

/** `{ id: <ME sid>, url, mime_type }` per attachment; the media SID ends the URL [TW-REQ]. */
function mediaItems(params: TwilioParams): Array<{ id: string | null; url: string; mime_type: string }> {
  const count = Number(param(params, 'NumMedia') ?? '0');
  const items = [];
  for (let n = 0; Number.isInteger(count) && n < Math.min(count, 10); n++) {
    const url = present(params, `MediaUrl${n}`);
    if (!url) continue;
    items.push({ id: /\/Media\/(ME[0-9a-f]+)$/i.exec(url)?.[1] ?? null, url, mime_type: param(params, `MediaContentType${n}`) ?? 'application/octet-stream' });
  }
  return items;
}

/** `context` (reply, forward) and `referral` (click-to-WhatsApp ad) in Meta's key names [TW-TYPES]. */
function extras(params: TwilioParams): Record<string, unknown> {
  const result: Record<string, unknown> = {};
  const context: Record<string, unknown> = {};
  const repliedTo = present(params, 'OriginalRepliedMessageSid');
  if (repliedTo) context.id = repliedTo;
  const repliedSender = present(params, 'OriginalRepliedMessageSender');
  if (repliedSender) context.from = repliedSender.replace(/^whatsapp:\+?/, '');
  if (param(params, 'FrequentlyForwarded') === 'true') context.frequently_forwarded = true;
  else if (param(params, 'Forwarded') === 'true') context.forwarded = true;
  if (Object.keys(context).length > 0) result.context = context;
  const referral: Record<string, unknown> = {};
  const keys: Array<[string, string]> = [
    ['ReferralSourceUrl', 'source_url'], ['ReferralSourceId', 'source_id'], ['ReferralSourceType', 'source_type'], ['ReferralBody', 'body'],
    ['ReferralHeadline', 'headline'], ['ReferralMediaContentType', 'media_type'], ['ReferralMediaUrl', 'media_url'], ['ReferralCtwaClid', 'ctwa_clid'],
  ];
  for (const [from, to] of keys) {
    const value = present(params, from);
    if (value) referral[to] = value;
  }
  if (Object.keys(referral).length > 0) result.referral = referral;
  return result;
}

/** The stored type and content of an inbound message (Meta's shapes). */
function normaliseContent(params: TwilioParams): { type: InboundMessageType; content: Record<string, unknown> } {
  const body = param(params, 'Body') ?? '';
  const messageType = param(params, 'MessageType');
  const media = mediaItems(params);
  const latitude = Number(present(params, 'Latitude'));
  const longitude = Number(present(params, 'Longitude'));
  const buttonPayload = present(params, 'ButtonPayload');
  const buttonText = present(params, 'ButtonText');
  if (media.length > 0) {
    const [first, ...more] = media;
    const type = mediaType(first!.mime_type);
    return { type, content: { ...first, ...(body ? { caption: body } : {}), ...(more.length ? { additional_media: more } : {}) } };
  }
  if (Number.isFinite(latitude) && Number.isFinite(longitude) && present(params, 'Latitude') && present(params, 'Longitude')) {
    const name = present(params, 'Label');
    const address = present(params, 'Address');
    return { type: 'location', content: { latitude, longitude, ...(name ? { name } : {}), ...(address ? { address } : {}) } };
  }
  if (buttonPayload !== undefined || buttonText !== undefined) {
    // A quick reply of a template is Meta's `button`; a reply button of an interactive message is
    // `interactive.button_reply` (Twilio's captures show MessageType=interactive for it [TW-CAP2]).
    if (messageType === 'button') return { type: 'button', content: { payload: buttonPayload ?? buttonText ?? '', text: buttonText ?? buttonPayload ?? '' } };
    return { type: 'interactive', content: { type: 'button_reply', button_reply: { id: buttonPayload ?? buttonText ?? '', title: buttonText ?? buttonPayload ?? '' } } };
  }
  if (body !== '' && (messageType === undefined || messageType === 'text')) return { type: 'text', content: { body } };
  return { type: 'unsupported', content: { unsupported_type: messageType ?? null, errors: [], ...(body ? { body } : {}) } };
}

/** `MessageSid`, else its legacy duplicate; undefined when absent or too long to store. */
function messageSid(params: TwilioParams, legacy: string): string | undefined {
  const sid = present(params, 'MessageSid') ?? present(params, legacy);
  return sid !== undefined && sid.length <= MAX_SID_LENGTH ? sid : undefined;
}

function parseMessage(params: TwilioParams, receivedAt: Date): ParsedWebhookItem {
  const to = param(params, 'To');
  const from = param(params, 'From');
  const sid = messageSid(params, 'SmsMessageSid');
  const business = to ? ADDRESS.exec(to) : null;
  const customer = from ? ADDRESS.exec(from) : null;
  if (!sid || !business || !customer) {
    const missing = [!sid && 'MessageSid', !business && 'To', !customer && 'From'].filter(Boolean).join(', ');
    return deadLetter('invalid_message', `inbound message without a valid ${missing}`, to ?? null, params);
  }
  const waId = present(params, 'WaId');
  const { type, content } = normaliseContent(params);
  const message: ParsedInboundMessage = {
    kind: 'message',
    provider: 'twilio',
    wabaId: null,
    phoneNumberId: to!,
    displayPhoneNumber: business[1]!,
    waId: waId && /^\d+$/.test(waId) ? waId : customer[1]!,
    bsuid: null,
    parentBsuid: null,
    username: null,
    profileName: present(params, 'ProfileName') ?? null,
    providerMessageId: sid,
    timestamp: receivedAt,
    type,
    content: { ...content, ...extras(params) },
    raw: params,
  };
  return message;
}

function parseStatus(params: TwilioParams, receivedAt: Date): ParsedWebhookItem[] {
  const from = param(params, 'From');
  const sid = messageSid(params, 'SmsSid');
  const value = param(params, 'MessageStatus')!;
  if (IGNORED_STATUSES.has(value)) return [];
  // hasOwn: `toString`, `constructor` or `__proto__` would otherwise find Object.prototype's members.
  const status = Object.hasOwn(STATUS_MAP, value) ? STATUS_MAP[value] : undefined;
  if (!sid || !from || !ADDRESS.test(from) || !status) {
    const detail = !sid ? 'status callback without a valid MessageSid' : !from || !ADDRESS.test(from) ? 'status callback without a valid From' : `unknown MessageStatus ${JSON.stringify(value.slice(0, 40))}`;
    return [deadLetter('invalid_status', detail, from ?? null, params)];
  }
  const code = Number(present(params, 'ErrorCode'));
  // error_code is a PostgreSQL integer: a larger ErrorCode (Twilio's have 5 digits) is not one.
  const errors = status === 'failed' && Number.isInteger(code) && code > 0 && code <= INT4_MAX
    ? [{ code, title: describeTwilioErrorCode(code) ?? `Twilio error ${code}`, message: present(params, 'ErrorMessage') ?? null, details: null }]
    : [];
  const to = param(params, 'To');
  const item: ParsedStatus = {
    kind: 'status',
    provider: 'twilio',
    wabaId: null,
    phoneNumberId: from,
    providerMessageId: sid,
    status,
    timestamp: receivedAt,
    recipientId: to ? (ADDRESS.exec(to)?.[1] ?? null) : null,
    recipientUserId: null,
    errors,
    raw: params,
  };
  return [item];
}

/**
 * PostgreSQL text refuses NUL, which a form value can carry (`%00`): one such character must not
 * make the webhook fail on every retry, so it becomes U+FFFD (after the signature was checked over
 * the exact values).
 */
function withoutNul(params: TwilioParams): TwilioParams {
  const clean = (value: string) => value.replaceAll('\u0000', '\uFFFD');
  const result = Object.create(null) as TwilioParams;
  for (const [name, value] of Object.entries(params)) result[clean(name)] = Array.isArray(value) ? value.map(clean) : clean(value);
  return result;
}

/**
 * Parses one Twilio webhook. Never throws.
 * @param params every form parameter received
 * @param receivedAt the time of receipt (Twilio sends no message time)
 * @returns one message, or zero or one status (states before `sent` move nothing), or one dead
 *   letter (`invalid_message`/`invalid_status`) whose `raw` is the parameters
 */
export function parseTwilioWebhook(signed: TwilioParams, receivedAt: Date): ParsedWebhookItem[] {
  const params = withoutNul(signed);
  try {
    return isStatusCallback(params) ? parseStatus(params, receivedAt) : [parseMessage(params, receivedAt)];
  } catch (error) {
    const detail = `unparseable webhook: ${error instanceof Error ? error.message : String(error)}`;
    return [deadLetter('invalid_message', detail, twilioBusinessAddress(params) ?? null, params)];
  }
}

/**
 * Parses an `application/x-www-form-urlencoded` body (`+` is a space, `%XX` UTF-8) [TW-REQ].
 * A name sent more than once keeps all its values, in order. The object has no prototype, so every
 * name is a plain parameter: `constructor=x` is not merged with Object's constructor (which made
 * the signature check fail and the parser throw) and `__proto__=x` is not dropped.
 */
export function parseTwilioForm(body: string): TwilioParams {
  const params = Object.create(null) as TwilioParams;
  for (const [name, value] of new URLSearchParams(body)) {
    const existing = params[name];
    if (existing === undefined) params[name] = value;
    else params[name] = Array.isArray(existing) ? [...existing, value] : [existing, value];
  }
  return params;
}
