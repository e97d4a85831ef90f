/**
 * `POST /v1/whatsapp/signup/start` and `POST /v1/whatsapp/signup/complete` (Embedded Signup).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { principalOf } from '../http/auth.js';
import { parseInput } from '../http/validation.js';
import { completeSignup, type SignupContext, startSignup } from './signup.service.js';

const completeSchema = z.strictObject({
  code: z.string().min(1).max(1024),
  state: z.string().min(1).max(256),
  waba_id: z.string().regex(/^\d{1,32}$/, 'waba_id must be digits').optional(),
  phone_number_id: z.string().regex(/^\d{1,64}$/, 'phone_number_id must be digits').optional(),
  business_id: z.string().regex(/^\d{1,32}$/, 'business_id must be digits').optional(),
  pin: z.string().regex(/^\d{6}$/, 'pin must be 6 digits').optional(),
});

export async function signupRoutes(app: FastifyInstance, options: { context: SignupContext }): Promise<void> {
  app.post('/v1/whatsapp/signup/start', async (request, reply) => reply.status(201).send(await startSignup(options.context, principalOf(request))));

  app.post('/v1/whatsapp/signup/complete', async (request, reply) => {
    const body = parseInput(completeSchema, request.body);
    return reply.status(201).send(await completeSignup(options.context, principalOf(request), body));
  });
}
