/**
 * Request and response shapes of the quick replies API (`quick-replies.routes.ts`).
 */
import { z } from 'zod';

/** `POST /v1/quick-replies`. */
export const createQuickReplySchema = z.strictObject({
  title: z.string().trim().min(1).max(60).describe('unique per organization, case-insensitive; surrounding spaces are trimmed'),
  body: z.string().min(1).max(4096),
});

export type CreateQuickReply = z.output<typeof createQuickReplySchema>;

/** A quick reply as the API presents it. */
export const quickReplySchema = z.object({
  id: z.uuid(),
  title: z.string(),
  body: z.string(),
  created_at: z.string().describe('ISO-8601 UTC'),
});

/** `GET /v1/quick-replies`: every quick reply of the organization (at most 500), by title. */
export const quickReplyListSchema = z.object({ data: z.array(quickReplySchema) });
