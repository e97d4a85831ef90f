/**
 * `GET /v1/dead-letters?limit=1..200`: the caller's organization's newest webhook dead letters
 * (owners and admins). Items that could not be routed to any organization are only visible to the
 * hub's operators (`webhook_dead_letters` with a null org_id; see docs/RUNBOOK.md).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute } from '../http/openapi.js';
import { parseInput } from '../http/validation.js';
import { AppError } from '../shared/errors.js';
import { listOrgDeadLetters } from './dead-letters.service.js';

const querySchema = z.object({ limit: z.coerce.number().int().min(1).max(200).default(50).describe('newest first, 1–200') });

const deadLetterListSchema = z.object({
  data: z.array(z.object({
    id: z.uuid(),
    provider: z.enum(['meta', 'twilio']),
    reason: z.string().describe('stable reason, e.g. unknown_phone_number, unhandled_field, invalid_json'),
    detail: z.string(),
    waba_id: z.string().nullable(),
    phone_number_id: z.string().nullable(),
    field: z.string().nullable().describe("the webhook's changes[].field"),
    created_at: z.string().describe('ISO-8601 UTC'),
  })),
});

export async function deadLettersRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  app.get('/v1/dead-letters', {
    schema: describeRoute('GET', {
      summary: "The organization's newest webhook dead letters (owners and admins)", tags: ['ops'],
      description: 'Webhook items wahub could not route or process, kept whole; raw payloads are not returned.',
      querystring: querySchema, responses: { 200: deadLetterListSchema }, errors: ['forbidden'],
    }),
  }, async (request) => {
    const principal = principalOf(request);
    if (principal.role !== 'owner' && principal.role !== 'admin') throw new AppError('forbidden', 'only owners and admins read dead letters');
    const { limit } = parseInput(querySchema, request.query ?? {}, 'query string');
    const rows = await listOrgDeadLetters(options.db, principal.orgId, limit);
    return { data: rows.map((row) => ({ ...row, created_at: row.created_at.toISOString() })) };
  });
}
