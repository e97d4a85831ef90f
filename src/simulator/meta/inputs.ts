/**
 * Bodies of the Meta simulator's control endpoints (`/_simulator/…`), validated with zod.
 */
import { z } from 'zod';
import { BSUID_PATTERN } from '../../shared/bsuid.js';

export const numberInput = z.strictObject({
  waba_id: z.string().min(1),
  display_phone_number: z.string().regex(/^\d+$/, 'display_phone_number must be digits only'),
  access_token: z.string().min(1).optional(),
});
/** Body of `PUT /_simulator/numbers/:phone_number_id`. */
export type NumberInput = z.infer<typeof numberInput>;

export const failureInput = z.strictObject({
  phone_number_id: z.string().min(1).optional(),
  to: z.string().min(1).optional(),
  code: z.number().int().optional(),
  http_status: z.number().int().min(400).max(599).optional(),
  mode: z.enum(['sync', 'webhook']).default('sync'),
  count: z.number().int().min(1).default(1),
}).refine((f) => f.code !== undefined || (f.http_status !== undefined && f.mode === 'sync'), 'code is required (http_status alone only in sync mode)');
/** Body of `POST /_simulator/failures`: the next `count` sends matching phone_number_id/to fail. */
export type FailureInput = z.input<typeof failureInput>;

export const inboundInput = z.strictObject({
  phone_number_id: z.string().min(1),
  /** The customer's wa_id; leave it out for a username-only customer (then user_id is required). */
  from: z.string().regex(/^\d+$/, 'from must be the customer wa_id (digits)').optional(),
  /** The customer's BSUID; derived from `from` when left out (Meta sends one in every webhook since April 2026). */
  user_id: z.string().regex(BSUID_PATTERN, 'user_id must be a business-scoped user ID (US.13491208655302741918)').optional(),
  username: z.string().min(1).max(100).optional(),
  profile_name: z.string().optional(),
  text: z.string().min(1).optional(),
  message: z.record(z.string(), z.unknown()).optional(),
}).refine((i) => (i.text === undefined) !== (i.message === undefined), 'provide exactly one of text or message')
  .refine((i) => i.from !== undefined || i.user_id !== undefined, 'provide from, user_id or both');
/** Body of `POST /_simulator/inbound`; `message` is a raw Meta `messages[]` item (from/id/timestamp filled in if absent; a `system` message is sent without contacts[], e.g. `{type: 'system', system: {type: 'user_changed_user_id', user_id}}`). */
export type InboundInput = z.infer<typeof inboundInput>;

