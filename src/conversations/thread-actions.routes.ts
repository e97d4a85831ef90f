/**
 * Inbox actions: `POST /v1/threads/{id}/assign`, `POST|DELETE /v1/threads/{id}/cowriters[/{operator_id}]`,
 * `POST /v1/threads/{id}/close`, `POST /v1/threads/{id}/reopen`, `POST /v1/threads/{id}/read`.
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute, idParams } from '../http/openapi.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { addCowriterSchema, assignThreadSchema, cowriterParams } from './thread-actions.schema.js';
import { assignThread, changeCowriter, markRead, setThreadOpen } from './thread-actions.service.js';
import { threadSchema } from './threads.schema.js';

type IdParams = { Params: { id: string } };

const WRITERS = 'Whoever may send in the thread: the owner/admin role, the thread\'s owner, a co-writer, or anyone while it is unassigned.';

/** Registers the inbox actions on a thread (behind the `/v1` authentication hook). */
export async function threadActionsRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  const { db } = options;

  app.post<IdParams>('/v1/threads/:id/assign', {
    schema: describeRoute('POST', {
      summary: 'Assign a thread to an operator, or release it', tags: ['threads'],
      description: 'Owners and admins assign to anyone of the organization (an unknown or disabled operator is `validation_failed`); '
        + 'an agent may only take an unassigned thread or release their own (else `forbidden`).',
      params: idParams, body: assignThreadSchema, responses: { 200: threadSchema }, errors: ['not_found', 'forbidden', 'validation_failed'],
    }),
  }, async (request) => {
    const body = parseInput(assignThreadSchema, request.body);
    return assignThread(db, principalOf(request), requireUuid(request.params.id, 'thread'), body.operator_id);
  });

  app.post<IdParams>('/v1/threads/:id/cowriters', {
    schema: describeRoute('POST', {
      summary: 'Add a co-writer to a thread', tags: ['threads'],
      description: 'Owners, admins and the thread\'s owner; an unknown or disabled operator is `validation_failed`. Adding one twice changes nothing.',
      params: idParams, body: addCowriterSchema, responses: { 204: null }, errors: ['not_found', 'forbidden', 'validation_failed'],
    }),
  }, async (request, reply) => {
    const body = parseInput(addCowriterSchema, request.body);
    await changeCowriter(db, principalOf(request), requireUuid(request.params.id, 'thread'), body.operator_id, true);
    return reply.status(204).send();
  });

  app.delete<{ Params: { id: string; operatorId: string } }>('/v1/threads/:id/cowriters/:operatorId', {
    schema: describeRoute('DELETE', {
      summary: 'Remove a co-writer from a thread', tags: ['threads'],
      description: 'Owners, admins and the thread\'s owner. Removing an operator who is not a co-writer changes nothing.',
      params: cowriterParams, responses: { 204: null }, errors: ['not_found', 'forbidden'],
    }),
  }, async (request, reply) => {
    const operatorId = requireUuid(request.params.operatorId, 'operator');
    await changeCowriter(db, principalOf(request), requireUuid(request.params.id, 'thread'), operatorId, false);
    return reply.status(204).send();
  });

  app.post<IdParams>('/v1/threads/:id/close', {
    schema: describeRoute('POST', {
      summary: 'Close a thread', tags: ['threads'], description: WRITERS,
      params: idParams, responses: { 200: threadSchema }, errors: ['not_found', 'not_allowed_to_send'],
    }),
  }, async (request) => setThreadOpen(db, principalOf(request), requireUuid(request.params.id, 'thread'), false));

  app.post<IdParams>('/v1/threads/:id/reopen', {
    schema: describeRoute('POST', {
      summary: 'Reopen a closed thread', tags: ['threads'], description: WRITERS,
      params: idParams, responses: { 200: threadSchema }, errors: ['not_found', 'not_allowed_to_send'],
    }),
  }, async (request) => setThreadOpen(db, principalOf(request), requireUuid(request.params.id, 'thread'), true));

  app.post<IdParams>('/v1/threads/:id/read', {
    schema: describeRoute('POST', {
      summary: "Mark a thread read up to its newest message (the caller's read marker)", tags: ['threads'],
      params: idParams, responses: { 204: null }, errors: ['not_found'],
    }),
  }, async (request, reply) => {
    await markRead(db, principalOf(request), requireUuid(request.params.id, 'thread'));
    return reply.status(204).send();
  });
}
