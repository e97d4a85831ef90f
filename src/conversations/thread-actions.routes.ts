/**
 * Inbox actions: `POST /v1/threads/{id}/assign`, `POST|DELETE /v1/threads/{id}/cowriters[/{operator_id}]`,
 * `POST /v1/threads/{id}/close`, `POST /v1/threads/{id}/reopen`, `POST /v1/threads/{id}/read`.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { assignThread, changeCowriter, markRead, setThreadOpen } from './thread-actions.service.js';

const assignSchema = z.strictObject({ operator_id: z.uuid().nullable() });
const cowriterSchema = z.strictObject({ operator_id: z.uuid() });

type IdParams = { Params: { id: string } };

export async function threadActionsRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  const { db } = options;

  app.post<IdParams>('/v1/threads/:id/assign', async (request) => {
    const body = parseInput(assignSchema, request.body);
    return assignThread(db, principalOf(request), requireUuid(request.params.id, 'thread'), body.operator_id);
  });

  app.post<IdParams>('/v1/threads/:id/cowriters', async (request, reply) => {
    const body = parseInput(cowriterSchema, request.body);
    await changeCowriter(db, principalOf(request), requireUuid(request.params.id, 'thread'), body.operator_id, true);
    return reply.status(204).send();
  });

  app.delete<{ Params: { id: string; operatorId: string } }>('/v1/threads/:id/cowriters/:operatorId', async (request, reply) => {
    const operatorId = requireUuid(request.params.operatorId, 'operator');
    await changeCowriter(db, principalOf(request), requireUuid(request.params.id, 'thread'), operatorId, false);
    return reply.status(204).send();
  });

  app.post<IdParams>('/v1/threads/:id/close', async (request) => setThreadOpen(db, principalOf(request), requireUuid(request.params.id, 'thread'), false));
  app.post<IdParams>('/v1/threads/:id/reopen', async (request) => setThreadOpen(db, principalOf(request), requireUuid(request.params.id, 'thread'), true));

  app.post<IdParams>('/v1/threads/:id/read', async (request, reply) => {
    await markRead(db, principalOf(request), requireUuid(request.params.id, 'thread'));
    return reply.status(204).send();
  });
}
