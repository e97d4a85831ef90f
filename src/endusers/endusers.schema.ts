/**
 * Request and response shapes of the end-user endpoints (`endusers.routes.ts`): contacts, their
 * OTP verification, terms and blocking.
 */
import { z } from 'zod';

const instant = z.string().describe('ISO-8601 UTC');

/** `POST /v1/contacts/{id}/otp` (the body may be left out). */
export const requestOtpSchema = z.strictObject({
  from_phone_number_id: z.string().regex(/^[0-9A-Za-z_-]{1,64}$/).optional()
    .describe("Meta phone_number_id of the business number to send from; default: the number of the contact's latest thread"),
}).default({}).describe('may be left out');

/** `POST /v1/contacts/{id}/otp/verify`. A malformed code is still an attempt (it counts), so only the type and a sane length are checked here. */
export const verifyOtpSchema = z.strictObject({ code: z.string().min(1).max(15).describe('the 6-digit code the contact received') });

/** `POST /v1/contacts/{id}/terms`. */
export const acceptTermsSchema = z.strictObject({ version: z.string().trim().min(1).max(64).describe('the terms version accepted') });

/** `POST /v1/contacts/{id}/block` (the body may be left out). */
export const blockContactSchema = z.strictObject({ reason: z.string().trim().min(1).max(500).optional() }).default({}).describe('may be left out');

/** A contact (one customer number) as the API presents it (`presentContact`). */
export const contactSchema = z.object({
  id: z.uuid(),
  client_id: z.uuid(),
  e164: z.string().nullable().describe('the customer number, E.164; null for a customer known only by a business-scoped user ID'),
  wa_id: z.string().nullable().describe("WhatsApp's id of the customer (digits), once known"),
  bsuid: z.string().nullable().describe("business-scoped user ID (Meta's user_id, e.g. US.13491208655302741918)"),
  parent_bsuid: z.string().nullable().describe('parent business-scoped user ID (US.ENT.…), when Meta sends one'),
  username: z.string().nullable().describe("the customer's WhatsApp username, without @"),
  profile_name: z.string().nullable(),
  verified_at: instant.nullable().describe('when the contact first verified a one-time passcode'),
  terms_version: z.string().nullable(),
  terms_accepted_at: instant.nullable(),
  registered_at: instant.nullable().describe('set once, when the contact is both verified and has accepted terms'),
  blocked_at: instant.nullable(),
  blocked_reason: z.string().nullable(),
  last_active_at: instant.nullable().describe("the customer's latest inbound message, to within 60 s"),
  created_at: instant,
});

/** The answer of `POST /v1/contacts/{id}/otp` (202): the code is queued through the outbox. */
export const otpRequestedSchema = z.object({
  challenge_id: z.uuid(),
  message_id: z.uuid().describe('the authentication-template message carrying the code (`GET /v1/messages/{id}`)'),
  thread_id: z.uuid(),
  expires_at: z.string().describe('ISO-8601 UTC, 10 minutes after the request'),
});

/** The answer of `POST /v1/contacts/{id}/otp/verify`. */
export const otpVerifiedSchema = z.object({
  verified_at: instant,
  registered_at: instant.nullable().describe('set once the contact is verified and has accepted terms'),
});
