/**
 * `POST /v1/contacts/{id}/block` and `POST /v1/contacts/{id}/unblock`. A blocked contact's
 * threads refuse new messages (`contact_blocked`) until it is unblocked; its inbound messages are
 * still stored (nothing is dropped); `contact.blocked` / `contact.unblocked` events follow. Any operator of the organization may block (agents are the
 * first to see spam).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { changeContactBlock } from './contacts.service.js';

const blockSchema = z.strictObject({ reason: z.string().trim().min(1).max(500).optional() });

export async function contactsRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  app.post<{ Params: { id: string } }>('/v1/contacts/:id/block', async (request, reply) => {
    const body = parseInput(blockSchema, request.body ?? {});
    const events = { correlationId: request.id, source: 'api' as const };
    await changeContactBlock(options.db, principalOf(request).orgId, requireUuid(request.params.id, 'contact'), { reason: body.reason ?? null }, events);
    return reply.status(204).send();
  });

  app.post<{ Params: { id: string } }>('/v1/contacts/:id/unblock', async (request, reply) => {
    const events = { correlationId: request.id, source: 'api' as const };
    await changeContactBlock(options.db, principalOf(request).orgId, requireUuid(request.params.id, 'contact'), null, events);
    return reply.status(204).send();
  });
}
