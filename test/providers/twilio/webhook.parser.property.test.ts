/**
 * Property-based tests of the Twilio webhook parser and the inbound path behind it (issue 9,
 * "Hostile input"; the Meta half is test/hostile/meta-parser.property.test.ts). Twilio webhooks are
 * form-encoded (PROTOCOL.md §7), so the hostile inputs are parameter maps rather than JSON: random
 * and well-known names, missing MessageSid/From/To/Body, NumMedia of -1, 1e9 or abc, MediaUrl{N}
 * gaps, huge and incompressible strings, NUL and lone surrogates, unknown MessageStatus values
 * (names of Object.prototype included), Latitude without Longitude, repeated names, and mutations
 * of the shared fixtures. Properties:
 * 1. the parser never throws and returns well-formed items: one item (a message, a status or a
 *    dead letter with a reason from DEAD_LETTER_REASONS and a detail) per webhook, none only for
 *    a status before `sent`;
 * 2. storing those items (real PostgreSQL) never throws and each is stored or dead-lettered;
 * 3. a correctly signed hostile form posted to the webhook answers 200 with empty TwiML when the
 *    number is known, 403/413 with the error shape otherwise, never 5xx; a redelivery changes nothing.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ingestWebhookItems } from '../../../src/inbound/inbound.service.js';
import { EMPTY_TWIML, TWILIO_WEBHOOK_BODY_LIMIT, TWILIO_WEBHOOK_PATHS } from '../../../src/inbound/twilio.routes.js';
import { computeTwilioSignature, type TwilioParams } from '../../../src/providers/twilio/signature.js';
import { parseTwilioForm, parseTwilioWebhook } from '../../../src/providers/twilio/webhook.parser.js';
import {
  DEAD_LETTER_REASONS, DELIVERY_STATUS_VALUES, INBOUND_MESSAGE_TYPES, type ParsedWebhookItem,
} from '../../../src/providers/types.js';
import { useAppBed } from '../../helpers/bed.js';
import { countRows, createTestOrg } from '../../helpers/factories.js';
import { createTwilioNumber, FIXTURE_ACCOUNT_SID, FIXTURE_AUTH_TOKEN, FIXTURE_BASE_URL, twilioFixture } from '../../helpers/twilio.js';
import { HOSTILE_STRINGS, hostileString } from '../../hostile/arbitraries.js';
import { insertOutboundMessage, insertThread } from '../../inbound/helpers.js';

/** The fixtures' business number (PROTOCOL.md §8.2); connected in the database tests below. */
const FIXTURE_NUMBER = 'whatsapp:+15550100001';
/** An outbound message of the fixture number, so that some status callbacks move a real row. */
const OUTBOUND_SID = 'SM0000000000000000000000000000beef';
const INBOUND_FIXTURE_SID = 'SM35a7fc003554219469be44bb1c434927';
const AT = new Date('2026-01-01T12:00:00Z');
const ADDRESS = /^whatsapp:\+[1-9][0-9]{5,14}$/;
/** PostgreSQL's integer, the type of `error_code`. */
const INT4_MAX = 2_147_483_647;

const IGNORED_STATUSES = ['queued', 'accepted', 'scheduled', 'sending', 'partially_delivered'];
const MAPPED_STATUSES = ['sent', 'delivered', 'read', 'failed', 'undelivered', 'canceled'];
const INBOUND_STATUSES = ['received', 'receiving'];
/** Names every plain object inherits: as parameter names or values they must be plain strings. */
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__'];

type Entries = Array<[string, string]>;

/** The form's parameters in order, repeats kept, as a Twilio-side encoder would see them. */
function entriesOf(body: string): Entries {
  return [...new URLSearchParams(body)];
}

/**
 * Entries → parameters as Twilio signs them: every name an own property (also `__proto__`), a
 * repeated name holding all its values. Built independently of the code under test.
 */
function paramsOf(entries: Entries): TwilioParams {
  const params = Object.create(null) as TwilioParams;
  for (const [name, value] of entries) {
    const existing = Object.hasOwn(params, name) ? params[name] : undefined;
    const next = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
    Object.defineProperty(params, name, { value: next, enumerable: true, writable: true, configurable: true });
  }
  return params;
}

/** The first value of a parameter, own properties only. */
function first(params: TwilioParams, name: string): string | undefined {
  if (!Object.hasOwn(params, name)) return undefined;
  const value = params[name];
  return Array.isArray(value) ? value[0] : value;
}

/** UTF-8 percent-encoding of every byte outside [A-Za-z0-9*-._], `+` for a space (what Twilio sends). */
function formEncode(text: string): string {
  let out = '';
  for (const byte of Buffer.from(text, 'utf8')) {
    if ((byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a) || [0x2a, 0x2d, 0x2e, 0x5f].includes(byte)) out += String.fromCharCode(byte);
    else if (byte === 0x20) out += '+';
    else out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** `length` pseudo-random characters from `seed`: a string that does not compress (unlike `'x'.repeat(n)`). */
function incompressible(seed: number, length: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/éß☕🙂';
  const chars = [...alphabet];
  let state = (seed ^ 0x9e3779b9) >>> 0 || 1;
  let out = '';
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    out += chars[state % chars.length];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const hex32 = fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 32, maxLength: 32 });
const freshSid = fc.oneof(hex32.map((h) => `SM${h}`), hex32.map((h) => `MM${h}`));
const hugeString = fc.oneof(
  fc.nat().map((seed) => incompressible(seed, 6_000)),
  fc.constantFrom('x'.repeat(100_000), '\u0000'.repeat(1_000), '\ud800'.repeat(1_000)),
);
/** Any hostile value; huge ones now and then. */
const anyValue = fc.oneof({ weight: 8, arbitrary: hostileString }, { weight: 1, arbitrary: hugeString });
const addressValue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(FIXTURE_NUMBER, 'whatsapp:+14155550123', 'whatsapp:+447700900123', 'whatsapp:+5511987654321') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      'whatsapp:+15550109999', '+14155550123', 'whatsapp:14155550123', 'whatsapp:+0123456', 'whatsapp:', 'whatsapp:+1555010000\u0000', `${FIXTURE_NUMBER}\u0000`,
      `${FIXTURE_NUMBER} `, 'WHATSAPP:+15550100001', 'whatsapp:+1555010000１', 'whatsapp:+12345678901234567890', 'sms:+15550100001',
    ),
  },
  { weight: 2, arbitrary: anyValue },
);
const sidValue = fc.oneof(
  { weight: 6, arbitrary: freshSid },
  { weight: 2, arbitrary: fc.constantFrom(OUTBOUND_SID, INBOUND_FIXTURE_SID) },
  { weight: 2, arbitrary: anyValue },
);
const statusValue = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...MAPPED_STATUSES, ...IGNORED_STATUSES, ...INBOUND_STATUSES) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES, 'deleted', 'SENT', 'sent\u0000', ' read', '') },
  { weight: 1, arbitrary: anyValue },
);
const numMediaValue = fc.oneof(
  fc.constantFrom('0', '1', '2', '3', '10', '11', '-1', '1e9', '1e400', 'abc', '1.5', 'Infinity', 'NaN', ' 2', '0x2', '', '9007199254740993'),
  anyValue,
);
const contentTypeValue = fc.oneof(fc.constantFrom('image/jpeg', 'image/webp', 'video/mp4', 'audio/ogg', 'application/pdf', 'text/vcard', '', 'image/'), anyValue);
const mediaUrlValue = fc.oneof(
  hex32.map((h) => `https://api.twilio.com/2010-04-01/Accounts/${FIXTURE_ACCOUNT_SID}/Messages/MM${h}/Media/ME${h}`),
  anyValue,
);
const coordinateValue = fc.oneof(
  fc.double().map(String),
  fc.constantFrom('37.7749', '-122.4194', '91', '-181', '0', 'abc', '', 'Infinity', '1e400', '-0', '1,5'),
  anyValue,
);
const errorCodeValue = fc.oneof(
  fc.constantFrom('63016', '30008', '0', '-1', '1e20', '2147483647', '2147483648', '9007199254740993', '99999', 'abc', '63016.5', '', ' 63016'),
  anyValue,
);
const flagValue = fc.oneof(fc.constantFrom('true', 'false', 'TRUE', '1', ''), anyValue);

/** Names Twilio sends (PROTOCOL.md §7.1–7.2) with values that fit them, and then some. */
const VALUE_OF: Record<string, fc.Arbitrary<string>> = {
  MessageSid: sidValue, SmsMessageSid: sidValue, SmsSid: sidValue, OriginalRepliedMessageSid: sidValue,
  From: addressValue, To: addressValue, OriginalRepliedMessageSender: addressValue,
  MessageStatus: statusValue, SmsStatus: statusValue,
  NumMedia: numMediaValue, ReferralNumMedia: numMediaValue, NumSegments: numMediaValue,
  Latitude: coordinateValue, Longitude: coordinateValue,
  ErrorCode: errorCodeValue, Forwarded: flagValue, FrequentlyForwarded: flagValue,
  AccountSid: fc.oneof(fc.constant(FIXTURE_ACCOUNT_SID), hex32.map((h) => `AC${h}`), anyValue),
  WaId: fc.oneof(fc.constantFrom('14155550123', '447700900123', '0', '123', '99999999999999999999', ''), anyValue),
  MessageType: fc.oneof(fc.constantFrom('text', 'image', 'location', 'interactive', 'button', 'reaction', 'poll', '__proto__', ''), anyValue),
  ...Object.fromEntries(Array.from({ length: 12 }, (_, n) => [[`MediaUrl${n}`, mediaUrlValue], [`MediaContentType${n}`, contentTypeValue]]).flat()),
};
const KNOWN_NAMES = [
  ...Object.keys(VALUE_OF), 'Body', 'ProfileName', 'Address', 'Label', 'ButtonText', 'ButtonPayload', 'ErrorMessage', 'ApiVersion', 'ChannelMetadata',
  'ReferralBody', 'ReferralHeadline', 'ReferralSourceId', 'ReferralSourceType', 'ReferralSourceUrl', 'ReferralMediaContentType', 'ReferralMediaUrl', 'ReferralCtwaClid',
];
const parameterName = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom(...KNOWN_NAMES) },
  { weight: 2, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES, '', 'a\u0000b', '\ud800', 'MediaUrl-1', 'MediaUrl01', 'body', 'a[b][c]', 'unknown_field') },
  { weight: 1, arbitrary: hostileString },
);
/** The values to try for a name (own entries only: `constructor` is a name like any other). */
const valueFor = (name: string): fc.Arbitrary<string> => (Object.hasOwn(VALUE_OF, name) ? VALUE_OF[name]! : anyValue);
const entry: fc.Arbitrary<[string, string]> = parameterName.chain((name) => valueFor(name).map((value): [string, string] => [name, value]));

/** Plausible webhooks to mutate: the two fixtures and one of each content kind, with a fresh MessageSid. */
const BASES: Array<(sid: string) => Entries> = [
  (sid) => entriesOf(twilioFixture('inbound_text.txt')).map(([k, v]) => [k, v === INBOUND_FIXTURE_SID ? sid : v]),
  () => entriesOf(twilioFixture('status_undelivered.txt')).map(([k, v]) => [k, k.endsWith('Sid') && v.startsWith('SM') ? OUTBOUND_SID : v]),
  (sid) => [['MessageSid', sid], ['AccountSid', FIXTURE_ACCOUNT_SID], ['From', 'whatsapp:+447700900123'], ['To', FIXTURE_NUMBER], ['NumMedia', '2'], ['Body', 'two photos'],
    ['MediaUrl0', `https://api.twilio.com/2010-04-01/Accounts/AC/Messages/${sid}/Media/ME0a`], ['MediaContentType0', 'image/jpeg'],
    ['MediaUrl1', `https://api.twilio.com/2010-04-01/Accounts/AC/Messages/${sid}/Media/ME0b`], ['MediaContentType1', 'image/webp']],
  (sid) => [['MessageSid', sid], ['AccountSid', FIXTURE_ACCOUNT_SID], ['From', 'whatsapp:+5511987654321'], ['To', FIXTURE_NUMBER], ['Latitude', '-23.55'], ['Longitude', '-46.63'],
    ['Address', 'Av. Paulista'], ['Label', 'Office'], ['MessageType', 'location']],
  (sid) => [['MessageSid', sid], ['AccountSid', FIXTURE_ACCOUNT_SID], ['From', 'whatsapp:+14155550123'], ['To', FIXTURE_NUMBER], ['ButtonText', 'Yes'], ['ButtonPayload', 'yes'],
    ['MessageType', 'button'], ['OriginalRepliedMessageSid', OUTBOUND_SID], ['Forwarded', 'true'], ['ReferralCtwaClid', 'clid']],
  (sid) => [['MessageSid', sid], ['MessageStatus', 'read'], ['SmsStatus', 'read'], ['From', FIXTURE_NUMBER], ['To', 'whatsapp:+14155550123'], ['AccountSid', FIXTURE_ACCOUNT_SID]],
];

type Op = { kind: 'delete'; name: string } | { kind: 'set'; name: string; value: string } | { kind: 'append'; name: string; value: string };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.constantFrom(...KNOWN_NAMES).map((name) => ({ kind: 'delete' as const, name })),
  entry.map(([name, value]) => ({ kind: 'set' as const, name, value })),
  entry.map(([name, value]) => ({ kind: 'append' as const, name, value })),
);

/** Removes every occurrence, replaces the first (or appends), or appends (a repeat when present). */
function applyOps(entries: Entries, ops: Op[]): Entries {
  let result = [...entries];
  for (const o of ops) {
    if (o.kind === 'delete') result = result.filter(([name]) => name !== o.name);
    else if (o.kind === 'append') result.push([o.name, o.value]);
    else {
      const index = result.findIndex(([name]) => name === o.name);
      if (index >= 0) result[index] = [o.name, o.value];
      else result.push([o.name, o.value]);
    }
  }
  return result;
}

const mutatedBase: fc.Arbitrary<Entries> = fc.tuple(fc.constantFrom(...BASES), freshSid, fc.array(op, { minLength: 0, maxLength: 4 }))
  .map(([base, sid, ops]) => applyOps(base(sid), ops));
const randomEntries: fc.Arbitrary<Entries> = fc.array(entry, { maxLength: 16 });
const anyEntries: fc.Arbitrary<Entries> = fc.oneof({ weight: 3, arbitrary: mutatedBase }, { weight: 1, arbitrary: randomEntries });

/** Malformed pieces of a form body that a decoder must survive. */
const junk = fc.array(fc.constantFrom('%', '%zz', '%ED%A0%80=%ED%A0%80', '', '=', 'novalue', 'a=b=c', '%00=%00', '+=+', 'Body=%E2%98', '%C0%AF=1'), { maxLength: 3 });

/** A form body: entries percent-encoded as Twilio does, with malformed pieces at either end. */
const anyBody: fc.Arbitrary<string> = fc.tuple(anyEntries, junk, fc.boolean()).map(([entries, pieces, before]) => {
  const encoded = entries.map(([name, value]) => `${formEncode(name)}=${formEncode(value)}`);
  return (before ? [...pieces, ...encoded] : [...encoded, ...pieces]).join('&');
});

// ---------------------------------------------------------------------------------------------
// The parser's contract
// ---------------------------------------------------------------------------------------------

const clean = (text: string) => text.replaceAll('\u0000', '\uFFFD');

function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (Array.isArray(value)) return value.some(containsNul);
  if (typeof value === 'object' && value !== null) return Object.entries(value).some(([name, v]) => name.includes('\u0000') || containsNul(v));
  return false;
}

/** The parser's contract on one parameter map: no throw, one well-formed item (none for a status before `sent`). */
function checkParse(params: TwilioParams): ParsedWebhookItem[] {
  const items = parseTwilioWebhook(params, AT);
  expect(Array.isArray(items)).toBe(true);
  const status = first(params, 'MessageStatus');
  const isStatus = status !== undefined && !INBOUND_STATUSES.includes(status);
  if (items.length === 0) {
    expect(isStatus, 'only a status callback may yield no item').toBe(true);
    expect(IGNORED_STATUSES).toContain(status);
    return items;
  }
  expect(items).toHaveLength(1);
  const item = items[0]!;
  expect(item.kind).not.toBe('field_event');
  if (item.kind === 'field_event') return items;
  expect(item.provider).toBe('twilio');
  expect(item.wabaId).toBeNull();
  // Everything is storable: JSON-serialisable, no NUL in any string or name (PostgreSQL text and jsonb refuse it).
  expect(() => JSON.stringify(item)).not.toThrow();
  expect(containsNul(item)).toBe(false);
  // Nothing received is lost: raw keeps every parameter (names such as `__proto__` included; a
  // name with NUL becomes U+FFFD, so `%00` and `%EF%BF%BD` collide, the one known loss).
  expect(Object.keys(item.raw as object).sort()).toEqual([...new Set(Object.keys(params).map(clean))].sort());
  if (item.kind === 'dead_letter') {
    expect(DEAD_LETTER_REASONS).toContain(item.reason);
    expect(item.reason).toBe(isStatus ? 'invalid_status' : 'invalid_message');
    expect(typeof item.detail).toBe('string');
    expect(item.detail.length).toBeGreaterThan(0);
    expect(item.phoneNumberId === null || typeof item.phoneNumberId === 'string').toBe(true);
  } else if (item.kind === 'message') {
    expect(isStatus, 'a status callback became a message').toBe(false);
    expect(typeof item.providerMessageId).toBe('string');
    expect(item.providerMessageId).not.toBe('');
    expect(item.phoneNumberId).toMatch(ADDRESS);
    expect(item.waId).toMatch(/^\d+$/);
    expect(item.timestamp).toEqual(AT);
    expect(INBOUND_MESSAGE_TYPES).toContain(item.type);
    expect(Object.getPrototypeOf(item.content)).toBe(Object.prototype);
    if (item.type === 'location') {
      expect(Number.isFinite(item.content.latitude)).toBe(true);
      expect(Number.isFinite(item.content.longitude)).toBe(true);
    }
    if (['image', 'video', 'audio', 'document', 'sticker'].includes(item.type)) expect(item.content.url).toEqual(expect.any(String));
  } else {
    expect(isStatus, 'an inbound message became a status').toBe(true);
    expect(MAPPED_STATUSES).toContain(clean(status!));
    expect(DELIVERY_STATUS_VALUES).toContain(item.status);
    expect(typeof item.status).toBe('string');
    expect(item.phoneNumberId).toMatch(ADDRESS);
    expect(typeof item.providerMessageId).toBe('string');
    expect(item.providerMessageId).not.toBe('');
    for (const error of item.errors) {
      expect(Number.isInteger(error.code)).toBe(true);
      expect(error.code).toBeGreaterThan(0);
      expect(error.code).toBeLessThanOrEqual(INT4_MAX);
    }
  }
  return items;
}

describe('parseTwilioWebhook (properties)', () => {
  it('never throws and yields one well-formed item for random and mutated parameter maps', () => {
    fc.assert(fc.property(anyEntries, (entries) => {
      checkParse(paramsOf(entries));
    }), { numRuns: 1_000 });
  });

  it('never throws on form bodies as received (parseTwilioForm), malformed encodings and repeated names included', () => {
    fc.assert(fc.property(anyBody, (body) => {
      const params = parseTwilioForm(body);
      // The form reader keeps exactly what was sent: every name, each value a string, repeats in order.
      expect(params).toEqual(paramsOf(entriesOf(body)));
      for (const value of Object.values(params)) {
        for (const v of [value].flat()) expect(typeof v).toBe('string');
      }
      checkParse(params);
    }), { numRuns: 1_000 });
  });

  it('reads every name Object.prototype has as a plain parameter, in the form and in MessageStatus', () => {
    fc.assert(fc.property(fc.constantFrom(...PROTOTYPE_NAMES), fc.constantFrom(...PROTOTYPE_NAMES), (name, status) => {
      const body = `${formEncode(name)}=x&${twilioFixture('status_undelivered.txt').replace('MessageStatus=undelivered', `MessageStatus=${formEncode(status)}`)}`;
      const params = parseTwilioForm(body);
      expect(Object.hasOwn(params, name)).toBe(true);
      expect(params[name]).toBe('x');
      const items = checkParse(params);
      expect(items[0]).toMatchObject({ kind: 'dead_letter', reason: 'invalid_status' });
    }), { numRuns: 50 });
  });

  it('keeps a message whose content parameters are missing, contradictory or of the wrong form, not lost', () => {
    const contentNames = ['Body', 'NumMedia', 'MediaUrl0', 'MediaUrl2', 'MediaContentType0', 'Latitude', 'Longitude', 'ButtonText', 'ButtonPayload', 'MessageType'];
    const contentEntry = fc.constantFrom(...contentNames).chain((name) => valueFor(name).map((value): [string, string] => [name, value]));
    fc.assert(fc.property(freshSid, fc.array(contentEntry, { maxLength: 6 }), (sid, content) => {
      const entries: Entries = [['MessageSid', sid], ['From', 'whatsapp:+14155550123'], ['To', FIXTURE_NUMBER], ...content];
      const items = checkParse(paramsOf(entries));
      expect(items[0]).toMatchObject({ kind: 'message', providerMessageId: sid });
    }), { numRuns: 300 });
  });

  it('survives a 1 MB Body, a name 10,000 brackets deep, NUL and lone surrogates everywhere', () => {
    const huge = paramsOf([['MessageSid', 'SM1'], ['From', 'whatsapp:+14155550123'], ['To', FIXTURE_NUMBER], ['Body', 'x'.repeat(1024 * 1024)]]);
    expect(checkParse(huge)[0]).toMatchObject({ kind: 'message', type: 'text' });
    const deep = paramsOf([['MessageSid', 'SM1'], ['From', 'whatsapp:+14155550123'], ['To', FIXTURE_NUMBER], [`a${'[b]'.repeat(10_000)}`, '1'], ['ChannelMetadata', `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`]]);
    expect(checkParse(deep)[0]).toMatchObject({ kind: 'message', type: 'unsupported' });
    const nul = paramsOf([['Message\u0000Sid', 'x'], ['MessageSid', 'SM\u00001'], ['From', 'whatsapp:+14155550123'], ['To', FIXTURE_NUMBER], ['Body', 'a\u0000b\ud800'], ['ProfileName', '\udc00\u0000']]);
    expect(checkParse(nul)[0]).toMatchObject({ kind: 'message', providerMessageId: 'SM\uFFFD1', content: { body: 'a\uFFFDb\ud800' }, profileName: '\udc00\uFFFD' });
  });
});

// ---------------------------------------------------------------------------------------------
// Storing and serving (real PostgreSQL)
// ---------------------------------------------------------------------------------------------

describe('Twilio inbound path with hostile webhooks (properties, real PostgreSQL)', () => {
  const bed = useAppBed(4, { publicBaseUrl: FIXTURE_BASE_URL });
  let outboundId: string;

  beforeAll(async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTwilioNumber(bed.t.db, org.orgId, { e164: '+15550100001', accountSid: FIXTURE_ACCOUNT_SID, authToken: FIXTURE_AUTH_TOKEN });
    const { threadId } = await insertThread(bed.t.db, { orgId: org.orgId, phoneNumberRef: number.id, e164: '+14155550123' });
    outboundId = await insertOutboundMessage(bed.t.db, { orgId: org.orgId, threadId, phoneNumberRef: number.id, wamid: OUTBOUND_SID, status: 'sent' });
  });

  async function snapshot() {
    const events = await bed.t.db.selectFrom('outbox_events').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    const outbound = await bed.t.db.selectFrom('messages').select(['status', 'error_code']).where('id', '=', outboundId).executeTakeFirstOrThrow();
    return {
      messages: await countRows(bed.t.db, 'messages'), contacts: await countRows(bed.t.db, 'contacts'), threads: await countRows(bed.t.db, 'threads'),
      dead: await countRows(bed.t.db, 'webhook_dead_letters'), pending: await countRows(bed.t.db, 'pending_statuses'), events: Number(events.n), outbound,
    };
  }

  it('stores or dead-letters every parsed item of random and mutated parameter maps', async () => {
    await fc.assert(fc.asyncProperty(anyEntries, async (entries) => {
      const items = parseTwilioWebhook(paramsOf(entries), new Date());
      const before = await snapshot();
      const summary = await ingestWebhookItems(bed.t.db, items, 'property-test');
      const after = await snapshot();
      const accounted = summary.messagesStored + summary.duplicateMessages + summary.statusesApplied + summary.statusesIgnored
        + summary.statusesPending + summary.fieldEventsApplied + summary.deadLetters;
      expect(accounted).toBe(items.length);
      expect(summary.deadLetters).toBeGreaterThanOrEqual(items.filter((item) => item.kind === 'dead_letter').length);
      expect(after.messages - before.messages).toBe(summary.messagesStored);
      // Dead letters and pending statuses are deduplicated: a repeat adds no row.
      expect(after.dead - before.dead).toBeLessThanOrEqual(summary.deadLetters);
      expect(after.pending - before.pending).toBeLessThanOrEqual(summary.statusesPending);
    }), { numRuns: 150 });
  });

  it('answers 200 with empty TwiML to signed hostile forms for a known number, 403/413 otherwise, never 5xx; a redelivery changes nothing', async () => {
    await fc.assert(fc.asyncProperty(anyBody, fc.constantFrom(...TWILIO_WEBHOOK_PATHS), async (body, path) => {
      // What Twilio signs: every parameter as decoded from the body, repeats included (PROTOCOL.md §7.3).
      const signed = paramsOf(entriesOf(body));
      const signature = computeTwilioSignature(FIXTURE_AUTH_TOKEN, `${FIXTURE_BASE_URL}${path}`, signed);
      const post = () => bed.app.inject({
        method: 'POST', url: path, payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
      });
      const status = first(signed, 'MessageStatus');
      const address = first(signed, status !== undefined && !INBOUND_STATUSES.includes(status) ? 'From' : 'To');
      const known = Boolean(address) && (address === FIXTURE_NUMBER || first(signed, 'AccountSid') === FIXTURE_ACCOUNT_SID);
      const expected = Buffer.byteLength(body) > TWILIO_WEBHOOK_BODY_LIMIT ? 413 : known ? 200 : 403;

      const before = await snapshot();
      const response = await post();
      expect(response.statusCode, response.body.slice(0, 500)).toBe(expected);
      if (expected === 200) {
        expect(response.body).toBe(EMPTY_TWIML);
      } else {
        expect(response.json()).toMatchObject({ error: { code: expect.any(String), message: expect.any(String) } });
        expect(await snapshot()).toEqual(before);
      }
      const afterFirst = await snapshot();
      const again = await post();
      expect(again.statusCode).toBe(expected);
      expect(await snapshot()).toEqual(afterFirst);
    }), { numRuns: 150 });
  });

  it('stores a signed message whose text and profile name hold NUL and invalid UTF-8', async () => {
    const sid = 'SM0000000000000000000000000000f00d';
    const body = `MessageSid=${sid}&AccountSid=${FIXTURE_ACCOUNT_SID}&From=whatsapp%3A%2B14155550123&To=whatsapp%3A%2B15550100001&Body=a%00b%ED%A0%80c&ProfileName=M%00aya&k%00=1`;
    const signed = paramsOf(entriesOf(body));
    const response = await bed.app.inject({
      method: 'POST', url: '/webhooks/twilio', payload: body,
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeTwilioSignature(FIXTURE_AUTH_TOKEN, `${FIXTURE_BASE_URL}/webhooks/twilio`, signed) },
    });
    expect(response.statusCode, response.body).toBe(200);
    const row = await bed.t.db.selectFrom('messages').select(['content', 'raw']).where('provider_message_id', '=', sid).executeTakeFirstOrThrow();
    expect(row.content).toEqual({ body: 'a\uFFFDb\uFFFD\uFFFD\uFFFDc' });
    expect(row.raw).toMatchObject({ 'k\uFFFD': '1', ProfileName: 'M\uFFFDaya' });
  });

  /** POSTs entries signed as Twilio signs them (every decoded parameter, repeats included). */
  function postSigned(entries: Entries, path = '/webhooks/twilio') {
    const body = entries.map(([name, value]) => `${formEncode(name)}=${formEncode(value)}`).join('&');
    const signature = computeTwilioSignature(FIXTURE_AUTH_TOKEN, `${FIXTURE_BASE_URL}${path}`, paramsOf(entriesOf(body)));
    return bed.app.inject({ method: 'POST', url: path, payload: body, headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature } });
  }

  it.each([
    ['a parameter named constructor (was 403: signed over Object\'s constructor)', [['constructor', 'x'], ['toString', 'y'], ['__proto__', 'z']], 'message'],
    ['MessageStatus=toString (was a Function as the status)', [['MessageStatus', 'toString']], 'invalid_status'],
    ['MessageStatus=__proto__', [['MessageStatus', '__proto__']], 'invalid_status'],
    ['ErrorCode beyond PostgreSQL integer (was 500)', [['MessageStatus', 'failed'], ['ErrorCode', '2147483648']], 'status'],
    ['a 6,000-character incompressible MessageSid (was 500: B-tree entry too large)', [['MessageSid', incompressible(7, 6_000)]], 'invalid_message'],
    ['a 6,000-character MessageSid on a status (was 500)', [['MessageStatus', 'delivered'], ['MessageSid', incompressible(8, 6_000)]], 'invalid_status'],
  ] as Array<[string, Entries, string]>)('stores %s as a message, status or dead letter (200, once)', async (label, extra, outcome) => {
    const isStatus = extra.some(([name]) => name === 'MessageStatus');
    const sid = `SM${Buffer.from(label.slice(0, 16)).toString('hex')}`;
    const base: Entries = isStatus
      ? [['MessageSid', sid], ['From', FIXTURE_NUMBER], ['To', 'whatsapp:+14155550123'], ['AccountSid', FIXTURE_ACCOUNT_SID]]
      : [['MessageSid', sid], ['From', 'whatsapp:+14155550123'], ['To', FIXTURE_NUMBER], ['Body', 'hi']];
    const entries = [...base.filter(([name]) => !extra.some(([e]) => e === name)), ...extra];
    const before = await snapshot();
    const response = await postSigned(entries);
    expect(response.statusCode, response.body).toBe(200);
    const after = await snapshot();
    if (outcome === 'message') expect(after.messages).toBe(before.messages + 1);
    else if (outcome === 'status') {
      // No outbound message has this sid: the status waits in pending_statuses, without the code.
      expect(after.pending).toBe(before.pending + 1);
      const row = await bed.t.db.selectFrom('pending_statuses').select(['status', 'error_code']).where('provider_message_id', '=', sid).executeTakeFirstOrThrow();
      expect(row).toEqual({ status: 'failed', error_code: null });
    }
    else {
      expect(after.dead).toBe(before.dead + 1);
      const row = await bed.t.db.selectFrom('webhook_dead_letters').select(['reason', 'detail']).orderBy('created_at', 'desc').orderBy('id', 'desc').executeTakeFirstOrThrow();
      expect(row.reason).toBe(outcome);
    }
    expect((await postSigned(entries)).statusCode).toBe(200);
    expect(await snapshot()).toEqual(after);
  });

  it('answers 403 or 200, not 500, to a signed form whose To or AccountSid holds NUL', async () => {
    const before = await snapshot();
    const nulTo = await postSigned([['MessageSid', 'SMnul1'], ['From', 'whatsapp:+14155550123'], ['To', `${FIXTURE_NUMBER}\u0000`], ['AccountSid', '\u0000']]);
    expect(nulTo.statusCode, nulTo.body).toBe(403);
    expect(await snapshot()).toEqual(before);
    // Unknown To, known AccountSid: verified with the account's token, and the bad To dead-lettered.
    const nulToKnownAccount = await postSigned([['MessageSid', 'SMnul3'], ['From', 'whatsapp:+14155550123'], ['To', `${FIXTURE_NUMBER}\u0000`], ['AccountSid', FIXTURE_ACCOUNT_SID]]);
    expect(nulToKnownAccount.statusCode, nulToKnownAccount.body).toBe(200);
    const dead = await bed.t.db.selectFrom('webhook_dead_letters').select(['reason', 'phone_number_id']).orderBy('created_at', 'desc').orderBy('id', 'desc').executeTakeFirstOrThrow();
    expect(dead).toEqual({ reason: 'invalid_message', phone_number_id: `${FIXTURE_NUMBER}\uFFFD` });
    // Known number, NUL in AccountSid: verified with the number's token and stored.
    const nulAccount = await postSigned([['MessageSid', 'SMnul2'], ['From', 'whatsapp:+14155550123'], ['To', FIXTURE_NUMBER], ['AccountSid', `${FIXTURE_ACCOUNT_SID}\u0000`]]);
    expect(nulAccount.statusCode, nulAccount.body).toBe(200);
  });

  it('sends the hostile strings of test/hostile one by one as every parameter of a signed inbound message', async () => {
    for (const value of HOSTILE_STRINGS) {
      const entries: Entries = [['MessageSid', `SM${Buffer.from(value.slice(0, 8)).toString('hex')}x`], ['From', 'whatsapp:+14155550123'], ['To', FIXTURE_NUMBER],
        ...KNOWN_NAMES.filter((name) => !['MessageSid', 'From', 'To', 'MessageStatus'].includes(name)).map((name): [string, string] => [name, value])];
      const body = entries.map(([name, v]) => `${formEncode(name)}=${formEncode(v)}`).join('&');
      const signed = paramsOf(entriesOf(body));
      const response = await bed.app.inject({
        method: 'POST', url: '/webhooks/twilio', payload: body,
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': computeTwilioSignature(FIXTURE_AUTH_TOKEN, `${FIXTURE_BASE_URL}/webhooks/twilio`, signed) },
      });
      const expected = Buffer.byteLength(body) > TWILIO_WEBHOOK_BODY_LIMIT ? 413 : 200;
      expect(response.statusCode, `${JSON.stringify(value.slice(0, 20))}: ${response.body.slice(0, 300)}`).toBe(expected);
    }
  });
});
