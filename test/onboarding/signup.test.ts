/**
 * Embedded Signup end to end (PROTOCOL.md §5, SPEC §4 Onboarding): the API on a real database, the
 * Graph calls over real HTTP to the simulator (code exchange, debug_token, phone numbers,
 * subscribed_apps, register), and a message sent afterwards through the dispatcher with the token
 * the signup stored.
 */
import { seedTemplates } from '../helpers/templates.js';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Dispatcher } from '../../src/outbound/dispatcher.js';
import { GraphApiClient } from '../../src/providers/meta/graph.client.js';
import { bearer, customerWaId, waitFor } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  createTestApp, createTestNumber, createTestOperator, createTestOrg, silentLogger, testCipher, uniqueDigits, type TestOrg,
} from '../helpers/factories.js';
import { accountUpdateWebhook, completeSignup, type Hub, issueCode, postWebhook, type SimNumber, simNumbers, startHub, startSignup } from './helpers.js';

let t: TestDatabase;
let hub: Hub;

beforeAll(async () => {
  t = await createTestDatabase();
  hub = await startHub(t.db);
});

afterAll(async () => {
  await hub?.close();
  await t?.drop();
});

async function numbersOf(orgId: string) {
  return t.db.selectFrom('phone_numbers').selectAll().where('org_id', '=', orgId).orderBy('phone_number_id').execute();
}

async function rowsForWaba(wabaId: string) {
  const wabas = await t.db.selectFrom('wabas').selectAll().where('waba_id', '=', wabaId).execute();
  const numbers = wabas.length === 0 ? [] : await t.db.selectFrom('phone_numbers').selectAll().where('waba_ref', 'in', wabas.map((w) => w.id)).execute();
  return { wabas, numbers };
}

/** A signup of a fresh WABA with `count` numbers, completed by `org`; returns ids and the response body. */
async function signUp(org: TestOrg, options: { count?: number; businessId?: string; pin?: string; wabaId?: string } = {}) {
  const wabaId = options.wabaId ?? uniqueDigits();
  const numbers = simNumbers(options.count ?? 2);
  const code = await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: numbers });
  const state = await startSignup(hub.app, org.apiKey);
  const response = await completeSignup(hub.app, org.apiKey, {
    code, state, ...(options.businessId ? { business_id: options.businessId } : {}), ...(options.pin ? { pin: options.pin } : {}),
  });
  expect(response.statusCode, response.body).toBe(201);
  return { wabaId, numbers, body: response.json() };
}

describe('POST /v1/whatsapp/signup/start', () => {
  it('returns a state and the JS SDK config, and stores only the state\'s hash bound to the organization and operator', async () => {
    const org = await createTestOrg(t.db);
    const before = Date.now();
    const response = await hub.app.inject({ method: 'POST', url: '/v1/whatsapp/signup/start', headers: bearer(org.apiKey) });

    expect(response.statusCode).toBe(201);
    const body = response.json();
    expect(body).toMatchObject({
      app_id: 'test-app', config_id: 'test-config', graph_api_version: 'v24.0',
      login_options: { config_id: 'test-config', response_type: 'code', override_default_response_type: true, extras: { setup: {} } },
    });
    expect(body.state).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const expiresIn = Date.parse(body.expires_at) - before;
    expect(expiresIn).toBeGreaterThan(9 * 60_000);
    expect(expiresIn).toBeLessThanOrEqual(10 * 60_000 + 5_000);

    const rows = await t.db.selectFrom('oauth_states').selectAll().where('org_id', '=', org.orgId).execute();
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ operator_id: org.operatorId, consumed_at: null, state_hash: createHash('sha256').update(body.state).digest('hex') });
  });

  it('lets an admin start a signup and forbids an agent', async () => {
    const org = await createTestOrg(t.db);
    const admin = await createTestOperator(t.db, org.orgId, 'admin');
    const agent = await createTestOperator(t.db, org.orgId, 'agent');

    expect((await hub.app.inject({ method: 'POST', url: '/v1/whatsapp/signup/start', headers: bearer(admin.apiKey) })).statusCode).toBe(201);
    const forbidden = await hub.app.inject({ method: 'POST', url: '/v1/whatsapp/signup/start', headers: bearer(agent.apiKey) });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().error.code).toBe('forbidden');
    const states = await t.db.selectFrom('oauth_states').select('operator_id').where('org_id', '=', org.orgId).execute();
    expect(states.map((s) => s.operator_id)).toEqual([admin.operatorId]);
  });

  it('requires an API key', async () => {
    expect((await hub.app.inject({ method: 'POST', url: '/v1/whatsapp/signup/start' })).statusCode).toBe(401);
  });
});

describe('POST /v1/whatsapp/signup/complete', () => {
  it('connects a WABA with two numbers: encrypted token, registered, WABA with its owner business, access for the operator, app subscribed', async () => {
    const org = await createTestOrg(t.db);
    const businessId = uniqueDigits();
    const { wabaId, numbers, body } = await signUp(org, { businessId });

    const sorted = [...numbers].sort((a, b) => a.id.localeCompare(b.id));
    expect(body.pin).toMatch(/^\d{6}$/);
    expect(body.wabas).toHaveLength(1);
    expect(body.wabas[0].waba_id).toBe(wabaId);
    expect(body.wabas[0].phone_numbers.map((n: { phone_number_id: string }) => n.phone_number_id).sort()).toEqual(sorted.map((n) => n.id));
    expect(body.wabas[0].phone_numbers.every((n: { created: boolean }) => n.created)).toBe(true);
    expect(JSON.stringify(body)).not.toMatch(/EAA/);

    const waba = await t.db.selectFrom('wabas').selectAll().where('waba_id', '=', wabaId).executeTakeFirstOrThrow();
    expect(waba).toMatchObject({ org_id: org.orgId, owner_business_id: businessId, disconnected_at: null });
    const rows = await numbersOf(org.orgId);
    expect(rows.map((r) => [r.phone_number_id, r.display_phone_number, r.e164, r.status, r.waba_ref])).toEqual(
      sorted.map((n) => [n.id, n.display_phone_number, `+${n.display_phone_number}`, 'active', waba.id]),
    );
    expect(body.wabas[0].phone_numbers.map((n: { id: string }) => n.id).sort()).toEqual(rows.map((r) => r.id).sort());
    for (const row of rows) {
      expect(row.registered_at).toBeInstanceOf(Date);
      expect(row.verified_name).toBe('Simulated Business');
      expect(row.quality_rating).toBe('GREEN');
      expect(row.access_token_key_id).toBe('test1');
      expect(row.access_token_ciphertext).not.toMatch(/^EAA/);
      // Both numbers carry the one business token of the signup, encrypted separately.
      expect(testCipher.decrypt({ ciphertext: row.access_token_ciphertext!, keyId: 'test1' })).toMatch(/^EAAsim/);
    }
    expect(rows[0]!.access_token_ciphertext).not.toBe(rows[1]!.access_token_ciphertext);
    expect(testCipher.decrypt({ ciphertext: rows[0]!.access_token_ciphertext!, keyId: 'test1' }))
      .toBe(testCipher.decrypt({ ciphertext: rows[1]!.access_token_ciphertext!, keyId: 'test1' }));

    const access = await t.db.selectFrom('waba_access').selectAll().where('waba_ref', '=', waba.id).execute();
    expect(access).toEqual([expect.objectContaining({ org_id: org.orgId, operator_id: org.operatorId })]);
    expect(hub.sim.simulator.subscribedWabas()).toContain(wabaId);
    const state = await t.db.selectFrom('oauth_states').select('consumed_at').where('org_id', '=', org.orgId).executeTakeFirstOrThrow();
    expect(state.consumed_at).toBeInstanceOf(Date);

    const listed = await hub.app.inject({ method: 'GET', url: '/v1/phone-numbers', headers: bearer(org.apiKey) });
    expect(listed.statusCode).toBe(200);
    expect(listed.json().data.map((n: { phone_number_id: string; waba_id: string }) => [n.phone_number_id, n.waba_id])).toEqual(sorted.map((n) => [n.id, wabaId]));
    // token_expires_at is the one field that may say "token": the expiry, never the token.
    expect(listed.body.replaceAll('"token_expires_at"', '')).not.toMatch(/token|ciphertext/);
  });

  it("syncs the new WABA's templates from Graph", async () => {
    const org = await createTestOrg(t.db);
    const wabaId = uniqueDigits();
    hub.sim.simulator.templates.seed(wabaId, [{ name: 'welcome', language: 'en_US', status: 'APPROVED', category: 'UTILITY', components: [{ type: 'BODY', text: 'Welcome!' }] }]);
    await signUp(org, { wabaId });
    const rows = await t.db.selectFrom('templates').select(['name', 'status']).where('org_id', '=', org.orgId).execute();
    expect(rows).toEqual([{ name: 'welcome', status: 'APPROVED' }]);
  });

  it('leaves the numbers registered with the business token: the dispatcher sends from each of them', async () => {
    const org = await createTestOrg(t.db);
    const { numbers, wabaId } = await signUp(org);
    await seedTemplates(t.db, org.orgId, wabaId);
    const dispatcher = new Dispatcher({
      db: t.db, cipher: testCipher, graph: hub.graph, logger: silentLogger, leaseTtlMs: 60_000, batchSize: 10, pollIntervalMs: 20, maxAttempts: 3, retryBaseMs: 10,
    });
    const ids: string[] = [];
    for (const number of numbers) {
      const response = await hub.app.inject({
        method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey),
        payload: { from_phone_number_id: number.id, to: `+${customerWaId()}`, type: 'template', template: { name: 'welcome', language: { code: 'en_US' } } },
      });
      expect(response.statusCode, response.body).toBe(202);
      ids.push(response.json().id);
    }

    await waitFor(async () => {
      await dispatcher.runOnce();
      const rows = await t.db.selectFrom('messages').select(['provider_message_id', 'status']).where('id', 'in', ids).execute();
      return rows.every((row) => row.provider_message_id !== null) && rows;
    }, 'both messages accepted by the simulator');

    const sends = hub.sim.simulator.sends();
    for (const number of numbers) expect(sends.filter((s) => s.phone_number_id === number.id)).toHaveLength(1);
    const outbox = await t.db.selectFrom('message_outbox').select('state').where('message_id', 'in', ids).execute();
    expect(outbox.map((o) => o.state)).toEqual(['done', 'done']);
  });

  it('stores the token expiry debug_token reports and shows it in GET /v1/phone-numbers', async () => {
    const org = await createTestOrg(t.db);
    const wabaId = uniqueDigits();
    const numbers = simNumbers(1);
    const code = await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: numbers, token_expires_in_s: 60 * 24 * 3600 });
    const state = await startSignup(hub.app, org.apiKey);
    const before = Date.now();

    expect((await completeSignup(hub.app, org.apiKey, { code, state })).statusCode).toBe(201);

    const listed = (await hub.app.inject({ method: 'GET', url: '/v1/phone-numbers', headers: bearer(org.apiKey) })).json<{ data: Array<{ phone_number_id: string; token_expires_at: string | null }> }>();
    const expiresAt = Date.parse(listed.data.find((n) => n.phone_number_id === numbers[0]!.id)!.token_expires_at!);
    expect(expiresAt - before).toBeGreaterThan(59 * 24 * 3600_000);
    expect(expiresAt - before).toBeLessThanOrEqual(60 * 24 * 3600_000 + 5_000);
  });

  it('answers signup_code_expired for a code older than its lifetime and saves nothing', async () => {
    const org = await createTestOrg(t.db);
    const wabaId = uniqueDigits();
    const code = await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: simNumbers(1), ttl_ms: 1 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    const state = await startSignup(hub.app, org.apiKey);

    const response = await completeSignup(hub.app, org.apiKey, { code, state });

    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('signup_code_expired');
    expect(await rowsForWaba(wabaId)).toEqual({ wabas: [], numbers: [] });
    expect(hub.sim.simulator.subscribedWabas()).not.toContain(wabaId);
  });

  it('answers signup_code_used when a code is exchanged a second time, and keeps the first connection as it was', async () => {
    const org = await createTestOrg(t.db);
    const wabaId = uniqueDigits();
    const code = await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: simNumbers(1) });
    const first = await completeSignup(hub.app, org.apiKey, { code, state: await startSignup(hub.app, org.apiKey) });
    expect(first.statusCode, first.body).toBe(201);
    const before = await rowsForWaba(wabaId);

    const second = await completeSignup(hub.app, org.apiKey, { code, state: await startSignup(hub.app, org.apiKey) });

    expect(second.statusCode).toBe(400);
    expect(second.json().error.code).toBe('signup_code_used');
    expect(await rowsForWaba(wabaId)).toEqual(before);
  });

  it('refuses a state of another organization with invalid_oauth_state, saves nothing and leaves that state usable by its owner', async () => {
    const orgA = await createTestOrg(t.db);
    const orgB = await createTestOrg(t.db);
    const wabaId = uniqueDigits();
    const code = await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: simNumbers(2) });
    const stateOfB = await startSignup(hub.app, orgB.apiKey);

    const response = await completeSignup(hub.app, orgA.apiKey, { code, state: stateOfB });

    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('invalid_oauth_state');
    expect(await rowsForWaba(wabaId)).toEqual({ wabas: [], numbers: [] });
    expect(await numbersOf(orgA.orgId)).toEqual([]);
    // The refused attempt neither consumed B's state nor exchanged the code.
    const owner = await completeSignup(hub.app, orgB.apiKey, { code, state: stateOfB });
    expect(owner.statusCode, owner.body).toBe(201);
    expect((await numbersOf(orgB.orgId)).map((n) => n.org_id)).toEqual([orgB.orgId, orgB.orgId]);
  });

  it('refuses a state another operator of the same organization started, saves nothing and leaves it usable by that operator', async () => {
    const org = await createTestOrg(t.db);
    const admin = await createTestOperator(t.db, org.orgId, 'admin');
    const wabaId = uniqueDigits();
    const code = await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: simNumbers(1) });
    const stateOfOwner = await startSignup(hub.app, org.apiKey);

    const response = await completeSignup(hub.app, admin.apiKey, { code, state: stateOfOwner });

    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'invalid_oauth_state', message: expect.stringContaining('another operator') });
    expect(await rowsForWaba(wabaId)).toEqual({ wabas: [], numbers: [] });
    const owner = await completeSignup(hub.app, org.apiKey, { code, state: stateOfOwner });
    expect(owner.statusCode, owner.body).toBe(201);
  });

  it('refuses a state used before, an unknown state and an expired state with invalid_oauth_state', async () => {
    const org = await createTestOrg(t.db);
    const state = await startSignup(hub.app, org.apiKey);
    const first = await completeSignup(hub.app, org.apiKey, { code: await issueCode(hub.sim, { waba_id: uniqueDigits(), phone_numbers: simNumbers(1) }), state });
    expect(first.statusCode, first.body).toBe(201);

    const attempts = {
      reused: state,
      unknown: 'bm90LWEtc3RhdGUtd2FodWItZXZlci1pc3N1ZWQ',
      expired: await startSignup(hub.app, org.apiKey),
    };
    await t.db.updateTable('oauth_states')
      .set({ created_at: new Date(Date.now() - 20 * 60_000), expires_at: new Date(Date.now() - 10 * 60_000) })
      .where('state_hash', '=', createHash('sha256').update(attempts.expired).digest('hex'))
      .execute();

    for (const [what, candidate] of Object.entries(attempts)) {
      const wabaId = uniqueDigits();
      const response = await completeSignup(hub.app, org.apiKey, { code: await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: simNumbers(1) }), state: candidate });
      expect(response.statusCode, what).toBe(400);
      expect(response.json().error.code, what).toBe('invalid_oauth_state');
      expect(await rowsForWaba(wabaId), what).toEqual({ wabas: [], numbers: [] });
    }
  });

  it('uses a state once even when two completions race for it', async () => {
    const org = await createTestOrg(t.db);
    const state = await startSignup(hub.app, org.apiKey);
    const grants = [uniqueDigits(), uniqueDigits()];
    const codes = await Promise.all(grants.map((wabaId) => issueCode(hub.sim, { waba_id: wabaId, phone_numbers: simNumbers(1) })));

    const responses = await Promise.all(codes.map((code) => completeSignup(hub.app, org.apiKey, { code, state })));

    expect(responses.map((r) => r.statusCode).sort()).toEqual([201, 400]);
    expect(responses.find((r) => r.statusCode === 400)!.json().error.code).toBe('invalid_oauth_state');
    expect(await numbersOf(org.orgId)).toHaveLength(1);
  });

  it('answers waba_not_granted for a waba_id the customer did not share, without subscribing or saving', async () => {
    const org = await createTestOrg(t.db);
    const granted = uniqueDigits();
    const other = uniqueDigits();
    const code = await issueCode(hub.sim, { waba_id: granted, phone_numbers: simNumbers(1) });

    const response = await completeSignup(hub.app, org.apiKey, { code, state: await startSignup(hub.app, org.apiKey), waba_id: other });

    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('waba_not_granted');
    expect(await numbersOf(org.orgId)).toEqual([]);
    expect(hub.sim.simulator.subscribedWabas()).not.toContain(other);
    expect(hub.sim.simulator.subscribedWabas()).not.toContain(granted);
  });

  it('connects and registers only the number named by phone_number_id', async () => {
    const org = await createTestOrg(t.db);
    const wabaId = uniqueDigits();
    const [skipped, wanted] = simNumbers(2) as [SimNumber, SimNumber];
    const code = await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: [skipped, wanted] });

    const response = await completeSignup(hub.app, org.apiKey, { code, state: await startSignup(hub.app, org.apiKey), phone_number_id: wanted.id, waba_id: wabaId, pin: '123456' });

    expect(response.statusCode, response.body).toBe(201);
    expect(response.json().wabas[0].phone_numbers.map((n: { phone_number_id: string }) => n.phone_number_id)).toEqual([wanted.id]);
    expect((await numbersOf(org.orgId)).map((n) => n.phone_number_id)).toEqual([wanted.id]);
    // The other number was never registered: a later signup may set any PIN on it.
    const later = await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: [skipped, wanted] });
    const second = await completeSignup(hub.app, org.apiKey, { code: later, state: await startSignup(hub.app, org.apiKey), phone_number_id: skipped.id, pin: '654321' });
    expect(second.statusCode, second.body).toBe(201);
    expect((await numbersOf(org.orgId)).map((n) => n.phone_number_id).sort()).toEqual([skipped.id, wanted.id].sort());
  });

  it('answers waba_not_granted when phone_number_id is not in the shared WABA', async () => {
    const org = await createTestOrg(t.db);
    const code = await issueCode(hub.sim, { waba_id: uniqueDigits(), phone_numbers: simNumbers(1) });

    const response = await completeSignup(hub.app, org.apiKey, { code, state: await startSignup(hub.app, org.apiKey), phone_number_id: uniqueDigits() });

    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('waba_not_granted');
    expect(await numbersOf(org.orgId)).toEqual([]);
  });

  it('returns a generated PIN once; a later signup of the number with another PIN is refused with pin_mismatch and changes nothing', async () => {
    const org = await createTestOrg(t.db);
    const { wabaId, numbers, body } = await signUp(org, { count: 1 });
    const pin = body.pin as string;
    expect(pin).toMatch(/^\d{6}$/);
    const before = await rowsForWaba(wabaId);
    const otherPin = pin === '000000' ? '111111' : '000000';

    const mismatch = await completeSignup(hub.app, org.apiKey, {
      code: await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: numbers }), state: await startSignup(hub.app, org.apiKey), pin: otherPin,
    });
    expect(mismatch.statusCode).toBe(409);
    expect(mismatch.json().error.code).toBe('pin_mismatch');
    expect(await rowsForWaba(wabaId)).toEqual(before);

    const same = await completeSignup(hub.app, org.apiKey, {
      code: await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: numbers }), state: await startSignup(hub.app, org.apiKey), pin,
    });
    expect(same.statusCode, same.body).toBe(201);
    // An explicit PIN is the caller's own: it is not echoed.
    expect(same.json().pin).toBeNull();
  });

  it('reconnecting the same WABA through a new signup updates the token and business id, keeps the rows and never changes the owner', async () => {
    const orgA = await createTestOrg(t.db);
    const orgB = await createTestOrg(t.db);
    const { wabaId, numbers, body } = await signUp(orgA, { businessId: '700000000000001' });
    const before = await rowsForWaba(wabaId);
    const tokenBefore = testCipher.decrypt({ ciphertext: before.numbers[0]!.access_token_ciphertext!, keyId: 'test1' });

    const again = await completeSignup(hub.app, orgA.apiKey, {
      code: await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: numbers }), state: await startSignup(hub.app, orgA.apiKey),
      pin: body.pin, business_id: '700000000000002',
    });
    expect(again.statusCode, again.body).toBe(201);
    expect(again.json().wabas[0].phone_numbers.every((n: { created: boolean }) => !n.created)).toBe(true);

    const after = await rowsForWaba(wabaId);
    expect(after.wabas.map((w) => [w.id, w.org_id, w.owner_business_id])).toEqual([[before.wabas[0]!.id, orgA.orgId, '700000000000002']]);
    expect(after.numbers.map((n) => [n.id, n.org_id, n.status]).sort()).toEqual(before.numbers.map((n) => [n.id, orgA.orgId, 'active']).sort());
    for (const row of after.numbers) {
      const token = testCipher.decrypt({ ciphertext: row.access_token_ciphertext!, keyId: 'test1' });
      expect(token).toMatch(/^EAAsim/);
      expect(token).not.toBe(tokenBefore);
    }
    expect(await t.db.selectFrom('waba_access').selectAll().where('waba_ref', '=', before.wabas[0]!.id).execute()).toHaveLength(1);

    // Another organization completing a signup of the same WABA does not take it over.
    const takeover = await completeSignup(hub.app, orgB.apiKey, {
      code: await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: numbers }), state: await startSignup(hub.app, orgB.apiKey), pin: body.pin,
    });
    expect(takeover.statusCode).toBe(409);
    expect(takeover.json().error.code).toBe('conflict');
    const final = await rowsForWaba(wabaId);
    expect(final.wabas.map((w) => w.org_id)).toEqual([orgA.orgId]);
    expect(final.numbers.map((n) => n.org_id)).toEqual([orgA.orgId, orgA.orgId]);
    expect(await numbersOf(orgB.orgId)).toEqual([]);
  });

  it('answers 409 conflict naming the number another organization holds, and rolls back the numbers saved before it', async () => {
    const holder = await createTestOrg(t.db);
    const org = await createTestOrg(t.db);
    const [free, held] = simNumbers(2) as [SimNumber, SimNumber];
    await createTestNumber(t.db, holder.orgId, { phoneNumberId: held.id });
    const wabaId = uniqueDigits();
    const code = await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: [free, held] });

    const response = await completeSignup(hub.app, org.apiKey, { code, state: await startSignup(hub.app, org.apiKey) });

    expect(response.statusCode).toBe(409);
    expect(response.json().error).toMatchObject({ code: 'conflict', details: { constraint: 'phone_numbers_connected_phone_number_id_key' } });
    expect(response.json().error.message).toContain(held.id);
    expect(await numbersOf(org.orgId)).toEqual([]);
    expect(await rowsForWaba(wabaId)).toEqual({ wabas: [], numbers: [] });
  });

  it('takes over a WABA that a PARTNER_ADDED linked to another organization (a token-less link)', async () => {
    const customer = await createTestOrg(t.db);
    const other = await createTestOrg(t.db);
    const wabaId = uniqueDigits();
    const code = await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: simNumbers(1) });
    // Earlier cases left signup states pending; only the other organization's may be.
    await t.db.updateTable('oauth_states').set({ created_at: new Date(Date.now() - 1_200_000), expires_at: new Date(Date.now() - 600_000) }).execute();
    await startSignup(hub.app, other.apiKey);
    await postWebhook(hub.app, accountUpdateWebhook({ event: 'PARTNER_ADDED', waba_info: { waba_id: wabaId, owner_business_id: '300000000000777' } }));
    expect((await rowsForWaba(wabaId)).wabas.map((w) => [w.org_id, w.disconnected_at])).toEqual([[other.orgId, null]]);
    const state = await startSignup(hub.app, customer.apiKey);

    const response = await completeSignup(hub.app, customer.apiKey, { code, state });

    expect(response.statusCode, response.body).toBe(201);
    const { wabas, numbers } = await rowsForWaba(wabaId);
    const connected = wabas.filter((w) => w.disconnected_at === null);
    expect(connected.map((w) => w.org_id)).toEqual([customer.orgId]);
    expect(numbers.map((n) => [n.org_id, n.status])).toEqual([[customer.orgId, 'active']]);
  });

  it('answers 502 provider_error when Meta cannot be reached, and saves nothing', async () => {
    const unreachable = new GraphApiClient({ baseUrl: 'http://127.0.0.1:9', version: 'v24.0', timeoutMs: 1000 });
    const offline = await createTestApp(t.db, { graph: unreachable });
    try {
      const org = await createTestOrg(t.db);
      const state = await startSignup(offline, org.apiKey);

      const response = await completeSignup(offline, org.apiKey, { code: 'simcode-anything', state });

      expect(response.statusCode).toBe(502);
      expect(response.json().error).toMatchObject({ code: 'provider_error', details: { step: 'code exchange', code: null } });
      expect(await numbersOf(org.orgId)).toEqual([]);
    } finally {
      await offline.close();
      await unreachable.close();
    }
  });

  it('forbids an agent and validates the body', async () => {
    const org = await createTestOrg(t.db);
    const agent = await createTestOperator(t.db, org.orgId, 'agent');
    const state = await startSignup(hub.app, org.apiKey);
    const code = await issueCode(hub.sim, { waba_id: uniqueDigits(), phone_numbers: simNumbers(1) });

    const forbidden = await completeSignup(hub.app, agent.apiKey, { code, state });
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json().error.code).toBe('forbidden');
    const invalid = await completeSignup(hub.app, org.apiKey, { code, state, pin: '12345' });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.code).toBe('validation_failed');
    // Neither attempt burnt the state or the code.
    const ok = await completeSignup(hub.app, org.apiKey, { code, state });
    expect(ok.statusCode, ok.body).toBe(201);
  });
});
