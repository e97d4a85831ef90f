/**
 * Request and response shapes of operator sessions (`sessions.routes.ts`).
 */
import { z } from 'zod';
import { MAX_PASSWORD_LENGTH } from './passwords.js';

/** `POST /v1/session`. */
export const loginSchema = z.strictObject({
  email: z.string().min(3).max(320),
  password: z.string().min(1).max(MAX_PASSWORD_LENGTH),
  org_id: z.uuid().optional().describe('required when the same email and password open accounts in several organizations'),
});

const roleSchema = z.enum(['owner', 'admin', 'agent']);

/** The signed-in operator and their organization (`OperatorProfile`). */
export const operatorProfileSchema = z.object({
  id: z.uuid(),
  org_id: z.uuid(),
  org_name: z.string(),
  email: z.string(),
  name: z.string().nullable(),
  role: roleSchema,
});

/** The answer of `POST /v1/session` (201). */
export const newSessionSchema = z.object({
  operator: operatorProfileSchema,
  csrf_token: z.string().describe('echo it in `X-CSRF-Token` on every state-changing request (also in the `wahub_csrf` cookie)'),
  expires_at: z.string().describe('ISO-8601 UTC; the absolute end of the session (7 days after login); it also ends 12 hours after its last use'),
});

/** `GET /v1/session`: who is calling. */
export const currentSessionSchema = z.object({
  operator: operatorProfileSchema,
  via: z.enum(['session', 'api_key']).describe('how the request was authenticated'),
  sandbox: z.boolean().describe('true when the hub runs its own WhatsApp simulator'),
});

/** `GET /v1/operators`: the organization's enabled operators (at most 1000), by email. */
export const operatorListSchema = z.object({
  data: z.array(z.object({ id: z.uuid(), email: z.string(), name: z.string().nullable(), role: roleSchema })),
});
