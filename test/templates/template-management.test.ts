/**
 * Creating and deleting templates through Graph, against the simulator over HTTP: the hub listens,
 * the simulator answers `POST`/`DELETE /{waba_id}/message_templates` and posts the signed approval
 * webhook back. Meta's rules are checked before any Graph call; Meta's refusal stores nothing.
 */
import { type AddressInfo, createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GraphApiClient } from '../../src/providers/meta/graph.client.js';
import { startSimulatorServer, type SimulatorServer } from '../../src/simulator/server.js';
import { findConnectedWabas, upsertCreatedTemplate } from '../../src/templates/templates.repository.js';
import { bearer, customerWaId, waitFor } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestApp, createTestNumber, createTestOperator, createTestOrg, TEST_APP_SECRET, type TestNumber, type TestOrg } from '../helpers/factories.js';
import { postWebhook } from '../inbound/helpers.js';

let t: TestDatabase;
let sim: SimulatorServer;
let graph: GraphApiClient;
let app: FastifyInstance;

/** A port free right now (the hub listens on it after the simulator, which must know the hub's URL first, has started). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

beforeAll(async () => {
  t = await createTestDatabase();
  const hubPort = await freePort();
  sim = await startSimulatorServer({
    port: 0, webhookUrl: `http://127.0.0.1:${hubPort}/webhooks/whatsapp`, appSecret: TEST_APP_SECRET, statusWebhooks: false, templateApproveAfterMs: 300,
  });
  graph = new GraphApiClient({ baseUrl: sim.url, version: 'v24.0', timeoutMs: 10_000 });
  app = await createTestApp(t.db, { graph });
  await app.listen({ port: hubPort, host: '127.0.0.1' });
});

afterAll(async () => {
  // The simulator first: it waits for its in-flight webhooks, which need the hub still listening.
  await sim?.close();
  await app?.close();
  await graph?.close();
  await t?.drop();
});

/** An organization with a number whose WABA the simulator knows (the registry seeded with the test templates). */
async function setup(): Promise<{ org: TestOrg; number: TestNumber }> {
  const org = await createTestOrg(t.db);
  const number = await createTestNumber(t.db, org.orgId);
  sim.simulator.registerNumber(number.phoneNumberId, { waba_id: number.wabaId, display_phone_number: number.displayPhoneNumber, access_token: number.accessToken });
  return { org, number };
}

function shipping(where: Record<string, string>, name = 'shipping_update') {
  return {
    ...where, name, language: 'en_US', category: 'UTILITY',
    components: [
      { type: 'HEADER', format: 'TEXT', text: 'Your order' },
      { type: 'BODY', text: 'Order {{1}} ships on {{2}}.', example: { body_text: [['A-17', 'Monday']] } },
      { type: 'FOOTER', text: 'Reply STOP to opt out' },
      { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Track it' }, { type: 'URL', text: 'Open', url: 'https://shop.example.test/o/{{1}}', example: ['https://shop.example.test/o/A-17'] }] },
    ],
  };
}

function create(org: { apiKey: string }, payload: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: '/v1/templates', headers: bearer(org.apiKey), payload });
}

async function rows(orgId: string, name: string) {
  return t.db.selectFrom('templates').selectAll().where('org_id', '=', orgId).where('name', '=', name).execute();
}

function sendTemplate(org: TestOrg, number: TestNumber, name: string) {
  return app.inject({
    method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey),
    payload: {
      from_phone_number_id: number.phoneNumberId, to: `+${customerWaId()}`, type: 'template',
      template: { name, language: { code: 'en_US' }, components: [
        { type: 'body', parameters: [{ type: 'text', text: 'A-17' }, { type: 'text', text: 'Monday' }] },
        { type: 'button', sub_type: 'url', index: 1, parameters: [{ type: 'text', text: 'A-17' }] },
      ] },
    },
  });
}

describe('POST /v1/templates', () => {
  it('creates a template at Meta (PENDING), which the approval webhook makes usable in a send', async () => {
    const { org, number } = await setup();
    const created = await create(org, shipping({ waba_id: number.wabaId }));
    expect(created.statusCode, created.body).toBe(201);
    const body = created.json();
    expect(body).toMatchObject({ waba_id: number.wabaId, name: 'shipping_update', language: 'en_US', status: 'PENDING', category: 'UTILITY', parameter_format: 'positional', deleted_at: null });
    expect(body.meta_template_id).toMatch(/^[0-9]+$/);
    expect(sim.simulator.templates.list(number.wabaId).map((x) => x.name)).toEqual(['shipping_update']);
    const early = await sendTemplate(org, number, 'shipping_update'); // Meta approves after 300 ms
    expect(early.statusCode, early.body).toBe(422);
    expect(early.json().error.code).toBe('template_not_approved');
    await waitFor(async () => (await rows(org.orgId, 'shipping_update'))[0]?.status === 'APPROVED', 'the approval webhook');
    const [row] = await rows(org.orgId, 'shipping_update');
    expect(row).toMatchObject({ id: body.id, meta_template_id: body.meta_template_id });
    const send = await sendTemplate(org, number, 'shipping_update');
    expect(send.statusCode, send.body).toBe(202);
  });

  it('finds the WABA through phone_number_id', async () => {
    const { org, number } = await setup();
    const created = await create(org, shipping({ phone_number_id: number.phoneNumberId }, 'by_number'));
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ waba_id: number.wabaId, name: 'by_number', status: 'PENDING' });
  });

  it("refuses what breaks Meta's rules with every problem, storing nothing and calling no Graph API", async () => {
    const { org, number } = await setup();
    const calls = sim.simulator.templates.calls();
    const bad = {
      waba_id: number.wabaId, name: 'Bad-Name', language: 'english', category: 'UTILITY',
      components: [
        { type: 'HEADER', format: 'TEXT', text: 'x'.repeat(61) },
        { type: 'FOOTER', text: 'y'.repeat(61) },
        { type: 'FOOTER', text: 'twice' },
        { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'a', url: 'https://a.test' }, { type: 'URL', text: 'b', url: 'https://b.test' }, { type: 'URL', text: 'c', url: 'https://c.test' }] },
      ],
    };
    const refused = await create(org, bad);
    expect(refused.statusCode, refused.body).toBe(400);
    expect(refused.json().error.code).toBe('validation_failed');
    const messages = (refused.json().error.details as Array<{ path: string; message: string }>).map((d) => `${d.path}: ${d.message}`);
    expect(messages).toEqual(expect.arrayContaining([
      expect.stringMatching(/^name: /), expect.stringMatching(/^language: /),
      'components.0.text: header text is at most 60 characters', 'components.1.text: footer text is at most 60 characters',
      'components.2.type: at most one FOOTER component', 'components.3.buttons: at most 2 URL buttons', 'components: a BODY component is required',
    ]));
    const noExample = await create(org, { ...shipping({ waba_id: number.wabaId }, 'no_example'), components: [{ type: 'BODY', text: 'Hi {{1}}' }] });
    expect(noExample.statusCode).toBe(400);
    expect(noExample.json().error.details[0].path).toBe('components.0.example');
    const longBody = await create(org, { ...shipping({ waba_id: number.wabaId }, 'long_body'), components: [{ type: 'BODY', text: 'z'.repeat(1025) }] });
    expect(longBody.json().error.details).toEqual([{ path: 'components.0.text', message: 'body text is at most 1024 characters' }]);
    expect(sim.simulator.templates.calls()).toBe(calls);
    expect(await t.db.selectFrom('templates').select('name').where('org_id', '=', org.orgId).where('name', 'in', ['no_example', 'long_body']).execute()).toEqual([]);
  });

  it('admits an authentication template as Meta writes it (no body text, one OTP button) and refuses other buttons on one', async () => {
    const { org, number } = await setup();
    const otp = {
      waba_id: number.wabaId, name: 'login_otp', language: 'en_US', category: 'AUTHENTICATION',
      components: [
        { type: 'BODY', add_security_recommendation: true },
        { type: 'FOOTER', code_expiration_minutes: 10 },
        { type: 'BUTTONS', buttons: [{ type: 'OTP', otp_type: 'COPY_CODE' }] },
      ],
    };
    const created = await create(org, otp);
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ category: 'AUTHENTICATION', status: 'PENDING' });
    const refused = await create(org, { ...otp, name: 'login_otp_quick', components: [otp.components[0], { type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Hi' }] }] });
    expect(refused.json().error.details).toEqual([{ path: 'components.1.buttons', message: 'an AUTHENTICATION template has exactly one OTP button' }]);
  });

  it("answers Meta's refusal with 422 template_rejected_by_meta and Meta's code, storing nothing", async () => {
    const { org, number } = await setup();
    const inject = await fetch(`${sim.url}/_simulator/template-failures`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 100, count: 1 }) });
    expect(inject.status).toBe(200);
    const refused = await create(org, shipping({ waba_id: number.wabaId }, 'refused_one'));
    expect(refused.statusCode, refused.body).toBe(422);
    expect(refused.json().error).toMatchObject({ code: 'template_rejected_by_meta', details: { meta_code: 100 } });
    expect(refused.json().error.message).toMatch(/code 100/);
    expect(await rows(org.orgId, 'refused_one')).toEqual([]);
    // A duplicate (same name and language) is refused by Meta too.
    expect((await create(org, shipping({ waba_id: number.wabaId }, 'twice_made'))).statusCode).toBe(201);
    const again = await create(org, shipping({ waba_id: number.wabaId }, 'twice_made'));
    expect(again.statusCode, again.body).toBe(422);
    expect(await rows(org.orgId, 'twice_made')).toHaveLength(1);
  });

  it('refuses an agent with 403 before looking at the body, and another organization\'s WABA with 404', async () => {
    const { org, number } = await setup();
    const agent = await createTestOperator(t.db, org.orgId, 'agent');
    const calls = sim.simulator.templates.calls();
    const refused = await create(agent, shipping({ waba_id: number.wabaId }, 'by_agent'));
    expect(refused.statusCode, refused.body).toBe(403);
    expect(refused.json().error.code).toBe('forbidden');
    expect((await create(agent, { nonsense: true })).statusCode).toBe(403);
    const other = await setup();
    const foreign = await create(org, shipping({ waba_id: other.number.wabaId }, 'foreign'));
    expect(foreign.statusCode).toBe(404);
    expect(sim.simulator.templates.calls()).toBe(calls);
  });
});

describe('upsertCreatedTemplate', () => {
  it("keeps the status of Meta's approval webhook that landed before the create was stored", async () => {
    const { org, number } = await setup();
    const change = { event: 'APPROVED', message_template_id: 612345678901234, message_template_name: 'fast_approval', message_template_language: 'en_US', reason: 'NONE' };
    const webhook = JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: number.wabaId, time: 1767269800, changes: [{ field: 'message_template_status_update', value: change }] }] });
    expect((await postWebhook(app, webhook)).statusCode).toBe(200);
    const [waba] = await findConnectedWabas(t.db, org.orgId, { wabaId: number.wabaId });
    await t.db.transaction().execute((tx) => upsertCreatedTemplate(tx, org.orgId, waba!.id, {
      metaTemplateId: '612345678901234', name: 'fast_approval', language: 'en_US', status: 'PENDING', category: 'UTILITY', parameterFormat: 'positional',
      components: [{ type: 'BODY', text: 'Fast.' }],
    }));
    expect((await rows(org.orgId, 'fast_approval'))[0]).toMatchObject({ status: 'APPROVED', components: [{ type: 'BODY', text: 'Fast.' }] });
  });
});

describe('DELETE /v1/templates/{id}', () => {
  it('deletes at Meta and marks the row DELETED, keeping it; a second delete answers 204 without Graph', async () => {
    const { org, number } = await setup();
    const created = await create(org, shipping({ waba_id: number.wabaId }, 'to_delete'));
    expect(created.statusCode, created.body).toBe(201);
    const id = created.json().id as string;
    const deleted = await app.inject({ method: 'DELETE', url: `/v1/templates/${id}`, headers: bearer(org.apiKey) });
    expect(deleted.statusCode, deleted.body).toBe(204);
    expect(sim.simulator.templates.list(number.wabaId).map((x) => x.name)).toEqual([]);
    const [row] = await rows(org.orgId, 'to_delete');
    expect(row).toMatchObject({ id, status: 'DELETED' });
    expect(row!.deleted_at).toBeInstanceOf(Date);
    const calls = sim.simulator.templates.calls();
    expect((await app.inject({ method: 'DELETE', url: `/v1/templates/${id}`, headers: bearer(org.apiKey) })).statusCode).toBe(204);
    expect(sim.simulator.templates.calls()).toBe(calls);
    const send = await sendTemplate(org, number, 'to_delete');
    expect(send.statusCode).toBe(422);
  });

  it("answers 404 for another organization's template and 403 to an agent, deleting nothing", async () => {
    const { org, number } = await setup();
    const created = await create(org, shipping({ waba_id: number.wabaId }, 'kept_template'));
    const id = created.json().id as string;
    const other = await setup();
    const foreign = await app.inject({ method: 'DELETE', url: `/v1/templates/${id}`, headers: bearer(other.org.apiKey) });
    expect(foreign.statusCode).toBe(404);
    expect(foreign.json().error.code).toBe('not_found');
    const agent = await createTestOperator(t.db, org.orgId, 'agent');
    const refused = await app.inject({ method: 'DELETE', url: `/v1/templates/${id}`, headers: bearer(agent.apiKey) });
    expect(refused.statusCode).toBe(403);
    expect((await rows(org.orgId, 'kept_template'))[0]).toMatchObject({ deleted_at: null });
    expect(sim.simulator.templates.list(number.wabaId).map((x) => x.name)).toEqual(['kept_template']);
  });

  it("answers Meta's refusal with 422 and leaves the row as it was", async () => {
    const { org, number } = await setup();
    const id = (await create(org, shipping({ waba_id: number.wabaId }, 'refuse_delete'))).json().id as string;
    await fetch(`${sim.url}/_simulator/template-failures`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code: 100, count: 1 }) });
    const refused = await app.inject({ method: 'DELETE', url: `/v1/templates/${id}`, headers: bearer(org.apiKey) });
    expect(refused.statusCode, refused.body).toBe(422);
    expect(refused.json().error.code).toBe('template_rejected_by_meta');
    expect((await rows(org.orgId, 'refuse_delete'))[0]).toMatchObject({ deleted_at: null });
  });
});
