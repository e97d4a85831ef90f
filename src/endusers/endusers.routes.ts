/**
 * End-user endpoints of a contact: `GET /v1/contacts/{id}`, `POST /v1/contacts/{id}/otp`,
 * `POST /v1/contacts/{id}/otp/verify`, `POST /v1/contacts/{id}/terms`,
 * `POST /v1/contacts/{id}/block`, `POST /v1/contacts/{id}/unblock`.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { acceptTerms, blockContact, getContact, unblockContact } from './endusers.service.js';
import { type OtpSettings, requestOtp, verifyOtp } from './otp.service.js';

const otpSchema = z.strictObject({ from_phone_number_id: z.string().regex(/^[0-9A-Za-z_-]{1,64}$/).optional() }).default({});
// A malformed code is still an attempt (it counts), so only the type and a sane length are checked here.
const verifySchema = z.strictObject({ code: z.string().min(1).max(15) });
const termsSchema = z.strictObject({ version: z.string().trim().min(1).max(64) });
const blockSchema = z.strictObject({ reason: z.string().trim().min(1).max(500).optional() }).default({});

export async function endUsersRoutes(app: FastifyInstance, options: { db: Db; otp: OtpSettings; onQueued?: () => void }): Promise<void> {
  const { db } = options;

  app.get<{ Params: { id: string } }>('/v1/contacts/:id', async (request) => {
    return getContact(db, principalOf(request).orgId, requireUuid(request.params.id, 'contact'));
  });

  app.post<{ Params: { id: string } }>('/v1/contacts/:id/otp', async (request, reply) => {
    const principal = principalOf(request);
    const body = parseInput(otpSchema, request.body ?? {});
    const result = await requestOtp(db, options.otp, principal, requireUuid(request.params.id, 'contact'), body.from_phone_number_id, request.id);
    options.onQueued?.();
    return reply.status(202).send(result);
  });

  app.post<{ Params: { id: string } }>('/v1/contacts/:id/otp/verify', async (request) => {
    const { orgId } = principalOf(request);
    const body = parseInput(verifySchema, request.body);
    return verifyOtp(db, options.otp, orgId, requireUuid(request.params.id, 'contact'), body.code, request.id);
  });

  app.post<{ Params: { id: string } }>('/v1/contacts/:id/terms', async (request) => {
    const { orgId } = principalOf(request);
    const body = parseInput(termsSchema, request.body);
    return acceptTerms(db, orgId, requireUuid(request.params.id, 'contact'), body.version, { correlationId: request.id, source: 'api' });
  });

  app.post<{ Params: { id: string } }>('/v1/contacts/:id/block', async (request) => {
    const { orgId } = principalOf(request);
    const body = parseInput(blockSchema, request.body ?? {});
    return blockContact(db, orgId, requireUuid(request.params.id, 'contact'), body.reason ?? null, { correlationId: request.id, source: 'api' });
  });

  app.post<{ Params: { id: string } }>('/v1/contacts/:id/unblock', async (request) => {
    const { orgId } = principalOf(request);
    return unblockContact(db, orgId, requireUuid(request.params.id, 'contact'), { correlationId: request.id, source: 'api' });
  });
}
