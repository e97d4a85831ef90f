/**
 * Request and response shapes of the phone-numbers API (`numbers.routes.ts`), from which the
 * OpenAPI document is built.
 */
import { z } from 'zod';

/** `POST /v1/phone-numbers`: a Meta number with its WABA and a token (system-user or business token). */
export const connectSchema = z.strictObject({
  waba_id: z.string().regex(/^\d{1,32}$/, 'waba_id must be digits').describe("Meta's WhatsApp Business Account id"),
  phone_number_id: z.string().regex(/^[0-9A-Za-z_-]{1,64}$/, 'phone_number_id is malformed').describe("Meta's phone_number_id"),
  display_phone_number: z.string().min(5).max(32).describe('as Meta shows it, e.g. "+1 555 010 0000"'),
  access_token: z.string().min(1).max(4096).describe('stored encrypted (AES-256-GCM); never returned'),
  throughput_mps: z.number().int().min(1).max(1000).optional().describe('messages per second the governor allows this number (default 80)'),
  verified_name: z.string().max(256).optional(),
});

export const connectedSchema = z.object({
  id: z.uuid(),
  phone_number_id: z.string(),
  created: z.boolean(),
});

export const phoneNumberSchema = z.object({
  id: z.uuid(),
  phone_number_id: z.string().describe("Meta's phone_number_id, or whatsapp:+E164 for a Twilio sender"),
  waba_id: z.string().nullable().describe('null for Twilio numbers'),
  provider: z.enum(['meta', 'twilio']),
  display_phone_number: z.string(),
  e164: z.string().nullable(),
  verified_name: z.string().nullable(),
  quality_rating: z.string().nullable().describe("Meta's GREEN / YELLOW / RED / UNKNOWN"),
  messaging_limit_tier: z.string().nullable(),
  throughput_mps: z.number().int(),
  status: z.enum(['active', 'reauth_required', 'disconnected']),
  registered_at: z.string().nullable().describe('ISO-8601 UTC'),
  token_expires_at: z.string().nullable().describe("ISO-8601 UTC: when the access token expires (Meta's debug_token); null: never, or unknown for a token connected by hand"),
  created_at: z.string().describe('ISO-8601 UTC'),
  queue_depth: z.number().int().describe('outbox rows not finished yet (pending, leased or parked)'),
});

export const phoneNumberListSchema = z.object({ data: z.array(phoneNumberSchema) });
