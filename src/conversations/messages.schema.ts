/**
 * The public JSON of a message (`messages.presenter.ts`) as a schema, for the OpenAPI document.
 */
import { z } from 'zod';
import { pageSchema } from '../http/pagination.js';

export const messageSchema = z.object({
  id: z.uuid(),
  thread_id: z.uuid(),
  direction: z.enum(['inbound', 'outbound']),
  type: z.string().describe('text, image, template, …, as in Meta\'s message types'),
  status: z.string().describe('queued → sending → sent → delivered → read; failed; received (inbound)'),
  provider_message_id: z.string().nullable().describe('the wamid (Meta) or Message SID (Twilio), once known'),
  content: z.record(z.string(), z.unknown()).describe("the type's object, shaped as in Meta's API"),
  error: z.object({ code: z.number().int().nullable(), title: z.string().nullable() }).nullable().describe("the provider's error of a failed message"),
  provider_timestamp: z.string().nullable().describe("inbound: when the customer sent it, by the provider's clock (ISO-8601 UTC; what the inbox shows); null for outbound"),
  created_at: z.string().describe('ISO-8601 UTC: when the hub stored it (received, or queued)'),
});

export const messagePageSchema = pageSchema(messageSchema);
