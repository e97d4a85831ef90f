/**
 * Normalised items parsed out of one Meta webhook POST (see webhook.parser.ts).
 *
 * Glossary: WABA = WhatsApp Business Account (`entry[].id` for the `messages` field);
 * `phone_number_id` = Meta's id of the business number (`value.metadata.phone_number_id`), the key
 * wahub routes tenants on; `wa_id` = the customer's WhatsApp id (digits, usually the E.164 number
 * without `+`); wamid = Meta's message id (`messages[].id`, `statuses[].id`), opaque.
 * Source: Meta webhooks reference, `messages` field (webhooks/reference/messages) and
 * PROTOCOL.md §2.
 */

/** Inbound message types wahub stores; anything else is stored as `unsupported`. */
export const INBOUND_MESSAGE_TYPES = [
  'text', 'image', 'audio', 'video', 'document', 'sticker', 'location', 'contacts',
  'interactive', 'button', 'reaction', 'order', 'system', 'unsupported',
] as const;
export type InboundMessageType = (typeof INBOUND_MESSAGE_TYPES)[number];

/** Delivery statuses Meta reports for outbound messages (`statuses[].status`). */
export const META_STATUS_VALUES = ['sent', 'delivered', 'read', 'played', 'failed'] as const;
export type MetaStatusValue = (typeof META_STATUS_VALUES)[number];

/** Meta error object as found in `value.errors[]`, `messages[].errors[]`, `statuses[].errors[]`. */
export interface MetaErrorItem {
  code: number;
  title: string | null;
  message: string | null;
  details: string | null;
}

/** Stable reasons for a dead-lettered webhook item (column `webhook_dead_letters.reason`). */
export const DEAD_LETTER_REASONS = [
  'invalid_envelope', // body is JSON but not a whatsapp_business_account envelope
  'invalid_change', // a change without a usable `field`/`value`
  'missing_metadata', // `messages` change without metadata.phone_number_id
  'invalid_message', // a messages[] item without from/id/timestamp
  'invalid_status', // a statuses[] item without id/status/timestamp, or an unknown status value
  'webhook_error', // value.errors[]: system, app or account level error reported by Meta
  'unhandled_field', // a field wahub does not process yet (kept for later replay)
  'unroutable_phone_number', // phone_number_id not connected to any organization
  'waba_mismatch', // phone_number_id does not belong to entry.id's WABA
  'contact_without_phone', // sender has no wa_id from which an E.164 number can be derived
  'invalid_json', // signed body that is not JSON
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** One customer message, ready to store. `content` is the type's object, validated and normalised. */
export interface ParsedInboundMessage {
  kind: 'message';
  /** `entry[].id`: the WABA id. */
  wabaId: string;
  /** `value.metadata.phone_number_id`. */
  phoneNumberId: string;
  /** `value.metadata.display_phone_number`, digits only, or null when absent. */
  displayPhoneNumber: string | null;
  /** `messages[].from`: the customer's wa_id (digits, no `+`). */
  waId: string;
  /** `contacts[].profile.name` of the contact whose wa_id matches, or null. */
  profileName: string | null;
  /** `messages[].id`. */
  wamid: string;
  /** `messages[].timestamp` (string of unix seconds) as a Date. */
  timestamp: Date;
  type: InboundMessageType;
  /**
   * The type's object (e.g. `{ body }` for text, `{ id, mime_type, sha256, caption?, url? }` for
   * image), plus `context` and `referral` when Meta sent them. For `unsupported`:
   * `{ unsupported_type: string | null, errors: MetaErrorItem[] }`.
   */
  content: Record<string, unknown>;
  /** The `messages[]` item exactly as received. */
  raw: unknown;
}

/** One delivery status for an outbound message. */
export interface ParsedStatus {
  kind: 'status';
  wabaId: string;
  phoneNumberId: string;
  /** `statuses[].id`: wamid of the outbound message. */
  wamid: string;
  status: MetaStatusValue;
  /** `statuses[].timestamp` as a Date. */
  timestamp: Date;
  /** `statuses[].recipient_id`: the customer's wa_id, or null when absent. */
  recipientId: string | null;
  /** `statuses[].errors[]`, empty unless failed. */
  errors: MetaErrorItem[];
  /** The `statuses[]` item exactly as received. */
  raw: unknown;
}

/** A change of a field other than `messages` (account_update, template status, quality, …). */
export interface ParsedFieldEvent {
  kind: 'field_event';
  field: string;
  /** `entry[].id` (a WABA id, or a partner business id for account_update PARTNER_*). */
  entryId: string | null;
  value: unknown;
}

/** Something wahub cannot process; kept whole in `webhook_dead_letters`. */
export interface ParsedDeadLetter {
  kind: 'dead_letter';
  reason: DeadLetterReason;
  /** Human-readable explanation, e.g. which property was missing. */
  detail: string;
  wabaId: string | null;
  phoneNumberId: string | null;
  field: string | null;
  /** The smallest enclosing part of the payload that shows the problem. */
  raw: unknown;
}

export type ParsedWebhookItem = ParsedInboundMessage | ParsedStatus | ParsedFieldEvent | ParsedDeadLetter;
