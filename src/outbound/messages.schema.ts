/**
 * Body of `POST /v1/messages`: the addressing — `thread_id`, or `from_phone_number_id` + `to`
 * (E.164 or BSUID) — plus the message shaped as in Meta's send API (`type` and the type's object).
 */
import { z } from 'zod';
import { withTarget } from '../providers/meta/send.schema.js';

export const sendMessageBodySchema = withTarget({
  thread_id: z.uuid({ error: 'thread_id must be a uuid' }).optional(),
  from_phone_number_id: z.string().min(1).max(64).optional(),
  to: z.string().min(1).max(140).optional().describe('the customer: E.164 number, or business-scoped user ID (US.13491208655302741918)'),
}).superRefine((body, ctx) => {
  // Each issue names the field to fix (an empty path would not tell the caller which one).
  const byThread = body.thread_id !== undefined;
  const hasFrom = body.from_phone_number_id !== undefined;
  const hasTo = body.to !== undefined;
  if (byThread && (hasFrom || hasTo)) {
    ctx.addIssue({ code: 'custom', path: ['thread_id'], message: 'give either thread_id, or both from_phone_number_id and to, not both' });
  } else if (!byThread && !hasFrom && !hasTo) {
    ctx.addIssue({ code: 'custom', path: ['thread_id'], message: 'give either thread_id, or both from_phone_number_id and to' });
  } else if (!byThread && !hasFrom) {
    ctx.addIssue({ code: 'custom', path: ['from_phone_number_id'], message: 'from_phone_number_id is required with to' });
  } else if (!byThread && !hasTo) {
    ctx.addIssue({ code: 'custom', path: ['to'], message: 'to is required with from_phone_number_id' });
  }
});

export type SendMessageBody = z.output<typeof sendMessageBodySchema>;

/** `Idempotency-Key` header: 1–255 visible ASCII characters. */
export const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'Idempotency-Key must be 1–255 visible ASCII characters');

/** The answer of `POST /v1/messages` (202): the queued message; follow it with `GET /v1/messages/{id}`. */
export const queuedMessageSchema = z.object({
  id: z.uuid(),
  status: z.literal('queued'),
  thread_id: z.uuid(),
});
