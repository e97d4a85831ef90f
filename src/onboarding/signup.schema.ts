/**
 * Request and response shapes of Embedded Signup (`signup.routes.ts`, PROTOCOL.md §5).
 */
import { z } from 'zod';

/** `POST /v1/whatsapp/signup/complete`: what Meta's JS SDK handed the browser, and the state of `start`. */
export const completeSignupSchema = z.strictObject({
  code: z.string().min(1).max(1024).describe("the code of FB.login's answer (it lives 30 seconds)"),
  state: z.string().min(1).max(256).describe('the `state` of `POST /v1/whatsapp/signup/start` (10 minutes, single use)'),
  waba_id: z.string().regex(/^\d{1,32}$/, 'waba_id must be digits').optional().describe('connect only this WABA (else every WABA shared)'),
  phone_number_id: z.string().regex(/^\d{1,64}$/, 'phone_number_id must be digits').optional().describe('connect only this number'),
  business_id: z.string().regex(/^\d{1,32}$/, 'business_id must be digits').optional().describe("the customer's business portfolio id, from the signup session event"),
  pin: z.string().regex(/^\d{6}$/, 'pin must be 6 digits').optional().describe('two-step verification PIN to register with; generated when absent'),
});

/** The answer of `POST /v1/whatsapp/signup/start` (201): what `FB.login` needs. */
export const signupStartedSchema = z.object({
  state: z.string().describe('pass back to `complete`; shown once, only its hash is stored'),
  expires_at: z.string().describe('ISO-8601 UTC; 10 minutes after the start'),
  app_id: z.string().describe('META_APP_ID'),
  config_id: z.string().nullable().describe('the Embedded Signup configuration id, when configured'),
  graph_api_version: z.string().describe('e.g. v24.0'),
  login_options: z.object({
    config_id: z.string().nullable(),
    response_type: z.literal('code'),
    override_default_response_type: z.literal(true),
    extras: z.object({ setup: z.object({}) }),
  }).describe('the options to pass to `FB.login` (Embedded Signup v4)'),
});

/** The answer of `POST /v1/whatsapp/signup/complete` (201): the connected WABAs and numbers. */
export const signupCompletedSchema = z.object({
  wabas: z.array(z.object({
    waba_id: z.string(),
    phone_numbers: z.array(z.object({
      id: z.uuid().describe("wahub's id of the number"),
      phone_number_id: z.string().describe("Meta's phone_number_id"),
      display_phone_number: z.string().describe('digits only'),
      created: z.boolean().describe('false when the number was connected before (reconnected with the new token)'),
    })),
  })),
  pin: z.string().nullable().describe('the registration PIN wahub generated (shown once); null when the request gave one'),
});
