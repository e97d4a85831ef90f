/**
 * The Embedded Signup side of the simulator (PROTOCOL.md §5): code → business token exchange
 * (`GET /{v}/oauth/access_token`), `GET /{v}/debug_token`, `GET /{v}/{waba_id}/phone_numbers`,
 * `POST /{v}/{waba_id}/subscribed_apps` and `POST /{v}/{phone_number_id}/register`. A test or the
 * sandbox first issues a code for a WABA and its numbers (`POST /_simulator/signup/codes`), as
 * Meta's popup would after the customer finished signing up.
 *
 * Codes live 30 s and are single use (errors 100 with subcodes 36007 expired / 36009 used, as
 * seen in third-party code [CODE-OAUTH]); a registered number then accepts sends with the
 * business token.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { buildMetaError, invalidAccessToken, type MetaErrorResponse } from './errors.js';

const codeInput = z.strictObject({
  waba_id: z.string().regex(/^\d+$/),
  business_id: z.string().regex(/^\d+$/).optional(),
  phone_numbers: z.array(z.strictObject({
    id: z.string().regex(/^\d+$/),
    display_phone_number: z.string().regex(/^\d+$/, 'digits only'),
    verified_name: z.string().optional(),
  })).min(1).max(20),
  ttl_ms: z.number().int().positive().max(600_000).default(30_000),
  /** Lifetime of the business token the code is exchanged for, seconds; absent: never expires. */
  token_expires_in_s: z.number().int().positive().optional(),
});
/** Body of `POST /_simulator/signup/codes`. */
export type SignupCodeInput = z.input<typeof codeInput>;

interface Grant {
  wabaId: string;
  businessId: string;
  numbers: Array<{ id: string; display_phone_number: string; verified_name?: string | undefined }>;
  /** Unix seconds, 0 = never (debug_token's `expires_at`). */
  tokenExpiresAt: number;
}

export interface SignupSimulatorOptions {
  appId: string;
  appSecret: string;
  /** Called when a number is registered, so that sends with the business token work. */
  onRegistered(number: { phoneNumberId: string; wabaId: string; displayPhoneNumber: string; accessToken: string }): void;
}

/** `+1 555-010-0001` style, as Graph lists numbers [M-HOSTED]. */
function formatDisplay(digits: string): string {
  const country = digits.startsWith('1') ? 1 : 2;
  const rest = digits.slice(country);
  return `+${digits.slice(0, country)} ${rest.slice(0, 3)}-${rest.slice(3, 6)}-${rest.slice(6)}`;
}

const send = (reply: FastifyReply, error: MetaErrorResponse) => reply.code(error.statusCode).send(error.body);

export function createSignupSimulator(options: SignupSimulatorOptions) {
  const codes = new Map<string, Grant & { expiresAt: number; used: boolean }>();
  const tokens = new Map<string, Grant>();
  const registeredPins = new Map<string, string>();
  const subscribed = new Set<string>();
  const appToken = `${options.appId}|${options.appSecret}`;

  const bearer = (authorization: string | undefined) => /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];

  /** Issues a signup code for a WABA and its numbers. @throws ZodError on bad input */
  function issueCode(input: SignupCodeInput): { code: string } {
    const parsed = codeInput.parse(input);
    const code = `simcode-${randomBytes(12).toString('hex')}`;
    codes.set(code, {
      wabaId: parsed.waba_id, businessId: parsed.business_id ?? '300000000000099', numbers: parsed.phone_numbers,
      tokenExpiresAt: parsed.token_expires_in_s ? Math.floor(Date.now() / 1000) + parsed.token_expires_in_s : 0,
      expiresAt: Date.now() + parsed.ttl_ms, used: false,
    });
    return { code };
  }

  return {
    issueCode,
    /** WABAs whose app subscription was requested. */
    subscribedWabas: () => [...subscribed],
    reset() {
      codes.clear();
      tokens.clear();
      registeredPins.clear();
      subscribed.clear();
    },
    routes(app: FastifyInstance) {
      app.get<{ Querystring: Record<string, string> }>('/:version/oauth/access_token', async (req, reply) => {
        const { client_id: clientId, client_secret: clientSecret, code } = req.query;
        if (clientId !== options.appId || clientSecret !== options.appSecret) {
          return send(reply, buildMetaError(100, { message: 'Error validating client secret.', details: 'client_id or client_secret is wrong' }));
        }
        const grant = code ? codes.get(code) : undefined;
        if (!grant) return send(reply, buildMetaError(100, { message: 'Invalid verification code format.', details: 'unknown code' }));
        if (grant.used) return send(reply, buildMetaError(100, { subcode: 36009, message: 'This authorization code has been used.', details: 'code already used' }));
        if (Date.now() > grant.expiresAt) return send(reply, buildMetaError(100, { subcode: 36007, message: 'This authorization code has expired.', details: 'code expired' }));
        grant.used = true;
        const accessToken = `EAAsim${randomBytes(24).toString('base64url')}`;
        tokens.set(accessToken, grant);
        return { access_token: accessToken, token_type: 'bearer' };
      });

      app.get<{ Querystring: Record<string, string> }>('/:version/debug_token', async (req, reply) => {
        if (bearer(req.headers.authorization) !== appToken) return send(reply, invalidAccessToken());
        const grant = tokens.get(req.query.input_token ?? '');
        if (!grant) return { data: { is_valid: false, error: { code: 190, message: 'Invalid OAuth access token.' } } };
        return {
          data: {
            app_id: options.appId, type: 'SYSTEM_USER', application: 'wahub simulator', data_access_expires_at: 0, expires_at: grant.tokenExpiresAt,
            is_valid: true, issued_at: Math.floor(Date.now() / 1000),
            scopes: ['whatsapp_business_management', 'whatsapp_business_messaging'],
            granular_scopes: [
              { scope: 'whatsapp_business_management', target_ids: [grant.wabaId] },
              { scope: 'whatsapp_business_messaging', target_ids: [grant.wabaId] },
            ],
            user_id: randomBytes(6).readUIntBE(0, 6).toString(),
          },
        };
      });

      app.get<{ Params: { waba_id: string } }>('/:version/:waba_id/phone_numbers', async (req, reply) => {
        const grant = tokens.get(bearer(req.headers.authorization) ?? '');
        if (!grant) return send(reply, invalidAccessToken());
        if (grant.wabaId !== req.params.waba_id) return send(reply, buildMetaError(200, { details: `no permission on WABA ${req.params.waba_id}`, httpStatus: 403 }));
        return {
          data: grant.numbers.map((n) => ({
            id: n.id, display_phone_number: formatDisplay(n.display_phone_number), verified_name: n.verified_name ?? 'Simulated Business',
            code_verification_status: 'VERIFIED', quality_rating: 'GREEN', platform_type: 'CLOUD_API', throughput: { level: 'STANDARD' },
          })),
          paging: { cursors: { before: 'QVFIU', after: 'QVFIU' } },
        };
      });

      app.post<{ Params: { waba_id: string } }>('/:version/:waba_id/subscribed_apps', async (req, reply) => {
        const grant = tokens.get(bearer(req.headers.authorization) ?? '');
        if (!grant) return send(reply, invalidAccessToken());
        if (grant.wabaId !== req.params.waba_id) return send(reply, buildMetaError(200, { details: `no permission on WABA ${req.params.waba_id}`, httpStatus: 403 }));
        subscribed.add(req.params.waba_id);
        return { success: true };
      });

      app.post<{ Params: { phone_number_id: string }; Body: { messaging_product?: string; pin?: string } }>('/:version/:phone_number_id/register', async (req, reply) => {
        const accessToken = bearer(req.headers.authorization) ?? '';
        const grant = tokens.get(accessToken);
        if (!grant) return send(reply, invalidAccessToken());
        const number = grant.numbers.find((n) => n.id === req.params.phone_number_id);
        if (!number) return send(reply, buildMetaError(100, { subcode: 33, details: `Object with ID '${req.params.phone_number_id}' does not exist` }));
        const pin = req.body?.pin;
        if (req.body?.messaging_product !== 'whatsapp' || typeof pin !== 'string' || !/^\d{6}$/.test(pin)) {
          return send(reply, buildMetaError(100, { details: 'messaging_product "whatsapp" and a 6-digit pin are required' }));
        }
        const known = registeredPins.get(number.id);
        if (known && known !== pin) return send(reply, buildMetaError(133005, { details: 'Two-step verification PIN mismatch' }));
        registeredPins.set(number.id, pin);
        options.onRegistered({ phoneNumberId: number.id, wabaId: grant.wabaId, displayPhoneNumber: number.display_phone_number, accessToken });
        return { success: true };
      });

      app.post('/_simulator/signup/codes', async (req, reply) => {
        const parsed = codeInput.safeParse(req.body);
        if (!parsed.success) return reply.code(400).send({ error: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
        return issueCode(parsed.data);
      });
    },
  };
}

export type SignupSimulator = ReturnType<typeof createSignupSimulator>;
