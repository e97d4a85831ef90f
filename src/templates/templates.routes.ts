/**
 * Templates API: `GET /v1/templates` (filters, keyset pagination), `GET /v1/templates/{id}`,
 * `POST /v1/templates/sync`, `POST /v1/templates` (create through Graph) and
 * `DELETE /v1/templates/{id}` (owners and admins).
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute, idParams } from '../http/openapi.js';
import { parsePageQuery } from '../http/pagination.js';
import { parseInput, requireUuid } from '../http/validation.js';
import type { TemplateSyncDeps } from './template-sync.service.js';
import { createTemplateAtMeta, deleteTemplateAtMeta } from './template-management.service.js';
import { assertMayManageTemplates, getTemplate, listTemplatePage, syncTemplatesOnDemand } from './templates.service.js';
import {
  createTemplateSchema, listTemplatesQuerySchema, syncSummarySchema, syncTemplatesSchema, templatePageSchema, templateSchema, templatesQuerySchema,
} from './templates.schema.js';

export interface TemplatesRoutesOptions {
  db: Db;
  /** Absent when the hub has no Graph client: sync, create and delete answer 503 not_configured. */
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

  app.post('/v1/templates', {
    schema: describeRoute('POST', {
      summary: 'Create a template at Meta (owners and admins)', tags: ['templates'],
      description: "Checks Meta's rules first (name, language, one HEADER/BODY/FOOTER/BUTTONS at most, BODY required, lengths, buttons, "
        + 'examples for placeholders: `validation_failed` with every problem), then `POST /{waba_id}/message_templates` with the WABA\'s token. '
        + "Meta's refusal answers `template_rejected_by_meta` (Meta's code and message) and stores nothing; otherwise the template is stored "
        + 'with the status Meta answered (PENDING while it reviews; the status webhook updates it).',
      body: createTemplateSchema, responses: { 201: templateSchema },
      errors: ['forbidden', 'not_found', 'template_rejected_by_meta', 'provider_error', 'not_configured'],
    }),
  }, async (request, reply) => {
    const principal = principalOf(request);
    // An agent is refused before the body is looked at.
    assertMayManageTemplates(principal);
    const body = parseInput(createTemplateSchema, request.body);
    return reply.status(201).send(await createTemplateAtMeta(options.sync, principal, body));
  });

  app.delete<{ Params: { id: string } }>('/v1/templates/:id', {
    schema: describeRoute('DELETE', {
      summary: 'Delete a template at Meta (owners and admins)', tags: ['templates'],
      description: '`DELETE /{waba_id}/message_templates?name=` deletes every language of the name at Meta; the rows of that name are then '
        + 'marked `DELETED`, never dropped (queued messages keep their template). A template already deleted answers 204 again.',
      params: idParams, responses: { 204: null },
      errors: ['forbidden', 'not_found', 'template_rejected_by_meta', 'provider_error', 'not_configured'],
    }),
  }, async (request, reply) => {
    const principal = principalOf(request);
    assertMayManageTemplates(principal);
    await deleteTemplateAtMeta(options.sync, principal, requireUuid(request.params.id, 'template'));
    return reply.status(204).send();
  });
}
