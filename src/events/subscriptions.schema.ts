/**
 * Request and response shapes of the event subscriptions API (`subscriptions.routes.ts`).
 */
import { z } from 'zod';
import { pageSchema } from '../http/pagination.js';
import { EVENT_TYPES } from './event-types.js';

const instant = z.string().describe('ISO-8601 UTC');

/** `POST /v1/event-subscriptions`. */
export const createSubscriptionSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2048).describe('where each event is POSTed, signed (`X-Wahub-Signature`)'),
  event_types: z.array(z.enum([...EVENT_TYPES, '*'])).min(1).max(64).describe('the event types to deliver, or `["*"]` for all'),
  description: z.string().max(500).optional(),
});

/** `GET /v1/event-subscriptions/{id}/deliveries`: newest first; `cursor` is the last `id` of the previous page. */
export const deliveriesQuerySchema = z.object({
  state: z.enum(['pending', 'delivered', 'dead']).optional().describe('`dead`: the dead letters'),
  limit: z.coerce.number().int().min(1).max(100).default(50).describe('items per page, 1–100'),
  cursor: z.string().max(40).optional().describe('`next_cursor` of the previous page'),
});

/** `POST /v1/event-subscriptions/{id}/deliveries/{deliveryId}/retry`. */
export const deliveryParams = z.object({
  id: z.string().describe('the subscription, uuid'),
  deliveryId: z.string().describe('the delivery id (digits)'),
});

/** A subscription as the API presents it (never its secret). */
export const subscriptionSchema = z.object({
  id: z.uuid(),
  url: z.string(),
  event_types: z.array(z.string()).describe('sorted, without duplicates; `*` means all'),
  description: z.string().nullable(),
  created_at: instant,
});

/** The answer of `POST /v1/event-subscriptions` (201): the subscription and its signing secret, shown this once. */
export const createdSubscriptionSchema = subscriptionSchema.extend({
  secret: z.string().describe('`whsec_…`: the HMAC-SHA256 key of `X-Wahub-Signature`; shown only now'),
});

/** Delivery health of a subscription (the ops page): undelivered deliveries by kind and the newest failure. */
export const deliveryHealthSchema = z.object({
  waiting: z.number().int().describe('pending, not attempted yet'),
  retrying: z.number().int().describe('pending after at least one failed attempt'),
  dead: z.number().int().describe('dead-lettered (gave up), kept as long as their event'),
  last_error: z.string().nullable().describe('the newest failed delivery\'s error'),
  oldest_pending_at: instant.nullable().describe('creation of the oldest undelivered pending delivery'),
});

export const subscriptionListSchema = z.object({ data: z.array(subscriptionSchema.extend({ deliveries: deliveryHealthSchema })) });

/** One delivery of an event to a subscription. */
export const deliverySchema = z.object({
  id: z.string().describe('a bigint, as decimal digits'),
  event_id: z.uuid(),
  event_type: z.string(),
  state: z.enum(['pending', 'delivered', 'dead']),
  attempts: z.number().int(),
  next_attempt_at: instant.nullable().describe('the next attempt; null unless pending'),
  last_status: z.number().int().nullable().describe("the subscriber's HTTP status of the last attempt; null without an answer"),
  last_error: z.string().nullable(),
  created_at: instant,
  completed_at: instant.nullable(),
});

export const deliveryPageSchema = pageSchema(deliverySchema);

/** The answer of a retry (202): the delivery is queued again. */
export const retriedDeliverySchema = z.object({
  id: z.string().describe('the delivery id'),
  state: z.literal('pending'),
});
