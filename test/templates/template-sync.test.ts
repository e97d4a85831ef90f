/**
 * Template sync against the simulator over HTTP (`GET /{waba_id}/message_templates`, Meta's
 * envelope and cursors): idempotent, transactional per WABA, deleted templates marked not dropped,
 * one sync for many concurrent first sends, back-off on Meta's management rate-limit codes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { GraphApiClient } from '../../src/providers/meta/graph.client.js';
import { startSimulatorServer, type SimulatorServer } from '../../src/simulator/server.js';
import { syncAllTemplates, syncOrganizationTemplates } from '../../src/templates/template-sync.service.js';
import { runWahub } from '../helpers/cli.js';
import { bearer, customerWaId } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestApp, createTestNumber, createTestOperator, createTestOrg, TEST_APP_SECRET, testCipher, type TestNumber, type TestOrg } from '../helpers/factories.js';
import { approvedTemplate, toGraphTemplate } from '../helpers/templates.js';

let t: TestDatabase;
let sim: SimulatorServer;
let graph: GraphApiClient;
let app: FastifyInstance;

beforeAll(async () => {
  t = await createTestDatabase();
  sim = await startSimulatorServer({ port: 0, webhookUrl: 'http://127.0.0.1:9/unused', appSecret: TEST_APP_SECRET, statusWebhooks: false });
  graph = new GraphApiClient({ baseUrl: sim.url, version: 'v24.0', timeoutMs: 10_000 });
  app = await createTestApp(t.db, { graph });
});

afterAll(async () => {
  await app?.close();
  await graph?.close();
  await sim?.close();
  await t?.drop();
});

/** An organization with a number whose WABA was never synced, known to the simulator. */
async function unsyncedNumber(): Promise<{ org: TestOrg; number: TestNumber }> {
  const org = await createTestOrg(t.db);
  const number = await createTestNumber(t.db, org.orgId, {}, { templates: false });
  sim.simulator.registerNumber(number.phoneNumberId, { waba_id: number.wabaId, display_phone_number: number.displayPhoneNumber, access_token: number.accessToken });
  return { org, number };
}

function seedMeta(wabaId: string, names: string[]): void {
  sim.simulator.templates.seed(wabaId, names.map((name, i) => toGraphTemplate(approvedTemplate(name, `Message ${name} {{1}}`), String(800000000000000 + i))));
}

function sync(org: TestOrg, wabaId: string) {
  return app.inject({ method: 'POST', url: '/v1/templates/sync', headers: bearer(org.apiKey), payload: { waba_id: wabaId } });
}

async function registry(orgId: string) {
  return t.db.selectFrom('templates').select(['id', 'name', 'language', 'status', 'deleted_at', 'meta_template_id', 'updated_at']).where('org_id', '=', orgId).orderBy('name').execute();
}

describe('POST /v1/templates/sync', () => {
  it('syncs 2,500 templates across pages, and a second sync leaves the same rows untouched', async () => {
    const { org, number } = await unsyncedNumber();
    seedMeta(number.wabaId, Array.from({ length: 2_500 }, (_, i) => `bulk_${String(i).padStart(4, '0')}`));
    const callsBefore = sim.simulator.templates.calls();
    const first = await sync(org, number.wabaId);
    expect(first.statusCode, first.body).toBe(200);
    expect(first.json().data).toEqual([{ waba_id: number.wabaId, templates: 2_500, changed: 2_500, deleted: 0, ran: true, error: null }]);
    expect(sim.simulator.templates.calls() - callsBefore).toBe(25); // 100 per page
    const rows = await registry(org.orgId);
    const second = await sync(org, number.wabaId);
    expect(second.json().data).toEqual([{ waba_id: number.wabaId, templates: 2_500, changed: 0, deleted: 0, ran: true, error: null }]);
    expect(await registry(org.orgId)).toEqual(rows);
    expect(new Set(rows.map((r) => `${r.name}:${r.language}`)).size).toBe(2_500);
  });

  it('marks a template deleted at Meta, keeping the row a queued message references', async () => {
    const { org, number } = await unsyncedNumber();
    seedMeta(number.wabaId, ['keeper', 'short_lived']);
    expect((await sync(org, number.wabaId)).statusCode).toBe(200);
    const send = await app.inject({
      method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey),
      payload: { from_phone_number_id: number.phoneNumberId, to: `+${customerWaId()}`, type: 'template', template: { name: 'short_lived', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'x' }] }] } },
    });
    expect(send.statusCode, send.body).toBe(202);
    seedMeta(number.wabaId, ['keeper']);
    expect((await sync(org, number.wabaId)).json().data[0]).toMatchObject({ templates: 1, deleted: 1 });
    const rows = await registry(org.orgId);
    expect(rows.map((r) => [r.name, r.status, r.deleted_at !== null])).toEqual([['keeper', 'APPROVED', false], ['short_lived', 'DELETED', true]]);
    const message = await t.db.selectFrom('messages').select('status').where('id', '=', send.json().id).executeTakeFirstOrThrow();
    expect(message.status).toBe('queued');
    const shown = await app.inject({ method: 'GET', url: `/v1/templates/${rows[1]!.id}`, headers: bearer(org.apiKey) });
    expect(shown.json()).toMatchObject({ name: 'short_lived', status: 'DELETED', deleted_at: expect.any(String) });
  });

  it('lets agents read but not sync', async () => {
    const { org, number } = await unsyncedNumber();
    const { apiKey } = await createTestOperator(t.db, org.orgId, 'agent');
    const refused = await app.inject({ method: 'POST', url: '/v1/templates/sync', headers: bearer(apiKey), payload: { waba_id: number.wabaId } });
    expect(refused.json().error.code).toBe('forbidden');
    expect((await app.inject({ method: 'GET', url: '/v1/templates', headers: bearer(apiKey) })).statusCode).toBe(200);
  });
});

describe('POST /v1/messages on a WABA never synced', () => {
  it('syncs it once for 20 parallel first template sends, then queues them all', async () => {
    const { org, number } = await unsyncedNumber();
    seedMeta(number.wabaId, ['launch']);
    const callsBefore = sim.simulator.templates.calls();
    const answers = await Promise.all(Array.from({ length: 20 }, () => app.inject({
      method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey),
      payload: { from_phone_number_id: number.phoneNumberId, to: `+${customerWaId()}`, type: 'template', template: { name: 'launch', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'go' }] }] } },
    })));
    expect(answers.map((a) => a.statusCode)).toEqual(Array(20).fill(202));
    expect(sim.simulator.templates.calls() - callsBefore).toBe(1);
    expect((await registry(org.orgId)).map((r) => r.name)).toEqual(['launch']);
  });
});

describe('syncOrganizationTemplates', () => {
  it("backs off on Meta's rate-limit code 80007 and completes", async () => {
    const { org, number } = await unsyncedNumber();
    seedMeta(number.wabaId, ['after_backoff']);
    sim.simulator.templates.injectFailure(80007, 2);
    const [summary] = await syncOrganizationTemplates({ db: t.db, cipher: testCipher, graph, rateLimitBackoffMs: 5 }, org.orgId, number.wabaId);
    expect(summary).toMatchObject({ templates: 1, ran: true, error: null });
  });

  it('reports a WABA Meta keeps refusing with its error, and records it', async () => {
    const { org, number } = await unsyncedNumber();
    sim.simulator.templates.injectFailure(80007, 10);
    const [summary] = await syncOrganizationTemplates({ db: t.db, cipher: testCipher, graph, rateLimitBackoffMs: 1, rateLimitRetries: 2 }, org.orgId, number.wabaId);
    expect(summary).toMatchObject({ ran: false, error: expect.stringContaining('Rate limit') });
    sim.simulator.templates.reset();
  });
});

describe('syncAllTemplates (the worker schedule, TEMPLATE_SYNC_INTERVAL_MS)', () => {
  it('syncs every connected WABA not synced within the period, and none twice in one period', async () => {
    const { org, number } = await unsyncedNumber();
    seedMeta(number.wabaId, ['scheduled_one', 'scheduled_two']);
    const deps = { db: t.db, cipher: testCipher, graph, rateLimitBackoffMs: 1, rateLimitRetries: 0 };
    const first = await syncAllTemplates(deps, 3_600_000);
    expect(first.wabas).toBeGreaterThanOrEqual(1);
    expect((await registry(org.orgId)).map((r) => r.name)).toEqual(['scheduled_one', 'scheduled_two']);
    expect(await syncAllTemplates(deps, 3_600_000)).toEqual({ wabas: 0, changed: 0, failed: 0 });
  });
});

describe('wahub templates sync', () => {
  it('syncs the organization from Graph, with progress on stderr and a JSON summary', async () => {
    const { org, number } = await unsyncedNumber();
    seedMeta(number.wabaId, ['from_cli']);
    const result = await runWahub(['templates', 'sync', '--org', org.orgId, '--json'], { databaseUrl: t.url, extra: { GRAPH_API_BASE_URL: sim.url } });
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ data: [{ waba_id: number.wabaId, templates: 1, changed: 1, deleted: 0, ran: true, error: null }] });
    expect(result.stderr).toContain('fetched 1 templates');
    expect((await registry(org.orgId)).map((r) => r.name)).toEqual(['from_cli']);
  });
});
