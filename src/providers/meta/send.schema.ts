/**
 * Outbound message schemas with Meta's limits, and the Graph API send body built from them.
 *
 * A wahub message is shaped exactly like Meta's: `{ type: "<t>", "<t>": {...}, context? }`, so the
 * type's object passes through to the wire untouched. Limits come from PROTOCOL.md §3.1
 * [M-SEND][M-BTN][M-LIST][M-IMG-SEND][M-REACT][M-READ][M-TYPING][M-UTIL]. Every object is strict:
 * a misspelt key is refused with its path rather than silently dropped before reaching Meta.
 */
import { z } from 'zod';

/** Every outbound `type` wahub accepts; `mark_as_read` is wahub's name for Meta's read receipt. */
export const OUTBOUND_MESSAGE_TYPES = [
  'text', 'image', 'video', 'document', 'audio', 'sticker',
  'interactive', 'template', 'reaction', 'mark_as_read',
] as const;
export type OutboundMessageType = (typeof OUTBOUND_MESSAGE_TYPES)[number];

/** Graph API body for a message send (everything but mark-as-read). */
export type MetaSendRequest = Record<string, unknown>;

// A key that a variant must not carry, with a message that says why (clearer than "Unrecognized key").
const notAllowed = (message: string) => z.never({ error: message }).optional();
const text = (max: number) => z.string().min(1).max(max);

/** Adds one issue per repeated value, at the path of the repeat. */
function refuseDuplicates(ctx: z.RefinementCtx, items: { value: string; path: PropertyKey[] }[], what: string): void {
  const seen = new Set<string>();
  for (const { value, path } of items) {
    if (seen.has(value)) ctx.addIssue({ code: 'custom', path, message: `duplicate ${what} "${value}": ${what}s must be unique` });
    seen.add(value);
  }
}

const contextSchema = z.strictObject({ message_id: z.string().min(1) });

const textObject = z.strictObject({ body: text(4096), preview_url: z.boolean().optional() });

// Media is referenced by an uploaded media id or fetched by Meta from a public URL, never both.
const mediaSource = {
  id: z.string().min(1).optional(),
  link: z.url({ protocol: /^https?$/, error: 'link must be an http or https URL' }).optional(),
};
function requireOneSource(value: { id?: string | undefined; link?: string | undefined }, ctx: z.RefinementCtx): void {
  if ((value.id === undefined) === (value.link === undefined)) {
    ctx.addIssue({ code: 'custom', path: [], message: 'provide exactly one of id (uploaded media id) or link (http(s) URL)' });
  }
}
const caption = z.string().max(1024).optional();
const noCaption = notAllowed('caption is only allowed on image, video and document');
const noFilename = notAllowed('filename is only allowed on document');
const imageObject = z.strictObject({ ...mediaSource, caption, filename: noFilename }).superRefine(requireOneSource);
const videoObject = imageObject;
const documentObject = z
  .strictObject({ ...mediaSource, caption, filename: z.string().min(1).max(240).optional() })
  .superRefine(requireOneSource);
const audioObject = z.strictObject({ ...mediaSource, caption: noCaption, filename: noFilename }).superRefine(requireOneSource);
const stickerObject = audioObject;

const mediaRef = z.strictObject(mediaSource).superRefine(requireOneSource);
const textHeader = z.strictObject({ type: z.literal('text'), text: text(60) });
const footer = z.strictObject({ text: text(60) });
const buttonHeader = z.discriminatedUnion('type', [
  textHeader,
  z.strictObject({ type: z.literal('image'), image: mediaRef }),
  z.strictObject({ type: z.literal('video'), video: mediaRef }),
  z.strictObject({ type: z.literal('document'), document: documentObject }),
]);

const replyButton = z.strictObject({
  type: z.literal('reply'),
  reply: z.strictObject({ id: text(256), title: text(20) }),
});
const buttonsAction = z
  .strictObject({ buttons: z.array(replyButton).min(1).max(3) })
  .superRefine((action, ctx) => {
    // The tapped button comes back as button_reply{id,title}: both must identify it [M-BTN].
    refuseDuplicates(ctx, action.buttons.map((b, i) => ({ value: b.reply.id, path: ['buttons', i, 'reply', 'id'] })), 'button id');
    refuseDuplicates(ctx, action.buttons.map((b, i) => ({ value: b.reply.title, path: ['buttons', i, 'reply', 'title'] })), 'button title');
  });

const listRow = z.strictObject({ id: text(200), title: text(24), description: z.string().max(72).optional() });
const listSection = z.strictObject({ title: text(24).optional(), rows: z.array(listRow).min(1).max(10) });
const listAction = z
  .strictObject({ button: text(20), sections: z.array(listSection).min(1).max(10) })
  .superRefine((action, ctx) => {
    const rows = action.sections.flatMap((s, si) => s.rows.map((r, ri) => ({ value: r.id, path: ['sections', si, 'rows', ri, 'id'] })));
    if (rows.length > 10) ctx.addIssue({ code: 'custom', path: ['sections'], message: `a list may hold at most 10 rows in total across sections (got ${rows.length})` });
    refuseDuplicates(ctx, rows, 'row id');
    if (action.sections.length > 1) {
      action.sections.forEach((s, si) => {
        if (s.title === undefined) ctx.addIssue({ code: 'custom', path: ['sections', si, 'title'], message: 'section title is required when a list has more than one section' });
      });
    }
  });

const interactiveObject = z.discriminatedUnion(
  'type',
  [
    z.strictObject({ type: z.literal('button'), header: buttonHeader.optional(), body: z.strictObject({ text: text(1024) }), footer: footer.optional(), action: buttonsAction }),
    z.strictObject({ type: z.literal('list'), header: textHeader.optional(), body: z.strictObject({ text: text(4096) }), footer: footer.optional(), action: listAction }),
  ],
  { error: (iss) => (iss.code === 'invalid_union' ? 'interactive.type must be "button" or "list"' : undefined) },
);

// Parameters are checked by Meta against the approved template (132000/132012); wahub only
// checks the envelope and keeps unknown keys (loose objects) so new parameter kinds pass through.
const templateParameter = z.looseObject({ type: z.string().min(1) });
const templateComponent = z.looseObject({
  type: z.enum(['header', 'body', 'footer', 'button']),
  sub_type: z.string().min(1).optional(),
  index: z.union([z.number().int().min(0), z.string().regex(/^\d+$/)]).optional(),
  parameters: z.array(templateParameter).optional(),
});
const templateObject = z.strictObject({
  // A Meta template name, or (numbers of provider twilio) a Twilio Content SID naming the approved template.
  name: z.string().regex(/^(?:[a-z0-9_]{1,512}|HX[0-9a-f]{32})$/, 'template name must be 1 to 512 characters of a-z, 0-9 and _ (or a Twilio Content SID, HX + 32 hex)'),
  language: z.strictObject({ code: z.string().min(1), policy: z.literal('deterministic').optional() }),
  components: z.array(templateComponent).optional(),
});

const EMOJI_MARK = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20e3/u;
const graphemes = new Intl.Segmenter(undefined, { granularity: 'grapheme' });
/** "" removes a reaction [M-REACT]; otherwise one emoji (one grapheme, ≤ 10 UTF-16 code units). */
function isReactionEmoji(value: string): boolean {
  if (value === '') return true;
  return value.length <= 10 && EMOJI_MARK.test(value) && [...graphemes.segment(value)].length === 1;
}
const reactionObject = z.strictObject({
  message_id: z.string().min(1),
  emoji: z.string().refine(isReactionEmoji, 'emoji must be a single emoji, or "" to remove the reaction'),
});

const markAsReadObject = z.strictObject({
  message_id: z.string().min(1),
  typing_indicator: z.strictObject({ type: z.literal('text') }).optional(),
});

/** One variant `{ ...extra, type, [type]: object, context? }`, typed with the computed key. */
function variant<K extends string, S extends z.ZodType, C extends z.ZodType, E extends z.ZodRawShape>(
  type: K, object: S, context: C, extra: E,
) {
  const keyed = { [type]: object } as { [P in K]: S };
  return z.strictObject({ ...extra, type: z.literal(type), ...keyed, context });
}

const optionalContext = contextSchema.optional();
const noContextOn = (type: string) => notAllowed(`context (reply/quote) is not allowed on ${type}`);
const unknownType = (types: readonly string[]) => (iss: { code?: string }) =>
  iss.code === 'invalid_union' ? `type must be one of: ${types.join(', ')}` : undefined;

function messageVariants<E extends z.ZodRawShape>(extra: E) {
  return [
    variant('text', textObject, optionalContext, extra),
    variant('image', imageObject, optionalContext, extra),
    variant('video', videoObject, optionalContext, extra),
    variant('document', documentObject, optionalContext, extra),
    variant('audio', audioObject, optionalContext, extra),
    variant('sticker', stickerObject, optionalContext, extra),
    variant('interactive', interactiveObject, optionalContext, extra),
    variant('template', templateObject, optionalContext, extra),
    variant('reaction', reactionObject, noContextOn('reaction'), extra),
  ] as const;
}

/**
 * The outbound message schema with extra top-level keys (e.g. the addressing of
 * `POST /v1/messages`): `withTarget({ thread_id: z.uuid().optional(), to: ... })`. Each variant is
 * a strict object built with those keys, so unknown keys are still refused. Rules spanning the
 * target keys (thread_id XOR from_phone_number_id+to) belong in a `.superRefine` on the result.
 */
export function withTarget<E extends z.ZodRawShape>(extra: E) {
  return z.discriminatedUnion(
    'type',
    [...messageVariants(extra), variant('mark_as_read', markAsReadObject, noContextOn('mark_as_read'), extra)],
    { error: unknownType(OUTBOUND_MESSAGE_TYPES) },
  );
}

/** The message part of `POST /v1/messages`: `{ type, [type]: {...}, context? }` (PROTOCOL.md §3.1). */
export const outboundMessageSchema = withTarget({});
export type OutboundMessage = z.infer<typeof outboundMessageSchema>;

/**
 * Graph API send body as Meta validates it (used by the simulator) [M-SEND]: a message
 * `{ messaging_product, recipient_type?, to, type, [type], context?, biz_opaque_callback_data? }`.
 * `type` is required here although Graph defaults it to text: wahub always sends it.
 */
export const metaMessageRequestSchema = z.discriminatedUnion(
  'type',
  [...messageVariants({
    messaging_product: z.literal('whatsapp'),
    recipient_type: z.literal('individual').optional(),
    // Meta accepts + - ( ) and spaces around the digits [M-SEND].
    to: z.string().regex(/^\+?[\d\s\-()]{5,30}$/, 'to must be a phone number, E.164 with +').optional(),
    // A customer's BSUID or parent BSUID instead of `to` (docs/PROTOCOL-NOTES.md).
    recipient: z.string().regex(/^[A-Z]{2}\.(ENT\.)?[A-Za-z0-9]{1,128}$/, 'recipient must be a business-scoped user ID').optional(),
    biz_opaque_callback_data: z.string().max(512).optional(),
  })],
  { error: unknownType(OUTBOUND_MESSAGE_TYPES.filter((t) => t !== 'mark_as_read')) },
).refine((body) => body.to !== undefined || body.recipient !== undefined, { message: 'give to (a phone number) or recipient (a BSUID)', path: ['to'] });

/** Graph API mark-as-read body `{ messaging_product, status: "read", message_id, typing_indicator? }` [M-READ][M-TYPING]. */
export const metaReadRequestSchema = z.strictObject({
  messaging_product: z.literal('whatsapp'),
  status: z.literal('read'),
  message_id: z.string().min(1),
  typing_indicator: z.strictObject({ type: z.literal('text') }).optional(),
});

/** Any body accepted by `POST /{version}/{phone-number-id}/messages`. */
export const metaSendRequestSchema = z.union([metaReadRequestSchema, metaMessageRequestSchema]);
export type MetaSendRequestBody = z.infer<typeof metaSendRequestSchema>;

/** `14155550123` → `+14155550123`: without `+` Meta prepends the business number's country code [M-SEND]. */
function withPlus(to: string): string {
  return /^\d+$/.test(to) ? `+${to}` : to;
}

/**
 * Builds the Graph API body for `POST /{version}/{phone-number-id}/messages`.
 * @param to the customer's number, E.164 with `+` (bare digits get a `+`), or `{ bsuid }` for a
 *   customer known only by a BSUID (sent as `recipient`, without `to`)
 * @param message a parsed `OutboundMessage` (extra keys such as `thread_id` are ignored)
 * @returns `{messaging_product, recipient_type, to, type, [type], context?}`, or for mark_as_read
 *   `{messaging_product, status: "read", message_id, typing_indicator?}` (no `to`: Meta ignores it)
 */
export function buildMetaSendRequest(to: string | { e164: string } | { bsuid: string }, message: OutboundMessage): MetaSendRequest {
  if (message.type === 'mark_as_read') {
    const { message_id, typing_indicator } = message.mark_as_read;
    return {
      messaging_product: 'whatsapp', status: 'read', message_id,
      ...(typing_indicator ? { typing_indicator } : {}),
    };
  }
  const object = (message as Record<string, unknown>)[message.type];
  const context = 'context' in message ? message.context : undefined;
  return {
    messaging_product: 'whatsapp', recipient_type: 'individual',
    ...(typeof to === 'string' ? { to: withPlus(to) } : 'e164' in to ? { to: to.e164 } : { recipient: to.bsuid }),
    type: message.type,
    [message.type]: object,
    ...(context ? { context } : {}),
  };
}

/**
 * Whether a type needs an open 24-hour customer service window: templates may be sent any time,
 * and a read receipt is not a message [M-SEND]. Everything else (reactions included) is free-form.
 */
export function isFreeFormMessage(type: OutboundMessageType): boolean {
  return type !== 'template' && type !== 'mark_as_read';
}
