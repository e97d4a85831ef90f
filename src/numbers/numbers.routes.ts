/**
 * `GET /v1/phone-numbers` (the organization's numbers, no credentials) and `POST /v1/phone-numbers`
 * (manual connect with token + ids, through the same save-and-validate path as Embedded Signup).
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute } from '../http/openapi.js';
import { parseInput } from '../http/validation.js';
import { AppError } from '../shared/errors.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { connectSchema, connectedSchema, phoneNumberListSchema } from './numbers.schema.js';
import { connectPhoneNumber, listPhoneNumbersWithQueueDepth, type QueueDepthReader } from './numbers.service.js';


export interface NumbersRoutesOptions {
  db: Db;
  cipher: TokenCipher;
  /** Each number's unfinished outbox rows (the outbox's, handed in by app.ts). */
  queueDepths: QueueDepthReader;
}

export async function numbersRoutes(app: FastifyInstance, options: NumbersRoutesOptions): Promise<void> {
  app.get('/v1/phone-numbers', {
    schema: describeRoute('GET', {
      summary: "The organization's business numbers with their queue depth", tags: ['numbers'],
      description: 'No credentials are ever returned. At most 1,000 numbers, oldest first.',
      responses: { 200: phoneNumberListSchema },
    }),
  }, async (request) => {
    const { orgId } = principalOf(request);
    const rows = await listPhoneNumbersWithQueueDepth(options.db, orgId, options.queueDepths);
    return {
      data: rows.map((row) => ({
        ...row,
        registered_at: row.registered_at?.toISOString() ?? null,
        token_expires_at: row.token_expires_at?.toISOString() ?? null,
        created_at: row.created_at.toISOString(),
      })),
    };
  });

  app.post('/v1/phone-numbers', {
    schema: describeRoute('POST', {
      summary: 'Connect a Meta number by hand (token + ids)', tags: ['numbers'],
      description: 'The same save-and-validate path as Embedded Signup: the WABA is upserted on (organization, waba_id), the number on '
        + '(organization, phone_number_id), the token encrypted. 201 when created, 200 when it was connected already. Owners and admins.',
      body: connectSchema, responses: { 200: connectedSchema, 201: connectedSchema },
      errors: ['forbidden', 'conflict', 'consistency_check_failed', 'not_found'],
    }),
  }, async (request, reply) => {
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
