/**
 * Quick replies: `GET /v1/quick-replies` (everyone), `POST /v1/quick-replies` and
 * `DELETE /v1/quick-replies/{id}` (owners and admins). Titles are unique per organization.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { SQLSTATE, sqlState } from '../db/errors.js';
import { principalOf } from '../http/auth.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { AppError, notFound } from '../shared/errors.js';
import type { Principal } from '../tenancy/tenancy.service.js';
import { deleteQuickReply, insertQuickReply, listQuickReplies } from './quick-replies.repository.js';

const createSchema = z.strictObject({ title: z.string().trim().min(1).max(60), body: z.string().min(1).max(4096) });

function requireManager(principal: Principal): void {
  if (principal.role !== 'owner' && principal.role !== 'admin') throw new AppError('forbidden', 'only owners and admins manage quick replies');
}

const present = (row: { id: string; title: string; body: string; created_at: Date }) => ({ ...row, created_at: row.created_at.toISOString() });

export async function quickRepliesRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  app.get('/v1/quick-replies', async (request) => ({ data: (await listQuickReplies(options.db, principalOf(request).orgId)).map(present) }));

  app.post('/v1/quick-replies', async (request, reply) => {
    const principal = principalOf(request);
    requireManager(principal);
    const body = parseInput(createSchema, request.body);
    try {
      return reply.status(201).send(present(await insertQuickReply(options.db, { orgId: principal.orgId, ...body })));
    } catch (error) {
      if (sqlState(error) === SQLSTATE.uniqueViolation) throw new AppError('conflict', `a quick reply titled "${body.title}" exists`);
      throw error;
    }
  });

  app.delete<{ Params: { id: string } }>('/v1/quick-replies/:id', async (request, reply) => {
    const principal = principalOf(request);
    requireManager(principal);
    if (!(await deleteQuickReply(options.db, principal.orgId, requireUuid(request.params.id, 'quick reply')))) throw notFound('quick reply');
    return reply.status(204).send();
  });
}
