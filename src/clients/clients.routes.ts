/**
 * Client endpoints: `GET/PATCH /v1/clients/{id}/preferences`, `GET /v1/clients/{id}/export`
 * and `DELETE /v1/clients/{id}` (GDPR; owners and admins only).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute, idParams } from '../http/openapi.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { AppError } from '../shared/errors.js';
import { clientExportSchema, erasureSchema, preferencesPatchSchema, preferencesSchema } from './clients.schema.js';
import { getPreferences, updatePreferences } from './preferences.service.js';
import { eraseClient, exportClient } from './gdpr.service.js';

function requireAdmin(request: FastifyRequest): string {
  const principal = principalOf(request);
  if (principal.role !== 'owner' && principal.role !== 'admin') throw new AppError('forbidden', 'only owners and admins export or erase clients');
  return principal.orgId;
}

const tags = ['clients'];

/** Registers the client routes: preferences, GDPR export and erasure. */
export async function clientsRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  const { db } = options;

  app.get<{ Params: { id: string } }>('/v1/clients/:id/preferences', {
    schema: describeRoute('GET', {
      summary: "A client's preferences", tags,
      params: idParams, responses: { 200: preferencesSchema }, errors: ['not_found'],
    }),
  }, async (request) => {
    return getPreferences(db, principalOf(request).orgId, requireUuid(request.params.id, 'client'));
  });

  app.patch<{ Params: { id: string } }>('/v1/clients/:id/preferences', {
    schema: describeRoute('PATCH', {
      summary: "Change a client's preferences", tags,
      params: idParams, body: preferencesPatchSchema, responses: { 200: preferencesSchema }, errors: ['not_found'],
    }),
  }, async (request) => {
    const { orgId } = principalOf(request);
    const patch = parseInput(preferencesPatchSchema, request.body);
    return updatePreferences(db, orgId, requireUuid(request.params.id, 'client'), patch);
  });

  app.get<{ Params: { id: string } }>('/v1/clients/:id/export', {
    schema: describeRoute('GET', {
      summary: 'Export every row about a client (GDPR; owners and admins)', tags,
      description: 'The client, its preferences, contacts, OTP challenges (without code hashes), threads, messages with their outbox rows, '
        + "domain events about them, and pending statuses and webhook dead letters that mention one of the client's numbers.",
      params: idParams, responses: { 200: clientExportSchema }, errors: ['forbidden', 'not_found'],
    }),
  }, async (request) => {
    return exportClient(db, requireAdmin(request), requireUuid(request.params.id, 'client'));
  });

  app.delete<{ Params: { id: string } }>('/v1/clients/:id', {
    schema: describeRoute('DELETE', {
      summary: 'Erase a client and everything about it (GDPR; owners and admins)', tags,
      description: 'One transaction: the rows the export lists, then the anonymous tombstone event `client.erased` (ids only). '
        + 'Copies already published to NATS or subscribers are for their consumers to erase on that event.',
      params: idParams, responses: { 200: erasureSchema }, errors: ['forbidden', 'not_found'],
    }),
  }, async (request) => {
    return (await eraseClient(db, requireAdmin(request), requireUuid(request.params.id, 'client'), { correlationId: request.id, source: 'api' }))!;
  });
}
