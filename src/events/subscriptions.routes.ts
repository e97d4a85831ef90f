/**
 * `POST/GET /v1/event-subscriptions`, `GET/DELETE /v1/event-subscriptions/{id}`,
 * `GET /v1/event-subscriptions/{id}/deliveries` (incl. `?state=dead`: the dead letters) and
 * `POST /v1/event-subscriptions/{id}/deliveries/{delivery_id}/retry`. Owners and admins only.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute, idParams } from '../http/openapi.js';
import { parseInput, requireUuid } from '../http/validation.js';
import type { Principal } from '../tenancy/tenancy.service.js';
import { AppError, notFound } from '../shared/errors.js';
import type { EgressGuard } from '../shared/egress.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import {
  createdSubscriptionSchema, createSubscriptionSchema, deliveriesQuerySchema, deliveryPageSchema, deliveryParams, retriedDeliverySchema,
  subscriptionListSchema, subscriptionSchema,
} from './subscriptions.schema.js';
import * as service from './subscriptions.service.js';

function adminOf(request: FastifyRequest): Principal {
  const principal = principalOf(request);
  if (principal.role !== 'owner' && principal.role !== 'admin') throw new AppError('forbidden', 'only owners and admins manage event subscriptions');
  return principal;
}

const tags = ['events'];

/** Registers the event subscriptions routes (behind the `/v1` authentication hook). */
export async function eventSubscriptionsRoutes(app: FastifyInstance, options: { db: Db; cipher: TokenCipher; egress: EgressGuard }): Promise<void> {
  const { db, cipher, egress } = options;

  app.post('/v1/event-subscriptions', {
    schema: describeRoute('POST', {
      summary: 'Subscribe a URL to domain events (owners and admins)', tags,
      description: 'Answers the signing secret once; it is stored encrypted. Deliveries are retried with backoff for 24 hours, then dead-lettered. '
        + 'The URL must be https and reach only public addresses (422 `url_not_allowed`), checked again at every delivery.',
      body: createSubscriptionSchema, responses: { 201: createdSubscriptionSchema }, errors: ['forbidden', 'url_not_allowed'],
    }),
  }, async (request, reply) => {
    const { orgId } = adminOf(request);
    const body = parseInput(createSubscriptionSchema, request.body);
    const created = await service.createSubscription(db, cipher, egress, { orgId, url: body.url, eventTypes: body.event_types, description: body.description ?? null });
    return reply.status(201).send(created);
  });

  app.get('/v1/event-subscriptions', {
    schema: describeRoute('GET', {
      summary: "The organization's event subscriptions, oldest first (owners and admins)", tags,
      responses: { 200: subscriptionListSchema }, errors: ['forbidden'],
    }),
  }, async (request) => {
    const { orgId } = adminOf(request);
    return { data: await service.listSubscriptionsOf(db, orgId) };
  });

  app.get<{ Params: { id: string } }>('/v1/event-subscriptions/:id', {
    schema: describeRoute('GET', {
      summary: 'An event subscription (owners and admins)', tags,
      params: idParams, responses: { 200: subscriptionSchema }, errors: ['forbidden', 'not_found'],
    }),
  }, async (request) => {
    const { orgId } = adminOf(request);
    return service.getSubscription(db, orgId, requireUuid(request.params.id, 'event subscription'));
  });

  app.delete<{ Params: { id: string } }>('/v1/event-subscriptions/:id', {
    schema: describeRoute('DELETE', {
      summary: 'Delete an event subscription and its deliveries (owners and admins)', tags,
      params: idParams, responses: { 204: null }, errors: ['forbidden', 'not_found'],
    }),
  }, async (request, reply) => {
    const { orgId } = adminOf(request);
    await service.removeSubscription(db, orgId, requireUuid(request.params.id, 'event subscription'));
    return reply.status(204).send();
  });

  app.get<{ Params: { id: string } }>('/v1/event-subscriptions/:id/deliveries', {
    schema: describeRoute('GET', {
      summary: "A subscription's deliveries, newest first (owners and admins)", tags,
      params: idParams, querystring: deliveriesQuerySchema, responses: { 200: deliveryPageSchema }, errors: ['forbidden', 'not_found', 'invalid_cursor'],
    }),
  }, async (request) => {
    const { orgId } = adminOf(request);
    const query = parseInput(deliveriesQuerySchema, request.query, 'query string');
    return service.listSubscriptionDeliveries(db, { orgId, subscriptionId: requireUuid(request.params.id, 'event subscription'), ...query });
  });

  app.post<{ Params: { id: string; deliveryId: string } }>('/v1/event-subscriptions/:id/deliveries/:deliveryId/retry', {
    schema: describeRoute('POST', {
      summary: 'Queue a dead-lettered delivery again (owners and admins)', tags,
      description: 'The delivery gets a fresh 24-hour window and its attempts start over; `not_found` unless it is dead.',
      params: deliveryParams, responses: { 202: retriedDeliverySchema }, errors: ['forbidden', 'not_found'],
    }),
  }, async (request, reply) => {
    const { orgId } = adminOf(request);
    if (!service.isDeliveryId(request.params.deliveryId)) throw notFound('dead-lettered delivery');
    await service.redriveSubscriptionDelivery(db, orgId, requireUuid(request.params.id, 'event subscription'), request.params.deliveryId);
    return reply.status(202).send({ id: request.params.deliveryId, state: 'pending' });
  });
}
