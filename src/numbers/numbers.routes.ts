/**
 * `GET /v1/phone-numbers` (the organization's numbers, no credentials) and `POST /v1/phone-numbers`
 * (manual connect with token + ids, through the same save-and-validate path as Embedded Signup).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { parseInput } from '../http/validation.js';
import { AppError } from '../shared/errors.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { connectPhoneNumber, listPhoneNumbersWithQueueDepth, type QueueDepthReader } from './numbers.service.js';

const connectSchema = z.strictObject({
  waba_id: z.string().regex(/^\d{1,32}$/, 'waba_id must be digits'),
  phone_number_id: z.string().regex(/^[0-9A-Za-z_-]{1,64}$/, 'phone_number_id is malformed'),
  display_phone_number: z.string().min(5).max(32),
  access_token: z.string().min(1).max(4096),
  throughput_mps: z.number().int().min(1).max(1000).optional(),
  verified_name: z.string().max(256).optional(),
});

export interface NumbersRoutesOptions {
  db: Db;
  cipher: TokenCipher;
  /** Each number's unfinished outbox rows (the outbox's, handed in by app.ts). */
  queueDepths: QueueDepthReader;
}

export async function numbersRoutes(app: FastifyInstance, options: NumbersRoutesOptions): Promise<void> {
  app.get('/v1/phone-numbers', async (request) => {
    const { orgId } = principalOf(request);
    const rows = await listPhoneNumbersWithQueueDepth(options.db, orgId, options.queueDepths);
    return {
      data: rows.map((row) => ({
        ...row,
        registered_at: row.registered_at?.toISOString() ?? null,
        created_at: row.created_at.toISOString(),
      })),
    };
  });

  app.post('/v1/phone-numbers', async (request, reply) => {
    const principal = principalOf(request);
    if (principal.role !== 'owner' && principal.role !== 'admin') throw new AppError('forbidden', 'only owners and admins connect WhatsApp numbers');
    const body = parseInput(connectSchema, request.body);
    const result = await connectPhoneNumber(options.db, options.cipher, {
      orgId: principal.orgId, wabaId: body.waba_id, phoneNumberId: body.phone_number_id, displayPhoneNumber: body.display_phone_number,
      accessToken: body.access_token, throughputMps: body.throughput_mps, verifiedName: body.verified_name ?? null, operatorId: principal.operatorId,
    });
    return reply.status(result.created ? 201 : 200).send({ id: result.id, phone_number_id: body.phone_number_id, created: result.created });
  });
}
