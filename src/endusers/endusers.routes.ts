/**
 * End-user endpoints of a contact: `GET /v1/contacts/{id}`, `POST /v1/contacts/{id}/otp`,
 * `POST /v1/contacts/{id}/otp/verify`, `POST /v1/contacts/{id}/terms`,
 * `POST /v1/contacts/{id}/block`, `POST /v1/contacts/{id}/unblock`.
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute, idParams } from '../http/openapi.js';
import { parseInput, requireUuid } from '../http/validation.js';
import {
  acceptTermsSchema, blockContactSchema, contactSchema, otpRequestedSchema, otpVerifiedSchema, requestOtpSchema, verifyOtpSchema,
} from './endusers.schema.js';
import { acceptTerms, blockContact, getContact, unblockContact } from './endusers.service.js';
import { type OtpSettings, requestOtp, verifyOtp } from './otp.service.js';

const tags = ['contacts'];

/** Registers the end-user routes of contacts. @param options.onQueued wakes an in-process dispatcher after an OTP is queued */
export async function endUsersRoutes(app: FastifyInstance, options: { db: Db; otp: OtpSettings; onQueued?: () => void }): Promise<void> {
  const { db } = options;

  app.get<{ Params: { id: string } }>('/v1/contacts/:id', {
    schema: describeRoute('GET', {
      summary: 'A contact: verification, terms and blocking', tags,
      params: idParams, responses: { 200: contactSchema }, errors: ['not_found'],
    }),
  }, async (request) => {
    return getContact(db, principalOf(request).orgId, requireUuid(request.params.id, 'contact'));
  });

  app.post<{ Params: { id: string } }>('/v1/contacts/:id/otp', {
    schema: describeRoute('POST', {
      summary: 'Send a one-time passcode to a contact', tags,
      description: "Queues the organization's authentication template with a 6-digit code through the outbox (allowed outside the 24-hour "
        + 'window); the code expires after 10 minutes and only the newest one counts. At most 3 codes per contact per 15 minutes '
        + '(`rate_limited`). Without `from_phone_number_id` the contact must have a thread (else `validation_failed`).',
      params: idParams, body: requestOtpSchema, responses: { 202: otpRequestedSchema },
      errors: ['not_found', 'contact_blocked', 'rate_limited', 'validation_failed', 'phone_number_not_active', 'phone_number_required'],
    }),
  }, async (request, reply) => {
    const principal = principalOf(request);
    const body = parseInput(requestOtpSchema, request.body ?? {});
    const result = await requestOtp(db, options.otp, principal, requireUuid(request.params.id, 'contact'), body.from_phone_number_id, request.id);
    options.onQueued?.();
    return reply.status(202).send(result);
  });

  app.post<{ Params: { id: string } }>('/v1/contacts/:id/otp/verify', {
    schema: describeRoute('POST', {
      summary: "Check a contact's one-time passcode", tags,
      description: 'A wrong code counts as an attempt (`otp_incorrect`, with `details.attempts_remaining`); after 5, `otp_attempts_exceeded`. '
        + 'Codes are single use. Success sets `verified_at`, and `registered_at` when terms are accepted too.',
      params: idParams, body: verifyOtpSchema, responses: { 200: otpVerifiedSchema },
      errors: ['not_found', 'otp_not_requested', 'otp_incorrect', 'otp_expired', 'otp_already_used', 'otp_attempts_exceeded'],
    }),
  }, async (request) => {
    const { orgId } = principalOf(request);
    const body = parseInput(verifyOtpSchema, request.body);
    return verifyOtp(db, options.otp, orgId, requireUuid(request.params.id, 'contact'), body.code, request.id);
  });

  app.post<{ Params: { id: string } }>('/v1/contacts/:id/terms', {
    schema: describeRoute('POST', {
      summary: 'Record that a contact accepted a terms version', tags,
      description: 'Accepting again (a newer version) updates `terms_version` and `terms_accepted_at`; `registered_at` is set once.',
      params: idParams, body: acceptTermsSchema, responses: { 200: contactSchema }, errors: ['not_found'],
    }),
  }, async (request) => {
    const { orgId } = principalOf(request);
    const body = parseInput(acceptTermsSchema, request.body);
    return acceptTerms(db, orgId, requireUuid(request.params.id, 'contact'), body.version, { correlationId: request.id, source: 'api' });
  });

  app.post<{ Params: { id: string } }>('/v1/contacts/:id/block', {
    schema: describeRoute('POST', {
      summary: 'Block a contact', tags,
      description: "Its inbound messages are still stored but raise no events; sends and OTPs to it are refused (`contact_blocked`). "
        + 'Blocking a blocked contact changes nothing.',
      params: idParams, body: blockContactSchema, responses: { 200: contactSchema }, errors: ['not_found'],
    }),
  }, async (request) => {
    const { orgId } = principalOf(request);
    const body = parseInput(blockContactSchema, request.body ?? {});
    return blockContact(db, orgId, requireUuid(request.params.id, 'contact'), body.reason ?? null, { correlationId: request.id, source: 'api' });
  });

  app.post<{ Params: { id: string } }>('/v1/contacts/:id/unblock', {
    schema: describeRoute('POST', {
      summary: 'Unblock a contact (no change when it is not blocked)', tags,
      params: idParams, responses: { 200: contactSchema }, errors: ['not_found'],
    }),
  }, async (request) => {
    const { orgId } = principalOf(request);
    return unblockContact(db, orgId, requireUuid(request.params.id, 'contact'), { correlationId: request.id, source: 'api' });
  });
}
