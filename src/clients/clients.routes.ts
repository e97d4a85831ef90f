/**
 * Client endpoints: `GET/PATCH /v1/clients/{id}/preferences`.
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { parseInput, requireUuid } from '../http/validation.js';
import { getPreferences, preferencesPatchSchema, updatePreferences } from './preferences.service.js';

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
}
