/**
 * Body of `POST /v1/messages`: the addressing — `thread_id`, or `from_phone_number_id` + `to`
 * (E.164) — plus the message shaped as in Meta's send API (`type` and the type's object).
 */
import { z } from 'zod';
import { withTarget } from '../providers/meta/send.schema.js';

export const sendMessageBodySchema = withTarget({
  thread_id: z.uuid({ error: 'thread_id must be a uuid' }).optional(),
  from_phone_number_id: z.string().min(1).max(64).optional(),
  to: z.string().min(1).max(32).optional(),
}).superRefine((body, ctx) => {
  const byThread = body.thread_id !== undefined;
  const byNumber = body.from_phone_number_id !== undefined || body.to !== undefined;
  if (byThread === byNumber || (!byThread && (body.from_phone_number_id === undefined || body.to === undefined))) {
    ctx.addIssue({ code: 'custom', path: [], message: 'give either thread_id, or both from_phone_number_id and to' });
  }
});

export type SendMessageBody = z.output<typeof sendMessageBodySchema>;

/** `Idempotency-Key` header: 1–255 visible ASCII characters. */
export const idempotencyKeySchema = z.string().regex(/^[\x21-\x7e]{1,255}$/, 'Idempotency-Key must be 1–255 visible ASCII characters');
