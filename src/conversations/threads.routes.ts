/**
 * Threads read API: `GET /v1/threads` (newest activity first), `GET /v1/threads/{id}`,
 * `GET /v1/threads/{id}/messages` (newest first), `POST /v1/threads` (create-or-return).
 * Lists use keyset pagination (`limit`, `cursor` → `next_cursor`).
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute, idParams } from '../http/openapi.js';
import { pageQuerySchema, parsePageQuery } from '../http/pagination.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { messagePageSchema } from './messages.schema.js';
import { listThreadMessagePage, listThreadPage } from './thread-pages.service.js';
import { threadDetail } from './thread-actions.service.js';
import { createThreadSchema, listThreadsQuerySchema, threadDetailSchema, threadPageSchema, threadSchema, threadsQuerySchema } from './threads.schema.js';
import { openThread } from './threads.service.js';

export async function threadsRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  const { db } = options;

  app.get('/v1/threads', {
    schema: describeRoute('GET', {
      summary: 'List threads, newest activity first', tags: ['threads'],
      querystring: threadsQuerySchema, responses: { 200: threadPageSchema }, errors: ['invalid_cursor'],
    }),
  }, async (request) => {
    const { orgId, operatorId } = principalOf(request);
    const filter = parseInput(listThreadsQuerySchema, request.query ?? {}, 'query string');
    const page = parsePageQuery(request.query);
    return listThreadPage(db, orgId, page, { viewerId: operatorId, assignee: filter.assignee, status: filter.status, search: filter.q });
  });

  app.post('/v1/threads', {
    schema: describeRoute('POST', {
      summary: 'Open the thread with a customer (create or return)', tags: ['threads'],
      description: 'Finds or creates the contact, its client and the thread with one of the organization\'s numbers; 201 when created, 200 when it existed.',
      body: createThreadSchema, responses: { 200: threadSchema, 201: threadSchema }, errors: ['not_found', 'invalid_phone_number'],
    }),
  }, async (request, reply) => {
    const principal = principalOf(request);
    const body = parseInput(createThreadSchema, request.body);
    const { thread, created } = await openThread(db, principal.orgId, body.from_phone_number_id, body.phone, request.id);
    return reply.status(created ? 201 : 200).send(thread);
  });

  app.get<{ Params: { id: string } }>('/v1/threads/:id', {
    schema: describeRoute('GET', {
      summary: 'A thread with its co-writers and whether the caller may send', tags: ['threads'],
      params: idParams, responses: { 200: threadDetailSchema }, errors: ['not_found'],
    }),
  }, async (request) => threadDetail(db, principalOf(request), requireUuid(request.params.id, 'thread')));

  app.get<{ Params: { id: string } }>('/v1/threads/:id/messages', {
    schema: describeRoute('GET', {
      summary: "A thread's messages, newest first", tags: ['threads'],
      params: idParams, querystring: pageQuerySchema, responses: { 200: messagePageSchema }, errors: ['not_found', 'invalid_cursor'],
    }),
  }, async (request) => {
    const { orgId } = principalOf(request);
    const threadId = requireUuid(request.params.id, 'thread');
    return listThreadMessagePage(db, orgId, threadId, parsePageQuery(request.query));
  });
}
