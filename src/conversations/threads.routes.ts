/**
 * Threads read API: `GET /v1/threads` (newest activity first), `GET /v1/threads/{id}`,
 * `GET /v1/threads/{id}/messages` (newest first), `POST /v1/threads` (create-or-return).
 * Lists use keyset pagination (`limit`, `cursor` → `next_cursor`).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { parsePageQuery, toPage } from '../http/pagination.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { listThreadMessages } from './messages.repository.js';
import { presentMessage } from './messages.presenter.js';
import { notFound } from '../shared/errors.js';
import { findThread, listThreads } from './threads.repository.js';
import { threadDetail } from './thread-actions.service.js';
import { openThread, presentThread } from './threads.service.js';

const listQuerySchema = z.object({
  assignee: z.enum(['me', 'unassigned', 'all']).default('all'),
  status: z.enum(['open', 'closed', 'all']).default('all'),
  q: z.string().max(100).optional(),
});

const createThreadSchema = z.strictObject({
  phone: z.string().min(1).max(32),
  from_phone_number_id: z.string().min(1).max(64),
});

export async function threadsRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  const { db } = options;

  app.get('/v1/threads', async (request) => {
    const { orgId, operatorId } = principalOf(request);
    const filter = parseInput(listQuerySchema, request.query ?? {}, 'query string');
    const page = parsePageQuery(request.query);
    const rows = await listThreads(db, orgId, page.limit + 1, page.after, { viewerId: operatorId, assignee: filter.assignee, status: filter.status, search: filter.q });
    return toPage(rows, page.limit, (row) => ({ at: row.cursor_at, id: row.id }), presentThread);
  });

  app.post('/v1/threads', async (request, reply) => {
    const principal = principalOf(request);
    const body = parseInput(createThreadSchema, request.body);
    const { thread, created } = await openThread(db, principal.orgId, body.from_phone_number_id, body.phone, request.id);
    return reply.status(created ? 201 : 200).send(thread);
  });

  app.get<{ Params: { id: string } }>('/v1/threads/:id', async (request) => threadDetail(db, principalOf(request), requireUuid(request.params.id, 'thread')));

  app.get<{ Params: { id: string } }>('/v1/threads/:id/messages', async (request) => {
    const { orgId } = principalOf(request);
    const threadId = requireUuid(request.params.id, 'thread');
    const page = parsePageQuery(request.query);
    if (!(await findThread(db, orgId, threadId))) throw notFound('thread');
    const rows = await listThreadMessages(db, orgId, threadId, page.limit + 1, page.after);
    return toPage(rows, page.limit, (row) => ({ at: row.cursor_at, id: row.id }), presentMessage);
  });
}
