/**
 * `POST /v1/messages` (queue a message, 202) and `GET /v1/messages/{id}`.
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { findMessage } from '../conversations/messages.repository.js';
import { presentMessage } from '../conversations/messages.presenter.js';
import { notFound } from '../shared/errors.js';
import { idempotencyKeySchema, sendMessageBodySchema } from './messages.schema.js';
import { sendMessage } from './outbound.service.js';

export interface MessagesRoutesOptions {
  db: Db;
  /** Called after a message was queued, to wake a dispatcher in this process at once. */
  onQueued?: () => void;
}

export async function messagesRoutes(app: FastifyInstance, options: MessagesRoutesOptions): Promise<void> {
  app.post('/v1/messages', async (request, reply) => {
    const principal = principalOf(request);
    const header = request.headers['idempotency-key'];
    const idempotencyKey = header === undefined ? undefined : parseInput(idempotencyKeySchema, header, 'Idempotency-Key header');
    const body = parseInput(sendMessageBodySchema, request.body);
    const result = await sendMessage(options.db, principal, body, idempotencyKey, request.id);
    if (result.replayed) void reply.header('idempotent-replayed', 'true');
    else options.onQueued?.();
    return reply.status(202).send(result.response);
  });

  app.get<{ Params: { id: string } }>('/v1/messages/:id', async (request) => {
    const principal = principalOf(request);
    const message = await findMessage(options.db, principal.orgId, requireUuid(request.params.id, 'message'));
    if (!message) throw notFound('message');
    return presentMessage(message);
  });
}
