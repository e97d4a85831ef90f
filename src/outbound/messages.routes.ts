/**
 * `POST /v1/messages` (queue a message, 202) and `GET /v1/messages/{id}`.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute, idParams } from '../http/openapi.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { messageSchema } from '../conversations/messages.schema.js';
import { getMessage } from '../conversations/thread-pages.service.js';
import { idempotencyKeySchema, queuedMessageSchema, sendMessageBodySchema } from './messages.schema.js';
import { sendMessage } from './outbound.service.js';
import type { TemplateSyncer } from '../templates/template-send-check.js';

export interface MessagesRoutesOptions {
  db: Db;
  /** Called after a message was queued, to wake a dispatcher in this process at once. */
  onQueued?: () => void;
  /** Syncs a WABA never synced before its first template send (absent: such sends answer templates_not_synced). */
  syncTemplates?: TemplateSyncer;
}

const sendHeadersSchema = z.object({
  'idempotency-key': idempotencyKeySchema.optional().describe('retries with the same key and body answer the first result (header `Idempotent-Replayed: true`)'),
});

export async function messagesRoutes(app: FastifyInstance, options: MessagesRoutesOptions): Promise<void> {
  app.post('/v1/messages', {
    schema: describeRoute('POST', {
      summary: 'Queue a message', tags: ['messages'],
      description: 'Commits the message and its outbox row together and answers 202; the dispatcher sends it. Address it by `thread_id`, '
        + 'or by `from_phone_number_id` + `to` (E.164). Outside the 24-hour customer service window only templates may be sent.',
      headers: sendHeadersSchema, body: sendMessageBodySchema, responses: { 202: queuedMessageSchema },
      errors: ['not_found', 'invalid_phone_number', 'idempotency_key_reused', 'outside_customer_service_window', 'contact_blocked',
        'phone_number_not_active', 'not_allowed_to_send', 'template_not_found', 'template_not_approved', 'template_language_not_found',
        'template_parameters_mismatch', 'templates_not_synced', 'provider_error'],
    }),
  }, async (request, reply) => {
    const principal = principalOf(request);
    const header = request.headers['idempotency-key'];
    const idempotencyKey = header === undefined ? undefined : parseInput(idempotencyKeySchema, header, 'Idempotency-Key header');
    const body = parseInput(sendMessageBodySchema, request.body);
    const result = await sendMessage(options.db, principal, body, idempotencyKey, request.id, options.syncTemplates);
    if (result.replayed) void reply.header('idempotent-replayed', 'true');
    else options.onQueued?.();
    return reply.status(202).send(result.response);
  });

  app.get<{ Params: { id: string } }>('/v1/messages/:id', {
    schema: describeRoute('GET', {
      summary: 'A message and its delivery status', tags: ['messages'],
      params: idParams, responses: { 200: messageSchema }, errors: ['not_found'],
    }),
  }, async (request) => {
    const principal = principalOf(request);
    return getMessage(options.db, principal.orgId, requireUuid(request.params.id, 'message'));
  });
}
