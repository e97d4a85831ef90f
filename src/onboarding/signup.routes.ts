/**
 * `POST /v1/whatsapp/signup/start` and `POST /v1/whatsapp/signup/complete` (Embedded Signup).
 */
import type { FastifyInstance } from 'fastify';
import { principalOf } from '../http/auth.js';
import { describeRoute } from '../http/openapi.js';
import { parseInput } from '../http/validation.js';
import { completeSignupSchema, signupCompletedSchema, signupStartedSchema } from './signup.schema.js';
import { completeSignup, type SignupContext, startSignup } from './signup.service.js';

/** Registers the Embedded Signup routes (only when a Graph API client is configured). */
export async function signupRoutes(app: FastifyInstance, options: { context: SignupContext }): Promise<void> {
  app.post('/v1/whatsapp/signup/start', {
    schema: describeRoute('POST', {
      summary: 'Start an Embedded Signup (owners and admins)', tags: ['numbers'],
      description: 'Answers what Meta\'s JS SDK needs and a state bound to the organization and operator (10 minutes, single use). '
        + '`not_configured` without META_APP_ID.',
      responses: { 201: signupStartedSchema }, errors: ['forbidden', 'not_configured'],
    }),
  }, async (request, reply) => reply.status(201).send(await startSignup(options.context, principalOf(request))));

  app.post('/v1/whatsapp/signup/complete', {
    schema: describeRoute('POST', {
      summary: 'Complete an Embedded Signup: connect the shared WABAs and numbers (owners and admins)', tags: ['numbers'],
      description: 'Exchanges the code for the business token, finds the shared WABAs with `debug_token`, lists their numbers, subscribes '
        + 'the app, registers each number with the PIN, then saves and validates everything in one transaction. Meta\'s refusals: '
        + '`signup_code_expired`, `signup_code_used`, `pin_mismatch` (the number has another two-step PIN), else `provider_error`. '
        + '`conflict` when a WABA or number is connected to another organization.',
      body: completeSignupSchema, responses: { 201: signupCompletedSchema },
      errors: ['forbidden', 'not_configured', 'invalid_oauth_state', 'signup_code_expired', 'signup_code_used', 'waba_not_granted', 'pin_mismatch',
        'provider_error', 'conflict', 'consistency_check_failed', 'validation_failed'],
    }),
  }, async (request, reply) => {
    const body = parseInput(completeSignupSchema, request.body);
    return reply.status(201).send(await completeSignup(options.context, principalOf(request), body));
  });
}
