/**
 * The simulator's template management (docs/PROTOCOL-NOTES.md "Message templates"): per WABA,
 * `GET /{version}/{waba_id}/message_templates` with Meta's envelope (`data`, `paging.cursors`,
 * `paging.next` only while another page exists), `POST` (created PENDING, approved after
 * `approveAfterMs` with a signed `message_template_status_update` webhook, or rejected through the
 * control API), `DELETE ?name=` (every language of the name). Control: `PUT
 * /_simulator/templates/:waba_id` (replace the list), `POST /_simulator/templates/:waba_id/reject`
 * (`{name, language, reason}`), `POST /_simulator/template-failures` (`{code, count}`: the next
 * template management calls fail with Meta's code, e.g. 80007).
 */
import { randomInt } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { SimulatorBackground } from '../shared/background.js';
import { buildMetaError, invalidAccessToken, invalidParameter, type MetaErrorResponse } from './errors.js';
import { unixSecondsNow, type WebhookDeliverer } from './webhooks.js';

/** A template as Graph lists it. */
export interface SimulatedTemplate {
  id: string;
  name: string;
  language: string;
  status: string;
  category: string;
  components: unknown[];
  parameter_format?: 'POSITIONAL' | 'NAMED';
  quality_score?: { score: string };
  rejected_reason?: string;
}

export interface TemplateSimulator {
  /** Replaces a WABA's templates (ids generated when absent). */
  seed(wabaId: string, templates: Array<Omit<SimulatedTemplate, 'id'> & { id?: string }>): void;
  list(wabaId: string): SimulatedTemplate[];
  /** The template a send names, or undefined when the WABA has no template list at all (not checked). */
  lookup(wabaId: string, name: string, language: string): SimulatedTemplate | null | undefined;
  /** The next `count` template management calls fail with Meta's `code` (e.g. 80007, rate limit). */
  injectFailure(code: number, count?: number): void;
  /**
   * Meta's refusal of a template send, for WABAs that have a template list: unknown (132001),
   * paused (132015), disabled (132016), any other status but APPROVED (132001).
   */
  refuseSend(wabaId: string, template: unknown): MetaErrorResponse | null;
  /** Template management calls answered so far (list pages, creates, deletes). */
  calls(): number;
  reset(): void;
  routes(app: FastifyInstance): void;
}

const PAGE_DEFAULT = 25;
const PAGE_MAX = 100;
const NAME = /^[a-z0-9_]{1,512}$/;

/**
 * @param approveAfterMs delay before a created template turns APPROVED (webhook sent); null: stays PENDING
 */
export function createTemplateSimulator(options: {
  deliverer: WebhookDeliverer; background: SimulatorBackground; approveAfterMs?: number | null;
}): TemplateSimulator {
  const store = new Map<string, SimulatedTemplate[]>();
  let failures: Array<{ code: number; count: number }> = [];
  let calls = 0;
  const approveAfterMs = options.approveAfterMs === undefined ? 200 : options.approveAfterMs;

  const newId = () => `${randomInt(1, 9)}${String(randomInt(0, 1e9)).padStart(9, '0')}${String(randomInt(0, 1e6)).padStart(6, '0')}`;

  function statusWebhook(wabaId: string, template: SimulatedTemplate, reason: string): unknown {
    return {
      object: 'whatsapp_business_account',
      entry: [{
        id: wabaId, time: Number(unixSecondsNow()),
        changes: [{
          field: 'message_template_status_update',
          value: {
            event: template.status, message_template_id: Number(template.id), message_template_name: template.name,
            message_template_language: template.language, reason, message_template_category: template.category,
          },
        }],
      }],
    };
  }

  function setStatus(wabaId: string, template: SimulatedTemplate, status: string, reason: string): void {
    template.status = status;
    if (status === 'REJECTED') template.rejected_reason = reason;
    void options.background.track(options.deliverer.deliver(statusWebhook(wabaId, template, reason)));
  }

  /** Meta's answer to a management call, or null to go on; counts the call. */
  function gate(authorization: string | undefined): MetaErrorResponse | null {
    calls++;
    if (!/^Bearer\s+\S+$/i.test(authorization ?? '')) return invalidAccessToken();
    const failure = failures[0];
    if (!failure) return null;
    if (--failure.count === 0) failures.shift();
    return buildMetaError(failure.code);
  }

  function listPage(wabaId: string, query: Record<string, string | undefined>, base: string) {
    const all = store.get(wabaId) ?? [];
    const limit = Math.min(PAGE_MAX, Math.max(1, Number(query.limit ?? PAGE_DEFAULT) || PAGE_DEFAULT));
    const start = query.after ? Number(Buffer.from(query.after, 'base64url').toString('utf8')) || 0 : 0;
    const data = all.slice(start, start + limit);
    const cursor = (index: number) => Buffer.from(String(index)).toString('base64url');
    const after = cursor(start + data.length);
    const more = start + data.length < all.length;
    return {
      data,
      paging: {
        cursors: { before: cursor(start), after },
        ...(more ? { next: `${base}?limit=${limit}&after=${after}` } : {}),
      },
    };
  }

  function create(wabaId: string, body: Record<string, unknown>): { statusCode: number; body: unknown } {
    const { name, language, category, components } = body;
    if (typeof name !== 'string' || !NAME.test(name) || typeof language !== 'string' || typeof category !== 'string' || !Array.isArray(components)) {
      const error = invalidParameter('name, language, category and components are required');
      return { statusCode: error.statusCode, body: error.body };
    }
    const list = store.get(wabaId) ?? [];
    if (list.some((t) => t.name === name && t.language === language)) {
      const error = invalidParameter(`Content in this language already exists for ${name}`);
      return { statusCode: error.statusCode, body: error.body };
    }
    const format = body.parameter_format === 'named' || body.parameter_format === 'NAMED' ? 'NAMED' : 'POSITIONAL';
    const template: SimulatedTemplate = { id: newId(), name, language, status: 'PENDING', category, components, parameter_format: format };
    store.set(wabaId, [...list, template]);
    if (approveAfterMs !== null) {
      options.background.runSteps(Date.now(), [{ delayMs: approveAfterMs }], async () => {
        if (template.status === 'PENDING') setStatus(wabaId, template, 'APPROVED', 'NONE');
      });
    }
    return { statusCode: 200, body: { id: template.id, status: template.status, category } };
  }

  const simulator: TemplateSimulator = {
    seed(wabaId, templates) {
      store.set(wabaId, templates.map((t) => ({ ...t, id: t.id ?? newId() })));
    },
    list: (wabaId) => [...(store.get(wabaId) ?? [])],
    lookup(wabaId, name, language) {
      const list = store.get(wabaId);
      if (!list) return undefined;
      return list.find((t) => t.name === name && t.language === language) ?? null;
    },
    refuseSend(wabaId, template) {
      const { name, language } = template as { name: string; language: { code: string } };
      const found = simulator.lookup(wabaId, name, language.code);
      if (found === undefined || found?.status === 'APPROVED') return null;
      return buildMetaError(found?.status === 'PAUSED' ? 132015 : found?.status === 'DISABLED' ? 132016 : 132001);
    },
    calls: () => calls,
    reset() {
      store.clear();
      failures = [];
      calls = 0;
    },
    routes(app) {
      type Params = { version: string; waba_id: string };
      app.get<{ Params: Params; Querystring: Record<string, string | undefined> }>('/:version/:waba_id/message_templates', async (req, reply) => {
        const refused = gate(req.headers.authorization);
        if (refused) return reply.code(refused.statusCode).send(refused.body);
        const base = `${req.protocol}://${req.headers.host}${req.url.split('?')[0]}`;
        return listPage(req.params.waba_id, req.query, base);
      });
      app.post<{ Params: Params }>('/:version/:waba_id/message_templates', async (req, reply) => {
        const refused = gate(req.headers.authorization);
        if (refused) return reply.code(refused.statusCode).send(refused.body);
        const answer = create(req.params.waba_id, (req.body ?? {}) as Record<string, unknown>);
        return reply.code(answer.statusCode).send(answer.body);
      });
      app.delete<{ Params: Params; Querystring: { name?: string } }>('/:version/:waba_id/message_templates', async (req, reply) => {
        const refused = gate(req.headers.authorization);
        if (refused) return reply.code(refused.statusCode).send(refused.body);
        const list = store.get(req.params.waba_id) ?? [];
        const kept = list.filter((t) => t.name !== req.query.name);
        if (kept.length === list.length) {
          const error = invalidParameter(`Message template "${req.query.name ?? ''}" not found`);
          return reply.code(error.statusCode).send(error.body);
        }
        store.set(req.params.waba_id, kept);
        return { success: true };
      });
      app.put<{ Params: { waba_id: string }; Body: { templates?: SimulatedTemplate[] } }>('/_simulator/templates/:waba_id', async (req) => {
        simulator.seed(req.params.waba_id, Array.isArray(req.body?.templates) ? req.body.templates : []);
        return { ok: true };
      });
      app.post<{ Params: { waba_id: string }; Body: { name?: string; language?: string; reason?: string } }>('/_simulator/templates/:waba_id/reject', async (req, reply) => {
        const template = (store.get(req.params.waba_id) ?? []).find((t) => t.name === req.body?.name && t.language === req.body?.language);
        if (!template) return reply.code(404).send({ error: 'unknown template' });
        setStatus(req.params.waba_id, template, 'REJECTED', req.body?.reason ?? 'INVALID_FORMAT');
        return { ok: true };
      });
      app.post<{ Body: { code?: number; count?: number } }>('/_simulator/template-failures', async (req) => {
        simulator.injectFailure(req.body?.code ?? 80007, req.body?.count ?? 1);
        return { ok: true };
      });
    },
    injectFailure(code, count = 1) {
      failures.push({ code, count });
    },
  };
  return simulator;
}
