/**
 * Request shapes of `GET /v1/stream` (`stream.routes.ts`): where a client resumes.
 */
import { z } from 'zod';

/** A stream position: the `id` of an SSE frame (a bigint, 1 to 18 digits). */
export const streamPositionSchema = z.string().regex(/^\d{1,18}$/).describe('the `id` of the last frame received (digits)');

/** `Last-Event-ID`: browsers send it when they reconnect. It wins over `?last_event_id=`. */
export const streamHeadersSchema = z.object({ 'last-event-id': streamPositionSchema.optional() });

/** `?last_event_id=`: for clients that cannot set the header. */
export const streamQuerySchema = z.object({ last_event_id: streamPositionSchema.optional() });
