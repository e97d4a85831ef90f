/**
 * `POST/GET /v1/event-subscriptions`, `GET/DELETE /v1/event-subscriptions/{id}`,
 * `GET /v1/event-subscriptions/{id}/deliveries` (incl. `?state=dead`: the dead letters) and
 * `POST /v1/event-subscriptions/{id}/deliveries/{delivery_id}/retry`. Owners and admins only.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { parseInput, requireUuid } from '../http/validation.js';
import type { Principal } from '../tenancy/tenancy.service.js';
import { AppError, notFound } from '../shared/errors.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { EVENT_TYPES } from './event-types.js';
import * as service from './subscriptions.service.js';

const createSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/ }).max(2048),
  event_types: z.array(z.enum([...EVENT_TYPES, '*'])).min(1).max(64),
  description: z.string().max(500).optional(),
});

const deliveriesQuery = z.object({
  state: z.enum(['pending', 'delivered', 'dead']).optional(),
  limit: z.coerce.number().int().min(1).max(100).default(50),
  cursor: z.string().max(40).optional(),
});

function adminOf(request: FastifyRequest): Principal {
  const principal = principalOf(request);
  if (principal.role !== 'owner' && principal.role !== 'admin') throw new AppError('forbidden', 'only owners and admins manage event subscriptions');
  return principal;
}

export async function eventSubscriptionsRoutes(app: FastifyInstance, options: { db: Db; cipher: TokenCipher }): Promise<void> {
  const { db, cipher } = options;

  app.post('/v1/event-subscriptions', async (request, reply) => {
    const { orgId } = adminOf(request);
    const body = parseInput(createSchema, request.body);
    const created = await service.createSubscription(db, cipher, { orgId, url: body.url, eventTypes: body.event_types, description: body.description ?? null });
    return reply.status(201).send(created);
  });

  app.get('/v1/event-subscriptions', async (request) => {
    const { orgId } = adminOf(request);
    return { data: await service.listSubscriptionsOf(db, orgId) };
  });

  app.get<{ Params: { id: string } }>('/v1/event-subscriptions/:id', async (request) => {
    const { orgId } = adminOf(request);
    return service.getSubscription(db, orgId, requireUuid(request.params.id, 'event subscription'));
  });

  app.delete<{ Params: { id: string } }>('/v1/event-subscriptions/:id', async (request, reply) => {
    const { orgId } = adminOf(request);
    await service.removeSubscription(db, orgId, requireUuid(request.params.id, 'event subscription'));
    return reply.status(204).send();
  });

  app.get<{ Params: { id: string } }>('/v1/event-subscriptions/:id/deliveries', async (request) => {
    const { orgId } = adminOf(request);
    const query = parseInput(deliveriesQuery, request.query, 'query string');
    return service.listSubscriptionDeliveries(db, { orgId, subscriptionId: requireUuid(request.params.id, 'event subscription'), ...query });
  });

  app.post<{ Params: { id: string; deliveryId: string } }>('/v1/event-subscriptions/:id/deliveries/:deliveryId/retry', async (request, reply) => {
    const { orgId } = adminOf(request);
    if (!service.isDeliveryId(request.params.deliveryId)) throw notFound('dead-lettered delivery');
    await service.redriveSubscriptionDelivery(db, orgId, requireUuid(request.params.id, 'event subscription'), request.params.deliveryId);
    return reply.status(202).send({ id: request.params.deliveryId, state: 'pending' });
  });
}
