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
import { listThreadMessages } from '../messages/messages.repository.js';
import { presentMessage } from '../messages/messages.presenter.js';
import { notFound } from '../shared/errors.js';
import { findThread, listThreads } from './threads.repository.js';
import { openThread, presentThread } from './threads.service.js';

const createThreadSchema = z.strictObject({
  phone: z.string().min(1).max(32),
  from_phone_number_id: z.string().min(1).max(64),
});

export async function threadsRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  const { db } = options;

  app.get('/v1/threads', async (request) => {
    const { orgId } = principalOf(request);
    const page = parsePageQuery(request.query);
    const rows = await listThreads(db, orgId, page.limit + 1, page.after);
    return toPage(rows, page.limit, (row) => ({ at: row.cursor_at, id: row.id }), presentThread);
  });

  app.post('/v1/threads', async (request, reply) => {
    const principal = principalOf(request);
    const body = parseInput(createThreadSchema, request.body);
    const { thread, created } = await openThread(db, principal.orgId, body.from_phone_number_id, body.phone, request.id);
    return reply.status(created ? 201 : 200).send(thread);
  });

  app.get<{ Params: { id: string } }>('/v1/threads/:id', async (request) => {
    const { orgId } = principalOf(request);
    const thread = await findThread(db, orgId, requireUuid(request.params.id, 'thread'));
    if (!thread) throw notFound('thread');
    return presentThread(thread);
  });

  app.get<{ Params: { id: string } }>('/v1/threads/:id/messages', async (request) => {
    const { orgId } = principalOf(request);
    const threadId = requireUuid(request.params.id, 'thread');
    const page = parsePageQuery(request.query);
    if (!(await findThread(db, orgId, threadId))) throw notFound('thread');
    const rows = await listThreadMessages(db, orgId, threadId, page.limit + 1, page.after);
    return toPage(rows, page.limit, (row) => ({ at: row.cursor_at, id: row.id }), presentMessage);
  });
}
