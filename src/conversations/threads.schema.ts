/**
 * Request and response shapes of the threads API (`threads.routes.ts`): the zod schemas the
 * handlers validate with, and the JSON each answer has, from which the OpenAPI document is built.
 */
import { z } from 'zod';
import { pageQuerySchema, pageSchema } from '../http/pagination.js';

/** `GET /v1/threads` filters (plus `limit` and `cursor`). */
export const listThreadsQuerySchema = z.object({
  assignee: z.enum(['me', 'unassigned', 'all']).default('all').describe('me: owned by the caller; unassigned: no owner'),
  status: z.enum(['open', 'closed', 'all']).default('all'),
  q: z.string().max(140).optional().describe('search by profile name, @username, number (digits) or a whole BSUID'),
});

/** `POST /v1/threads`: the thread between one of the organization's numbers and a customer. */
export const createThreadSchema = z.strictObject({
  phone: z.string().min(1).max(32).describe('the customer, E.164'),
  from_phone_number_id: z.string().min(1).max(64).describe('Meta phone_number_id (or whatsapp:+E164 for Twilio) of the business number'),
});

const instant = z.string().describe('ISO-8601 UTC');

/** The newest message of a thread, preview-sized (`content.body` ≤ 200 characters). */
export const lastMessagePreviewSchema = z.object({
  type: z.string(),
  direction: z.enum(['inbound', 'outbound']),
  status: z.string(),
  content: z.record(z.string(), z.unknown()),
});

/** A thread as lists and `POST /v1/threads` present it (`presentThread`). */
export const threadSchema = z.object({
  id: z.uuid(),
  status: z.enum(['open', 'closed']),
  owner_operator_id: z.uuid().nullable(),
  contact_id: z.uuid(),
  e164: z.string().nullable().describe('the customer, E.164; null for a customer known only by a business-scoped user ID'),
  wa_id: z.string().nullable(),
  bsuid: z.string().nullable().describe("business-scoped user ID (Meta's user_id, e.g. US.13491208655302741918)"),
  parent_bsuid: z.string().nullable().describe('parent business-scoped user ID (US.ENT.…), when Meta sends one'),
  username: z.string().nullable().describe("the customer's WhatsApp username, without @"),
  profile_name: z.string().nullable(),
  phone_number_id: z.string(),
  display_phone_number: z.string(),
  last_inbound_at: instant.nullable(),
  last_message_at: instant,
  customer_service_window_expires_at: instant.nullable().describe('end of the 24-hour customer service window; null when closed'),
  created_at: instant,
  owner: z.object({ id: z.uuid(), name: z.string().nullable(), email: z.string().nullable() }).nullable(),
  contact_blocked_at: instant.nullable(),
  last_message: lastMessagePreviewSchema.nullable(),
  unread_count: z.number().int().describe("the caller's unread inbound messages, capped at 100: those after both the caller's read marker (POST /v1/threads/{id}/read) and the thread's newest outbound message (a reply, by anyone, answers what came before it)"),
});

/** `GET /v1/threads/{id}`: the thread, its co-writers, and whether the caller may send in it. */
export const threadDetailSchema = threadSchema.extend({
  cowriters: z.array(z.object({ id: z.uuid(), name: z.string().nullable(), email: z.string().nullable() })),
  can_send: z.boolean(),
});

export const threadPageSchema = pageSchema(threadSchema);
export const threadsQuerySchema = listThreadsQuerySchema.extend(pageQuerySchema.shape);
