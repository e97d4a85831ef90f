/**
 * Request and response shapes of the templates API (`templates.routes.ts`), from which the OpenAPI
 * document is built.
 */
import { z } from 'zod';
import { pageQuerySchema, pageSchema } from '../http/pagination.js';
import { checkTemplateComponents } from './template-rules.js';

const metaEnum = z.string().regex(/^[A-Z_]{1,40}$/);

/** `GET /v1/templates` filters (plus `limit` and `cursor`). */
export const listTemplatesQuerySchema = z.object({
  waba_id: z.string().regex(/^[0-9]{1,32}$/).optional().describe("Meta's WABA id"),
  phone_number_id: z.string().min(1).max(64).optional().describe("the templates of this number's WABA"),
  status: metaEnum.optional().describe('APPROVED, PENDING, REJECTED, PAUSED, DISABLED, …'),
  category: metaEnum.optional().describe('MARKETING, UTILITY, AUTHENTICATION'),
  name_prefix: z.string().regex(/^[a-z0-9_]{1,512}$/).optional().describe('templates whose name starts with this'),
  language: z.string().regex(/^[A-Za-z]{2,3}(_[A-Za-z0-9]{2,8})?$/).optional().describe('e.g. en_US'),
});

/** The query string of `GET /v1/templates` as documented. */
export const templatesQuerySchema = listTemplatesQuerySchema.extend(pageQuerySchema.shape);

/** A template of the registry (`presentTemplate`). */
export const templateSchema = z.object({
  id: z.uuid(),
  waba_id: z.string(),
  name: z.string(),
  language: z.string(),
  meta_template_id: z.string().nullable(),
  status: z.string(),
  category: z.string().nullable(),
  previous_category: z.string().nullable(),
  quality_score: z.string().nullable(),
  rejection_reason: z.string().nullable(),
  parameter_format: z.enum(['positional', 'named']).nullable(),
  components: z.array(z.unknown()).describe("Meta's components, as Graph returns them"),
  synced_at: z.string().nullable().describe('null: known from a webhook only, not synced yet'),
  deleted_at: z.string().nullable().describe('set when Meta reported the template deleted; the row is kept'),
  created_at: z.string(),
  updated_at: z.string(),
});

export const templatePageSchema = pageSchema(templateSchema);

/** `POST /v1/templates/sync`: one WABA (or every connected WABA of the organization). */
export const syncTemplatesSchema = z.strictObject({
  waba_id: z.string().regex(/^[0-9]{1,32}$/).optional().describe('sync only this WABA'),
});

/** `POST /v1/templates/sync` → one entry per WABA; a WABA that could not be synced carries `error`. */
export const syncSummarySchema = z.object({
  data: z.array(z.object({
    waba_id: z.string(),
    templates: z.number().int().describe('templates Meta listed'),
    changed: z.number().int().describe('rows inserted or changed'),
    deleted: z.number().int().describe('rows marked deleted (Meta no longer lists them)'),
    ran: z.boolean(),
    error: z.string().nullable().describe("why this WABA could not be synced (Meta's refusal, no token); null when it was"),
  })),
});

const buttonSchema = z.looseObject({
  type: z.enum(['QUICK_REPLY', 'URL', 'PHONE_NUMBER', 'OTP', 'COPY_CODE', 'FLOW', 'CATALOG', 'MPM']),
  text: z.string().min(1).max(25).optional(),
  url: z.string().min(1).max(2000).optional(),
  phone_number: z.string().min(1).max(20).optional(),
});

const componentSchema = z.looseObject({
  type: z.enum(['HEADER', 'BODY', 'FOOTER', 'BUTTONS']),
  format: z.string().regex(/^[A-Z_]{1,20}$/).optional().describe('HEADER: TEXT (default), IMAGE, VIDEO, GIF, DOCUMENT, LOCATION'),
  text: z.string().max(4096).optional(),
  example: z.record(z.string(), z.unknown()).optional().describe('required when the text has placeholders: body_text, body_text_named_params, header_text, …'),
  buttons: z.array(buttonSchema).max(20).optional(),
});

/**
 * `POST /v1/templates`: the WABA (by id or through one of its numbers) and the template as Graph
 * takes it; Meta's rules are checked here (`template-rules.ts`).
 */
export const createTemplateSchema = z.strictObject({
  waba_id: z.string().regex(/^[0-9]{1,32}$/).optional().describe("Meta's WABA id (or phone_number_id)"),
  phone_number_id: z.string().min(1).max(64).optional().describe("a number of the WABA (or waba_id)"),
  name: z.string().regex(/^[a-z0-9_]{1,512}$/).describe('lower-case letters, digits and underscores, at most 512'),
  language: z.string().regex(/^[a-z]{2,3}(_[A-Za-z0-9]{2,8})?$/).describe('e.g. en_US, pt_BR, de'),
  category: z.enum(['MARKETING', 'UTILITY', 'AUTHENTICATION']),
  parameter_format: z.enum(['positional', 'named']).optional().describe('default positional ({{1}}); named: {{first_name}}'),
  components: z.array(componentSchema).min(1).max(4),
}).superRefine((body, ctx) => {
  if ((body.waba_id === undefined) === (body.phone_number_id === undefined)) {
    ctx.addIssue({ code: 'custom', path: ['waba_id'], message: 'give waba_id or phone_number_id (one of them)' });
  }
  checkTemplateComponents(body.components, body.category, ctx);
});

export type CreateTemplateInput = z.output<typeof createTemplateSchema>;
