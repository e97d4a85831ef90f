/**
 * Client endpoints: `GET/PATCH /v1/clients/{id}/preferences`, `GET /v1/clients/{id}/export`
 * and `DELETE /v1/clients/{id}` (GDPR; owners and admins only).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { AppError } from '../shared/errors.js';
import { getPreferences, preferencesPatchSchema, updatePreferences } from './preferences.service.js';
import { eraseClient, exportClient } from './gdpr.service.js';

function requireAdmin(request: FastifyRequest): string {
  const principal = principalOf(request);
  if (principal.role !== 'owner' && principal.role !== 'admin') throw new AppError('forbidden', 'only owners and admins export or erase clients');
  return principal.orgId;
}

export async function clientsRoutes(app: FastifyInstance, options: { db: Db }): Promise<void> {
  const { db } = options;

  app.get<{ Params: { id: string } }>('/v1/clients/:id/preferences', async (request) => {
    return getPreferences(db, principalOf(request).orgId, requireUuid(request.params.id, 'client'));
  });

  app.patch<{ Params: { id: string } }>('/v1/clients/:id/preferences', async (request) => {
    const { orgId } = principalOf(request);
    const patch = parseInput(preferencesPatchSchema, request.body);
    return updatePreferences(db, orgId, requireUuid(request.params.id, 'client'), patch);
  });

  app.get<{ Params: { id: string } }>('/v1/clients/:id/export', async (request) => {
    return exportClient(db, requireAdmin(request), requireUuid(request.params.id, 'client'));
  });

  app.delete<{ Params: { id: string } }>('/v1/clients/:id', async (request) => {
    return (await eraseClient(db, requireAdmin(request), requireUuid(request.params.id, 'client'), { correlationId: request.id, source: 'api' }))!;
  });
}
