/**
 * Helpers for the onboarding tests: the hub and the Cloud API simulator over real HTTP (the hub
 * listens so that the simulator's signed webhooks reach it), Embedded Signup through the API, and
 * signed `account_update` webhooks built from the shared fixture.
 */
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { expect } from 'vitest';
import type { Db } from '../../src/db/database.js';
import { buildApp } from '../../src/app.js';
import { GraphApiClient } from '../../src/providers/meta/graph.client.js';
import { startSimulatorServer, type SimulatorServer } from '../../src/simulator/server.js';
import { bearer } from '../helpers/api.js';
import { createTestApp, signedHeaders, TEST_APP_ID, TEST_APP_SECRET, TEST_VERIFY_TOKEN, testCipher, testEgress, uniqueDigits } from '../helpers/factories.js';

export interface Hub {
  app: FastifyInstance;
  sim: SimulatorServer;
  graph: GraphApiClient;
  close(): Promise<void>;
}

/** A free TCP port on 127.0.0.1 (the hub's URL must be known before the simulator starts). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * The hub (listening) and the simulator (its own server), wired to each other: the app's Graph
 * client points at the simulator, the simulator's webhooks at the hub. `logger` replaces the
 * silent one (to inspect what the hub logs).
 */
export async function startHub(db: Db, options: { logger?: Logger } = {}): Promise<Hub> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const sim = await startSimulatorServer({
      port: 0, appId: TEST_APP_ID, appSecret: TEST_APP_SECRET, webhookUrl: `http://127.0.0.1:${port}/webhooks/whatsapp`,
      delays: { sentMs: 0, deliveredMs: 5, readMs: 10 },
    });
    const graph = new GraphApiClient({ baseUrl: sim.url, version: 'v24.0', timeoutMs: 5000 });
    const app = options.logger
      ? await buildApp({ db, logger: options.logger, cipher: testCipher, graph, egress: testEgress, meta: { appSecret: TEST_APP_SECRET, verifyToken: TEST_VERIFY_TOKEN, appId: TEST_APP_ID } })
      : await createTestApp(db, { graph });
    try {
      await app.listen({ port, host: '127.0.0.1' });
    } catch (error) {
      // Someone took the port between freePort and listen: try another one.
      await Promise.all([sim.close(), app.close(), graph.close()]);
      if (attempt >= 3) throw error;
      continue;
    }
    return {
      app, sim, graph,
      async close() {
        // The simulator first: it waits for its in-flight webhooks, which need the hub listening.
        await sim.close();
        await app.close();
        await graph.close();
      },
    };
  }
}

export interface SimNumber {
  id: string;
  display_phone_number: string;
}

/** Two (or `count`) fresh numbers for a signup grant: random phone_number_ids, US display numbers. */
export function simNumbers(count = 2): SimNumber[] {
  return Array.from({ length: count }, () => ({ id: uniqueDigits(), display_phone_number: `1555${uniqueDigits(7)}` }));
}

/** Issues a code over HTTP (`POST /_simulator/signup/codes`), as Meta's popup would after the customer signed up. */
export async function issueCode(sim: SimulatorServer, input: { waba_id: string; phone_numbers: SimNumber[]; business_id?: string; ttl_ms?: number; token_expires_in_s?: number }): Promise<string> {
  const response = await fetch(`${sim.url}/_simulator/signup/codes`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(input),
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { code: string }).code;
}

/** `POST /v1/whatsapp/signup/start` → the state (asserts 201). */
export async function startSignup(app: FastifyInstance, apiKey: string): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/v1/whatsapp/signup/start', headers: bearer(apiKey) });
  expect(response.statusCode, response.body).toBe(201);
  return response.json().state as string;
}

/** `POST /v1/whatsapp/signup/complete` (any answer). */
export async function completeSignup(app: FastifyInstance, apiKey: string, body: Record<string, unknown>) {
  return app.inject({ method: 'POST', url: '/v1/whatsapp/signup/complete', headers: bearer(apiKey), payload: body });
}

const FIXTURE = path.resolve(import.meta.dirname, '../fixtures/meta/account_update_partner_added.json');

/** The fixture's `account_update` envelope (partner business id in `entry.id`) with its change value replaced. */
export function accountUpdateWebhook(value: Record<string, unknown>, entryId?: string): string {
  const envelope = JSON.parse(readFileSync(FIXTURE, 'utf8')) as { entry: Array<{ id: string; changes: Array<{ value: unknown }> }> };
  if (entryId) envelope.entry[0]!.id = entryId;
  envelope.entry[0]!.changes[0]!.value = value;
  return JSON.stringify(envelope);
}

/** The fixture as Meta sends it, unchanged (for its waba_info). */
export function partnerAddedFixture(): { raw: string; entryId: string; wabaId: string; ownerBusinessId: string } {
  const raw = readFileSync(FIXTURE, 'utf8');
  const parsed = JSON.parse(raw) as { entry: Array<{ id: string; changes: Array<{ value: { waba_info: { waba_id: string; owner_business_id: string } } }> }> };
  const entry = parsed.entry[0]!;
  return { raw, entryId: entry.id, wabaId: entry.changes[0]!.value.waba_info.waba_id, ownerBusinessId: entry.changes[0]!.value.waba_info.owner_business_id };
}

/** Posts a signed webhook to the hub; asserts 200. */
export async function postWebhook(app: FastifyInstance, payload: string): Promise<void> {
  const response = await app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(payload), payload });
  expect(response.statusCode, response.body).toBe(200);
}
