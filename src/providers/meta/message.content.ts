/**
 * Validation and normalisation of the type-specific part of an inbound Meta `messages[]` item.
 *
 * Schemas are loose (`z.looseObject`): Meta adds properties without notice, and an unknown extra
 * key must never turn a valid message into an unsupported one. Sources: PROTOCOL.md §2.2,
 * [M-MSG] and the per-type references cited on each schema.
 */
import { z } from 'zod';
import type { InboundMessageType } from '../types.js';
import type { MetaErrorItem } from './webhook.types.js';

const str = z.string();
const anyObject = z.looseObject({});

const media = { id: str, mime_type: str, sha256: str, url: str.optional() };

/** Per-type schemas, keyed by `messages[].type`; the message's sub-object has the same key. */
const CONTENT_SCHEMAS = {
  /** [M-TEXT] */
  text: z.looseObject({ body: str }),
  /** [M-IMG] */
  image: z.looseObject({ ...media, caption: str.optional() }),
  /** [M-VID] */
  video: z.looseObject({ ...media, caption: str.optional() }),
  /** [M-AUD] `voice: true` marks a recorded voice note. */
  audio: z.looseObject({ ...media, voice: z.boolean().optional() }),
  /** [M-DOC] */
  document: z.looseObject({ ...media, filename: str.optional(), caption: str.optional() }),
  /** [M-STK] */
  sticker: z.looseObject({ ...media, animated: z.boolean().optional() }),
  /** [M-LOC] name/address are absent for "current location" shares. */
  location: z.looseObject({
    latitude: z.number(),
    longitude: z.number(),
    name: str.optional(),
    address: str.optional(),
    url: str.optional(),
  }),
  /** [M-CON] any property of a contact card may be missing, so items are only checked to be objects. */
  contacts: z.array(anyObject),
  /** [M-BTN][M-LIST][M-FLOW] `response_json` is a JSON *string* holding `flow_token`. */
  interactive: z.discriminatedUnion('type', [
    z.looseObject({
      type: z.literal('button_reply'),
      button_reply: z.looseObject({ id: str, title: str }),
    }),
    z.looseObject({
      type: z.literal('list_reply'),
      list_reply: z.looseObject({ id: str, title: str, description: str.optional() }),
    }),
    z.looseObject({
      type: z.literal('nfm_reply'),
      nfm_reply: z.looseObject({ name: str.optional(), body: str.optional(), response_json: str }),
    }),
  ]),
  /** [M-BUTTON] quick-reply button tapped in a template. */
  button: z.looseObject({ payload: str, text: str }),
  /** [M-IWP] an empty or absent emoji means the reaction was removed. */
  reaction: z.looseObject({
    message_id: str,
    emoji: str.nullish().transform((emoji) => emoji ?? ''),
  }),
  /** [M-ORD] `item_price` may be a decimal, so items are kept as received. */
  order: z.looseObject({ catalog_id: str, text: str.optional(), product_items: z.array(anyObject) }),
  /** [M-SYS] e.g. `user_changed_number`, `customer_identity_changed`. */
  system: z.looseObject({ body: str.optional(), type: str.optional(), wa_id: str.optional() }),
} as const;

type SupportedType = keyof typeof CONTENT_SCHEMAS;

/** Result of {@link normaliseMessageContent}. */
export interface NormalisedContent {
  type: InboundMessageType;
  content: Record<string, unknown>;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringOrNull(value: unknown): string | null {
  return typeof value === 'string' ? value : null;
}

/**
 * Normalises a Meta error array (`value.errors[]`, `messages[].errors[]`, `statuses[].errors[]`).
 * Input item shape: `{code, title?, message?, error_data?: {details?}, href?}` [M-MSG].
 * Items without a numeric `code` are skipped (the caller keeps the raw payload); a non-array
 * input yields `[]`. Never throws.
 */
export function normaliseMetaErrors(errors: unknown): MetaErrorItem[] {
  if (!Array.isArray(errors)) return [];
  const items: MetaErrorItem[] = [];
  for (const error of errors) {
    // error_code is an integer column: a code that is not a 32-bit integer cannot be Meta's (and would fail the insert).
    if (!isRecord(error) || typeof error.code !== 'number' || !Number.isInteger(error.code) || Math.abs(error.code) > 2_147_483_647) continue;
    const errorData = isRecord(error.error_data) ? error.error_data : {};
    items.push({
      code: error.code,
      title: stringOrNull(error.title),
      message: stringOrNull(error.message),
      details: stringOrNull(errorData.details),
    });
  }
  return items;
}

/** `context` (reply, forward, catalog) and `referral` (click-to-WhatsApp ad) [M-TEXT][M-IWP]. */
function messageExtras(message: Record<string, unknown>): Record<string, unknown> {
  const extras: Record<string, unknown> = {};
  if (isRecord(message.context)) extras.context = message.context;
  if (isRecord(message.referral)) extras.referral = message.referral;
  return extras;
}

function unsupported(
  unsupportedType: string | null,
  errors: MetaErrorItem[],
  message: Record<string, unknown>,
): NormalisedContent {
  return {
    type: 'unsupported',
    content: { unsupported_type: unsupportedType, errors, ...messageExtras(message) },
  };
}

function isSupportedType(type: string): type is SupportedType {
  return Object.hasOwn(CONTENT_SCHEMAS, type);
}

/**
 * Validates the sub-object named by `message.type` and returns the stored type and content.
 *
 * - Supported type with a valid sub-object: `content` = the sub-object (extra keys kept; reaction
 *   `emoji` defaults to `""`), or `{contacts: [...]}` for `contacts`.
 * - `type: "unsupported"` [M-UNS], an unknown type (`edit`, `poll`, `revoke`, …), or a supported
 *   type whose sub-object is missing or invalid: type `unsupported`, content
 *   `{unsupported_type: string | null, errors: MetaErrorItem[]}`. When the sub-object is missing,
 *   `valueErrors` (the change's `value.errors[]`) are included, because Meta reports an
 *   unparseable payload there (observed: `interactive` without `interactive` + 131000 [pywa]).
 * - `context` and `referral` are added to the content whenever present.
 *
 * Never throws for JSON input.
 */
export function normaliseMessageContent(
  message: Record<string, unknown>,
  valueErrors: unknown,
): NormalisedContent {
  const type = message.type;
  const messageErrors = normaliseMetaErrors(message.errors);
  if (typeof type !== 'string') return unsupported(null, messageErrors, message);

  const subObject = message[type];
  if (type === 'unsupported') {
    const inner = isRecord(subObject) ? stringOrNull(subObject.type) : null;
    const errors = subObject === undefined
      ? [...messageErrors, ...normaliseMetaErrors(valueErrors)]
      : messageErrors;
    return unsupported(inner, errors, message);
  }
  if (!isSupportedType(type)) return unsupported(type, messageErrors, message);
  if (subObject === undefined || subObject === null) {
    return unsupported(type, [...messageErrors, ...normaliseMetaErrors(valueErrors)], message);
  }

  const parsed = CONTENT_SCHEMAS[type].safeParse(subObject);
  if (!parsed.success) return unsupported(type, messageErrors, message);
  const content: Record<string, unknown> = Array.isArray(parsed.data)
    ? { contacts: parsed.data }
    : { ...parsed.data };
  return { type, content: { ...content, ...messageExtras(message) } };
}
