/**
 * Builds the form parameters of Twilio's Messages API for a wahub outbound message (which is
 * shaped like Meta's send API, `providers/meta/send.schema.ts`).
 *
 * Protocol: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, form-encoded: `From` and `To`
 * as `whatsapp:+<E.164>`, then `Body` (text, or a media caption), `MediaUrl` (a public URL Twilio
 * fetches), or `ContentSid` + `ContentVariables` (JSON object of strings) for a template, and
 * `StatusCallback` (twilio.com/docs/messaging/api/message-resource#create-a-message-resource,
 * PROTOCOL.md §7).
 *
 * Mapping and its limits:
 * - template: `template.name` must be a Twilio Content SID (`HX` + 32 hex; Meta names are refused:
 *   Twilio addresses approved templates by Content SID); body parameters become `ContentVariables`,
 *   by `parameter_name` when named, else by position ("1", "2", …); `language` is implied by the
 *   Content SID;
 * - media must be a `link` (a Meta media `id` means nothing to Twilio);
 * - interactive messages, reactions and read receipts have no Messages API form: refused;
 * - a reply `context` cannot be expressed through the Messages API and is dropped.
 */
import type { OutboundMessage } from '../meta/send.schema.js';
import type { ProviderSendError } from '../types.js';

/** A Twilio Content API SID, which names an approved WhatsApp template. */
export const CONTENT_SID_PATTERN = /^HX[0-9a-f]{32}$/;

/** Form parameters in order; `MediaUrl` may repeat. */
export type TwilioForm = Array<[string, string]>;

export type TwilioSendBuild = { ok: true; form: TwilioForm } | { ok: false; error: ProviderSendError };

const MEDIA_TYPES = new Set(['image', 'video', 'document', 'audio', 'sticker']);

function refuse(title: string): TwilioSendBuild {
  return { ok: false, error: { class: 'permanent', code: null, title, details: null, httpStatus: null } };
}

/** `whatsapp:+14155550123` for an E.164 number (a `+` is added to bare digits). */
export function whatsappAddress(e164: string): string {
  return `whatsapp:${/^\d/.test(e164) ? `+${e164}` : e164}`;
}

type TemplateParameter = { type: string; text?: unknown; parameter_name?: unknown };

/** Body parameters → ContentVariables; null when a parameter has no text to give. */
function contentVariables(components: Array<{ type: string; parameters?: TemplateParameter[] }> | undefined): Record<string, string> | null {
  const variables: Record<string, string> = {};
  const body = components?.find((component) => component.type === 'body');
  for (const [index, parameter] of (body?.parameters ?? []).entries()) {
    if (typeof parameter.text !== 'string') return null;
    const name = typeof parameter.parameter_name === 'string' ? parameter.parameter_name : String(index + 1);
    variables[name] = parameter.text;
  }
  return variables;
}

/**
 * @param from the business number, E.164
 * @param to the customer, E.164
 * @param message a parsed outbound message
 * @param statusCallbackUrl where Twilio posts status callbacks, or undefined for none
 * @returns the form, or a permanent error saying why this message cannot go through Twilio
 */
export function buildTwilioSendRequest(from: string, to: string, message: OutboundMessage, statusCallbackUrl: string | undefined): TwilioSendBuild {
  const form: TwilioForm = [['To', whatsappAddress(to)], ['From', whatsappAddress(from)]];
  const record = message as unknown as Record<string, Record<string, unknown>>;
  if (message.type === 'text') {
    form.push(['Body', message.text.body]);
  } else if (MEDIA_TYPES.has(message.type)) {
    const media = record[message.type]!;
    if (typeof media.link !== 'string') return refuse(`${message.type} by media id cannot be sent through Twilio: give a link`);
    if (typeof media.caption === 'string' && media.caption !== '') form.push(['Body', media.caption]);
    form.push(['MediaUrl', media.link]);
  } else if (message.type === 'template') {
    if (!CONTENT_SID_PATTERN.test(message.template.name)) return refuse('a template sent through Twilio must be named by its Content SID (HX followed by 32 hex digits)');
    const variables = contentVariables(message.template.components as Array<{ type: string; parameters?: TemplateParameter[] }> | undefined);
    if (variables === null) return refuse('only text body parameters can become Twilio ContentVariables');
    form.push(['ContentSid', message.template.name]);
    if (Object.keys(variables).length > 0) form.push(['ContentVariables', JSON.stringify(variables)]);
  } else {
    return refuse(`${message.type} messages cannot be sent through Twilio's Messages API`);
  }
  if (statusCallbackUrl) form.push(['StatusCallback', statusCallbackUrl]);
  return { ok: true, form };
}
