/**
 * Request shapes of the inbox actions (`thread-actions.routes.ts`); the threads they answer with
 * are `threadSchema` (threads.schema.ts).
 */
import { z } from 'zod';

/** `POST /v1/threads/{id}/assign`: the new owner, or null to leave the thread unassigned. */
export const assignThreadSchema = z.strictObject({
  operator_id: z.uuid().nullable().describe('an enabled operator of the organization; null releases the thread'),
});

/** `POST /v1/threads/{id}/cowriters`: the operator who may write in the thread too. */
export const addCowriterSchema = z.strictObject({
  operator_id: z.uuid().describe('an enabled operator of the organization'),
});

/** `DELETE /v1/threads/{id}/cowriters/{operatorId}`. */
export const cowriterParams = z.object({
  id: z.string().describe('the thread, uuid'),
  operatorId: z.string().describe('the co-writer, uuid'),
});
