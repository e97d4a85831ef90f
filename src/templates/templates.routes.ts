/**
 * Templates API: `GET /v1/templates` (filters, keyset pagination), `GET /v1/templates/{id}`,
 * `POST /v1/templates/sync` (owners and admins).
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute, idParams } from '../http/openapi.js';
import { parsePageQuery } from '../http/pagination.js';
import { parseInput, requireUuid } from '../http/validation.js';
import type { TemplateSyncDeps } from './template-sync.service.js';
import { getTemplate, listTemplatePage, syncTemplatesOnDemand } from './templates.service.js';
import {
  listTemplatesQuerySchema, syncSummarySchema, syncTemplatesSchema, templatePageSchema, templateSchema, templatesQuerySchema,
} from './templates.schema.js';

export interface TemplatesRoutesOptions {
  db: Db;
  /** Absent when the hub has no Graph client: sync answers 503 not_configured. */
  sync?: TemplateSyncDeps;
}

export async function templatesRoutes(app: FastifyInstance, options: TemplatesRoutesOptions): Promise<void> {
  const { db } = options;

  app.get('/v1/templates', {
    schema: describeRoute('GET', {
      summary: "List the organization's templates, newest first", tags: ['templates'],
      querystring: templatesQuerySchema, responses: { 200: templatePageSchema }, errors: ['invalid_cursor'],
    }),
  }, async (request) => {
    const { orgId } = principalOf(request);
    const filter = parseInput(listTemplatesQuerySchema, request.query ?? {}, 'query string');
    return listTemplatePage(db, orgId, {
      wabaId: filter.waba_id, phoneNumberId: filter.phone_number_id, status: filter.status, category: filter.category,
      namePrefix: filter.name_prefix, language: filter.language,
    }, parsePageQuery(request.query));
  });

  app.get<{ Params: { id: string } }>('/v1/templates/:id', {
    schema: describeRoute('GET', {
      summary: 'A template of the registry', tags: ['templates'], params: idParams, responses: { 200: templateSchema }, errors: ['not_found'],
    }),
  }, async (request) => getTemplate(db, principalOf(request).orgId, requireUuid(request.params.id, 'template')));

  app.post('/v1/templates/sync', {
    schema: describeRoute('POST', {
      summary: "Sync the organization's templates from Meta (owners and admins)", tags: ['templates'],
      description: 'Reads `GET /{waba_id}/message_templates` page by page for each connected WABA (or `waba_id`), one transaction per WABA; '
        + 'templates Meta no longer lists are marked deleted, never dropped. A WABA Meta refuses is reported with its `error`; the others still sync.',
      body: syncTemplatesSchema, responses: { 200: syncSummarySchema }, errors: ['forbidden', 'not_found', 'provider_error', 'not_configured'],
    }),
  }, async (request) => {
    const body = parseInput(syncTemplatesSchema, request.body ?? {});
    return syncTemplatesOnDemand(options.sync, principalOf(request), body.waba_id);
  });
}
