/**
 * Parses a Meta (WhatsApp Cloud API) webhook body into normalised items: inbound messages,
 * delivery statuses, other-field events and dead letters. A valid signature proves only that Meta
 * sent the body: shapes still vary across API versions and fields, so every property is checked
 * and one bad item never loses its siblings. Sources: PROTOCOL.md §2, [M-MSG][M-STATUS][M-OVR].
 */
import { normaliseMessageContent, normaliseMetaErrors } from './message.content.js';
import type {
  DeadLetterReason, ParsedDeadLetter, ParsedInboundMessage, ParsedStatus, ParsedWebhookItem,
} from '../types.js';
import { META_STATUS_VALUES, type MetaStatusValue } from './webhook.types.js';
import { senderIdentity } from './webhook.identity.js';
import { isBsuid } from '../../shared/bsuid.js';

/** `object` of every WhatsApp Business webhook envelope [M-EP]. */
const WHATSAPP_OBJECT = 'whatsapp_business_account';

/** Where a dead letter came from; filled in as far as the parser got. */
interface Location {
  wabaId: string | null;
  phoneNumberId: string | null;
  field: string | null;
}

/** What every item of one `messages` change shares. */
interface MessagesChange {
  wabaId: string;
  phoneNumberId: string;
  displayPhoneNumber: string | null;
  value: Record<string, unknown>;
}

const NO_LOCATION: Location = { wabaId: null, phoneNumberId: null, field: null };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function nonEmptyString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * Longest wamid accepted, characters. Meta's are about 60; a longer id cannot be a real one and
 * would exceed the B-tree row limit of the unique wamid index (a 500 on every redelivery).
 */
const MAX_WAMID_LENGTH = 256;

function wamidOf(value: unknown): string | null {
  const id = nonEmptyString(value);
  return id !== null && id.length <= MAX_WAMID_LENGTH ? id : null;
}

function deadLetter(
  reason: DeadLetterReason,
  detail: string,
  location: Location,
  raw: unknown,
): ParsedDeadLetter {
  return { kind: 'dead_letter', provider: 'meta', reason, detail, ...location, raw };
}

/** A short, bounded rendering of an untrusted value for a dead letter's detail. */
function describeValue(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value.slice(0, 40)) : typeof value;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Converts a Meta timestamp (unix seconds, sent as a string like `"1767268800"`, or a number) to a
 * Date. Only non-negative integers representable as a Date are accepted; anything else is null.
 */
export function parseUnixSeconds(value: unknown): Date | null {
  let seconds: number;
  if (typeof value === 'number') seconds = value;
  else if (typeof value === 'string' && /^\d{1,15}$/.test(value)) seconds = Number(value);
  else return null;
  if (!Number.isSafeInteger(seconds) || seconds < 0) return null;
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? null : date;
}

function parseMessage(change: MessagesChange, message: unknown, index: number): ParsedWebhookItem {
  const location = { wabaId: change.wabaId, phoneNumberId: change.phoneNumberId, field: 'messages' };
  if (!isRecord(message)) {
    return deadLetter('invalid_message', `messages[${index}] is not an object`, location, message);
  }
  const identity = senderIdentity(message, change.value.contacts);
  const wamid = wamidOf(message.id);
  const timestamp = parseUnixSeconds(message.timestamp);
  const missing = [!wamid && 'id', !timestamp && 'timestamp'].filter(Boolean);
  if (!identity.ok) return deadLetter('invalid_message', `messages[${index}]: ${identity.detail}`, location, message);
  if (!wamid || !timestamp) {
    const detail = `messages[${index}] has no valid ${missing.join(', ')}`;
    return deadLetter('invalid_message', detail, location, message);
  }
  const { type, content } = normaliseMessageContent(message, change.value.errors);
  const parsed: ParsedInboundMessage = {
    kind: 'message',
    provider: 'meta',
    wabaId: change.wabaId,
    phoneNumberId: change.phoneNumberId,
    displayPhoneNumber: change.displayPhoneNumber,
    ...identity.sender,
    providerMessageId: wamid,
    timestamp,
    type,
    content,
    raw: message,
  };
  return parsed;
}

function isStatusValue(value: unknown): value is MetaStatusValue {
  return typeof value === 'string' && (META_STATUS_VALUES as readonly string[]).includes(value);
}

function parseStatus(change: MessagesChange, status: unknown, index: number): ParsedWebhookItem {
  const location = { wabaId: change.wabaId, phoneNumberId: change.phoneNumberId, field: 'messages' };
  if (!isRecord(status)) {
    return deadLetter('invalid_status', `statuses[${index}] is not an object`, location, status);
  }
  const wamid = wamidOf(status.id);
  const timestamp = parseUnixSeconds(status.timestamp);
  if (!wamid || !timestamp || !isStatusValue(status.status)) {
    const detail = !wamid ? 'no valid id' : !timestamp ? 'no valid timestamp'
      : `unknown status ${describeValue(status.status)}`;
    return deadLetter('invalid_status', `statuses[${index}]: ${detail}`, location, status);
  }
  const parsed: ParsedStatus = {
    kind: 'status',
    provider: 'meta',
    wabaId: change.wabaId,
    phoneNumberId: change.phoneNumberId,
    providerMessageId: wamid,
    status: status.status,
    timestamp,
    recipientId: typeof status.recipient_id === 'string' ? status.recipient_id : null,
    recipientUserId: isBsuid(status.recipient_user_id) ? status.recipient_user_id : null,
    errors: normaliseMetaErrors(status.errors),
    raw: status,
  };
  return parsed;
}

/** `value.errors[]`: system, app or account level errors, each kept as a dead letter [M-MSG]. */
function parseValueError(change: MessagesChange, error: unknown, index: number): ParsedDeadLetter {
  const location = { wabaId: change.wabaId, phoneNumberId: change.phoneNumberId, field: 'messages' };
  const code = isRecord(error) ? error.code : undefined;
  const title = isRecord(error) ? error.title : undefined;
  const detail = `value.errors[${index}]: code ${String(code)}, title ${String(title)}`;
  return deadLetter('webhook_error', detail, location, error);
}

/**
 * Maps every element of `value[key]` with `parse`, isolating failures per element. A present but
 * non-array `value[key]` becomes one dead letter with `reason`.
 */
function parseEach(
  change: MessagesChange,
  key: 'messages' | 'statuses' | 'errors',
  reason: DeadLetterReason,
  parse: (change: MessagesChange, item: unknown, index: number) => ParsedWebhookItem,
): ParsedWebhookItem[] {
  const location = { wabaId: change.wabaId, phoneNumberId: change.phoneNumberId, field: 'messages' };
  const list = change.value[key];
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    return [deadLetter(reason, `value.${key} is not an array`, location, list)];
  }
  return list.map((item: unknown, index) => {
    try {
      return parse(change, item, index);
    } catch (error) {
      return deadLetter(reason, `${key}[${index}]: ${describeError(error)}`, location, item);
    }
  });
}

/** A `messages` change: `value{metadata, contacts?, messages?, statuses?, errors?}` [M-MSG]. */
function parseMessagesChange(
  entryId: string | null,
  change: Record<string, unknown>,
  value: Record<string, unknown>,
): ParsedWebhookItem[] {
  if (entryId === null) {
    const location = { ...NO_LOCATION, field: 'messages' };
    return [deadLetter('invalid_change', 'messages change in an entry without id', location, change)];
  }
  const metadata = isRecord(value.metadata) ? value.metadata : {};
  const phoneNumberId = nonEmptyString(metadata.phone_number_id);
  if (phoneNumberId === null) {
    const location = { wabaId: entryId, phoneNumberId: null, field: 'messages' };
    return [deadLetter('missing_metadata', 'no value.metadata.phone_number_id', location, value)];
  }
  const displayPhoneNumber = typeof metadata.display_phone_number === 'string'
    ? metadata.display_phone_number
    : null;
  const parsedChange: MessagesChange = { wabaId: entryId, phoneNumberId, displayPhoneNumber, value };
  const items = [
    ...parseEach(parsedChange, 'messages', 'invalid_message', parseMessage),
    ...parseEach(parsedChange, 'statuses', 'invalid_status', parseStatus),
    ...parseEach(parsedChange, 'errors', 'webhook_error', parseValueError),
  ];
  if (items.length > 0) return items;
  // A messages change with none of the known arrays is a shape wahub does not know yet.
  const location = { wabaId: entryId, phoneNumberId, field: 'messages' };
  return [deadLetter('unhandled_field', 'messages change without messages, statuses or errors', location, value)];
}

/** `entry[].id` as a string: Meta sends a string, but a number is accepted. */
function entryIdOf(entry: Record<string, unknown>): string | null {
  if (typeof entry.id === 'number' && Number.isFinite(entry.id)) return String(entry.id);
  return nonEmptyString(entry.id);
}

function parseChange(entryId: string | null, change: unknown): ParsedWebhookItem[] {
  if (!isRecord(change) || typeof change.field !== 'string' || !isRecord(change.value)) {
    const field = isRecord(change) && typeof change.field === 'string' ? change.field : null;
    const location = { wabaId: entryId, phoneNumberId: null, field };
    return [deadLetter('invalid_change', 'change without a string field and an object value', location, change)];
  }
  if (change.field === 'messages') return parseMessagesChange(entryId, change, change.value);
  return [{ kind: 'field_event', field: change.field, entryId, value: change.value }];
}

function parseEntry(entry: unknown, index: number): ParsedWebhookItem[] {
  if (!isRecord(entry) || !Array.isArray(entry.changes)) {
    return [deadLetter('invalid_envelope', `entry[${index}] has no changes array`, NO_LOCATION, entry)];
  }
  const entryId = entryIdOf(entry);
  return entry.changes.flatMap((change: unknown, changeIndex) => {
    try {
      return parseChange(entryId, change);
    } catch (error) {
      const detail = `entry[${index}].changes[${changeIndex}]: ${describeError(error)}`;
      return [deadLetter('invalid_change', detail, { ...NO_LOCATION, wabaId: entryId }, change)];
    }
  });
}

/**
 * Parses a Meta webhook body (already `JSON.parse`d) into normalised items. Never throws.
 *
 * Envelope: `{object: "whatsapp_business_account", entry: [{id, time?, changes: [{field, value}]}]}`
 * [M-EP][M-OVR]. Every `entry[] × changes[]` is visited:
 * - `field: "messages"` → one {@link ParsedInboundMessage} per `value.messages[]`, one
 *   {@link ParsedStatus} per `value.statuses[]`, one `webhook_error` dead letter per
 *   `value.errors[]` [M-MSG]. Timestamps are unix seconds (strings) converted to Dates.
 *   `wabaId` = `entry.id`; `phoneNumberId` = `value.metadata.phone_number_id`.
 * - any other field → a `field_event` with the value as received (`entryId` may be a partner
 *   business id for account_update PARTNER_* [M-AU]).
 * - anything unusable → a {@link ParsedDeadLetter} whose `raw` is the smallest enclosing part.
 *
 * Unknown or malformed message types are not dead letters: they are stored as `unsupported`
 * (see `normaliseMessageContent`), so no customer message is lost.
 */
export function parseMetaWebhook(body: unknown): ParsedWebhookItem[] {
  try {
    if (!isRecord(body) || body.object !== WHATSAPP_OBJECT || !Array.isArray(body.entry)) {
      const detail = `not a ${WHATSAPP_OBJECT} envelope with an entry array`;
      return [deadLetter('invalid_envelope', detail, NO_LOCATION, body)];
    }
    return body.entry.flatMap((entry: unknown, index) => parseEntry(entry, index));
  } catch (error) {
    return [deadLetter('invalid_envelope', `unparseable body: ${describeError(error)}`, NO_LOCATION, body)];
  }
}
