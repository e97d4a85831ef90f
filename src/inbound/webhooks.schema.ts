/**
 * The provider webhooks as the OpenAPI document shows them (`inbound.routes.ts`,
 * `twilio.routes.ts`). Bodies stay raw bytes until the signature is checked, so these schemas
 * document the envelope; the parsers (`providers/meta/webhook.parser.ts`,
 * `providers/twilio/webhook.parser.ts`) are what reads it.
 */
import { z } from 'zod';
import { describeRoute } from '../http/openapi.js';

/** Meta's notification envelope (PROTOCOL.md §1–§2; Meta's "Webhooks" reference for WhatsApp). */
const metaNotificationSchema = z.object({
  object: z.literal('whatsapp_business_account'),
  entry: z.array(z.object({
    id: z.string().describe('the WABA id'),
    changes: z.array(z.object({
      field: z.string().describe('messages, account_update, message_template_status_update, …'),
      value: z.record(z.string(), z.unknown()),
    })),
  })),
}).describe("Meta's webhook notification, signed with X-Hub-Signature-256 over the exact bytes");

const verifyQuerySchema = z.object({
  'hub.mode': z.literal('subscribe'),
  'hub.verify_token': z.string().describe('META_VERIFY_TOKEN'),
  'hub.challenge': z.string().describe('echoed back as text/plain'),
});

export const metaWebhookSchemas = {
  verify: describeRoute('GET', {
    summary: "Meta's webhook verify handshake", tags: ['webhooks'], auth: 'none',
    querystring: verifyQuerySchema,
    responses: { 200: { description: 'hub.challenge, as text', contentType: 'text/plain' } },
    errors: ['forbidden'],
  }),
  notify: describeRoute('POST', {
    summary: 'Meta webhook notifications (messages, statuses, account and template updates)', tags: ['webhooks'], auth: 'meta_signature',
    description: 'Every item of the POST is stored in one transaction (deduplicated by wamid, statuses forward only; anything wahub cannot '
      + 'process kept as a dead letter) and 200 is answered after commit. 503 while the database is unavailable, so Meta redelivers. At most 3 MB.',
    body: metaNotificationSchema,
    responses: { 200: z.object({ ok: z.literal(true) }) },
    errors: ['invalid_signature'],
    bodyErrors: ['invalid_json', 'payload_too_large'],
  }),
};

/** Twilio's form parameters that wahub reads (Twilio's "Messaging webhooks" and status callback pages). */
const twilioFormSchema = z.object({
  AccountSid: z.string(),
  MessageSid: z.string(),
  From: z.string().describe('whatsapp:+E164'),
  To: z.string().describe('whatsapp:+E164'),
  Body: z.string().optional(),
  MessageStatus: z.string().optional().describe('status callbacks: queued, sent, delivered, read, undelivered, failed, …'),
}).catchall(z.string()).describe('application/x-www-form-urlencoded, signed with X-Twilio-Signature');

export const twilioWebhookSchema = describeRoute('POST', {
  summary: 'Twilio inbound messages and status callbacks', tags: ['webhooks'], auth: 'twilio_signature',
  description: 'Also served at /webhooks/twilio/whatsapp and /webhooks/twilio/status (the path is part of what Twilio signs). '
    + 'Stored in one transaction, then an empty TwiML response. At most 256 KB.',
  body: twilioFormSchema,
  consumes: ['application/x-www-form-urlencoded'],
  responses: { 200: { description: 'empty TwiML', contentType: 'text/xml' } },
  errors: ['forbidden'],
  bodyErrors: ['payload_too_large', 'unsupported_media_type'],
});
