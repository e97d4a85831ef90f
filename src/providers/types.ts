/**
 * The provider interface: what wahub needs from a WhatsApp provider (Meta's Cloud API, Twilio), in
 * terms that know nothing of either wire format. Everything above `providers/` (inbound service,
 * dispatcher, contacts, threads, messages, outbox) works on these types only.
 *
 * Glossary: provider = the company that carries the WhatsApp traffic (`meta` | `twilio`, column
 * `phone_numbers.provider`); `phone_number_id` = the provider's id of the business number, the key
 * wahub routes on (Meta: its numeric id; Twilio: the sender address `whatsapp:+<E.164>`); WABA =
 * WhatsApp Business Account (Meta only; null for Twilio); `wa_id` = the customer's WhatsApp id
 * (digits); provider message id = Meta's wamid or Twilio's MessageSid (`SM…`/`MM…`), opaque.
 *
 * Three capabilities, one per direction:
 * - verify a webhook's signature (`verify…Signature` in each provider folder);
 * - parse an inbound webhook into {@link ParsedWebhookItem}s (`parseMetaWebhook`, `parseTwilioWebhook`);
 * - send a message: {@link MessageSender}.
 */
import type { OutboundMessage } from './meta/send.schema.js';

/** The providers a phone number can use (`phone_numbers.provider`). */
export const PROVIDERS = ['meta', 'twilio'] as const;
export type ProviderName = (typeof PROVIDERS)[number];

/** Inbound message types wahub stores; anything else is stored as `unsupported`. */
export const INBOUND_MESSAGE_TYPES = [
  'text', 'image', 'audio', 'video', 'document', 'sticker', 'location', 'contacts',
  'interactive', 'button', 'reaction', 'order', 'system', 'unsupported',
] as const;
export type InboundMessageType = (typeof INBOUND_MESSAGE_TYPES)[number];

/** Delivery statuses of outbound messages, as wahub stores them (Twilio's are mapped onto these). */
export const DELIVERY_STATUS_VALUES = ['sent', 'delivered', 'read', 'played', 'failed'] as const;
export type DeliveryStatusValue = (typeof DELIVERY_STATUS_VALUES)[number];

/** A provider error attached to a status or an unsupported message: Meta's error object, or Twilio's `ErrorCode`. */
export interface ProviderErrorItem {
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
  'invalid_message', // a message without sender/id/timestamp (Meta) or From/To/MessageSid (Twilio)
  'invalid_status', // a status without id/status/timestamp, or an unknown status value
  'webhook_error', // value.errors[]: system, app or account level error reported by Meta
  'unhandled_field', // a field wahub does not process yet (kept for later replay)
  'unroutable_phone_number', // phone_number_id not connected to any organization
  'waba_mismatch', // phone_number_id does not belong to entry.id's WABA
  'provider_mismatch', // the number is connected through another provider than the webhook's
  'contact_without_phone', // sender has no wa_id from which an E.164 number can be derived
  'invalid_json', // signed body that is not JSON
  'store_failed', // a signed webhook whose storing failed WEBHOOK_STORE_MAX_ATTEMPTS times (not a database outage); kept whole
  'ambiguous_partner', // PARTNER_ADDED that no single pending Embedded Signup can own: never linked to a guessed organization
  'unroutable_waba', // a template webhook for a WABA no organization has connected
  'invalid_template_update', // a template webhook without a usable template name, language or value
] as const;
export type DeadLetterReason = (typeof DEAD_LETTER_REASONS)[number];

/** One customer message, ready to store. `content` is the type's object, validated and normalised. */
export interface ParsedInboundMessage {
  kind: 'message';
  provider: ProviderName;
  /** Meta: `entry[].id`, the WABA id. Twilio: null (no WABA). */
  wabaId: string | null;
  /** The business number: Meta `value.metadata.phone_number_id`; Twilio the `To` address (`whatsapp:+E164`). */
  phoneNumberId: string;
  /** The business number's digits as the provider showed them, or null when absent. */
  displayPhoneNumber: string | null;
  /** The customer's wa_id (digits, no `+`), or null when the provider withheld the number (a username-only customer). */
  waId: string | null;
  /** The customer's business-scoped user ID (Meta `from_user_id` / `contacts[].user_id`), or null (Twilio, older webhooks). */
  bsuid: string | null;
  /** Parent BSUID (`contacts[].parent_user_id`), or null. */
  parentBsuid: string | null;
  /** The customer's WhatsApp username (`contacts[].profile.username`), or null. */
  username: string | null;
  /** The customer's WhatsApp profile name, or null. */
  profileName: string | null;
  /** Meta's wamid or Twilio's MessageSid; unique per business number. */
  providerMessageId: string;
  /** When the provider says the message was sent (Meta), or when wahub received it (Twilio sends no time). */
  timestamp: Date;
  type: InboundMessageType;
  /**
   * The type's object in Meta's shape (e.g. `{ body }` for text, `{ id, mime_type, sha256, caption?, url? }`
   * for image), plus `context` and `referral` when present. For `unsupported`:
   * `{ unsupported_type: string | null, errors: ProviderErrorItem[] }`.
   */
  content: Record<string, unknown>;
  /** The message exactly as received (Meta's `messages[]` item; Twilio's form parameters). */
  raw: unknown;
}

/** One delivery status for an outbound message. */
export interface ParsedStatus {
  kind: 'status';
  provider: ProviderName;
  wabaId: string | null;
  phoneNumberId: string;
  /** The outbound message's provider id (wamid, MessageSid). */
  providerMessageId: string;
  status: DeliveryStatusValue;
  /** Provider time of the status (Meta), or time of receipt (Twilio). */
  timestamp: Date;
  /** The customer's wa_id, or null when absent. */
  recipientId: string | null;
  /** The customer's BSUID (`recipient_user_id`), or null when absent. Statuses are matched by wamid, never by this. */
  recipientUserId: string | null;
  /** Errors of a failed status, else empty. */
  errors: ProviderErrorItem[];
  /** The status exactly as received. */
  raw: unknown;
}

/** A Meta change of a field other than `messages` (account_update, template status, quality, …). */
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
  provider: ProviderName;
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

/** What the dispatcher does with a failed send. */
export type SendErrorClass =
  /** Try again later with backoff (rate limits, temporary service errors, 5xx, timeouts). */
  | 'retryable'
  /** The credentials are invalid or expired: the number needs re-authorisation. */
  | 'reauth'
  /** Retrying will not help (policy, customer service window, invalid request, …). */
  | 'permanent';

/** A failed send, classified by the provider module. */
export interface ProviderSendError {
  class: SendErrorClass;
  /** The provider's error code (Meta `error.code`, Twilio `code`), or null without one (network error, plain 5xx). */
  code: number | null;
  /** Short, human-readable reason. */
  title: string;
  details: string | null;
  /** HTTP status, or null when no response arrived. */
  httpStatus: number | null;
  /**
   * How a retryable error wants to be backed off, when not the usual exponential retry: the
   * provider knows its codes, so the dispatcher never branches on them (STYLE §14).
   * - `throughput`: the number's send rate is over the provider's limit (Meta 130429): pause the
   *   number, retry without counting an attempt;
   * - `pair_rate_limit`: too many messages to this one recipient (Meta 131056): that recipient
   *   waits 4^X s, other recipients go on, attempts are not used up (bounded by a total time).
   */
  backoff?: SendBackoff;
}

/** A retryable error's own backoff (see ProviderSendError.backoff). */
export type SendBackoff = 'throughput' | 'pair_rate_limit';

/** Outcome of one send: the provider's message id (null for a read receipt) or a classified error. */
export type ProviderSendResult = { ok: true; providerMessageId: string | null } | { ok: false; error: ProviderSendError };

/** How a send addresses the customer: by number when known (every provider), else by BSUID (Meta only). */
export type CustomerAddress = { e164: string } | { bsuid: string };

/** One message to send from a business number. */
export interface SendRequest {
  /** The business number: its provider id, E.164 number and (Twilio) account SID. */
  from: { phoneNumberId: string; e164: string; accountSid: string | null };
  /** The number's decrypted credential: Meta access token, or Twilio auth token. Never logged. */
  credential: string;
  /** The customer: E.164 number with `+`, or, for a customer known only by one, the BSUID (Meta `recipient`). */
  to: CustomerAddress;
  message: OutboundMessage;
}

/** Sends messages through one provider. Only the outbox dispatcher calls it (SPEC §4). */
export interface MessageSender {
  /** Never throws for HTTP or network failures: they come back classified. */
  sendMessage(request: SendRequest): Promise<ProviderSendResult>;
}
