/**
 * Scale-out: 2 API processes and 3 worker processes (`wahub serve --role api|worker`, production
 * mode) against one database, under load from both sides: signed inbound webhooks spread over both
 * APIs, and sends accepted by both APIs and delivered by the workers through the simulator.
 * Nothing is lost and nothing is doubled.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulatorServer, type SimulatorServer } from '../../src/simulator/server.js';
import { waitFor } from '../helpers/api.js';
import { TEST_TOKEN_KEYS } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestNumber, createTestOrg, signedHeaders, TEST_APP_SECRET, TEST_VERIFY_TOKEN, textWebhook, type TestNumber, type TestOrg } from '../helpers/factories.js';

const BIN = path.resolve(import.meta.dirname, '../../bin/wahub.js');
const INBOUND = 400;
const OUTBOUND = 400;

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('2 api + 3 worker processes on one database', () => {
  let t: TestDatabase;
  let sim: SimulatorServer;
  let dataDir: string;
  let org: TestOrg;
  let numbers: TestNumber[];
  const apiUrls: string[] = [];
  const children: ChildProcess[] = [];

  function spawnHub(role: 'api' | 'worker', port: number): Promise<void> {
    const child = spawn(process.execPath, [BIN, 'serve', '--role', role, '--json'], {
      env: {
        ...process.env, DATABASE_URL: t.url, PORT: String(port), HOST: '127.0.0.1', WAHUB_DATA_DIR: dataDir, LOG_LEVEL: 'warn',
        META_APP_SECRET: TEST_APP_SECRET, META_VERIFY_TOKEN: TEST_VERIFY_TOKEN, TOKEN_ENCRYPTION_KEYS: TEST_TOKEN_KEYS,
        GRAPH_API_BASE_URL: sim.url, OUTBOX_POLL_INTERVAL_MS: '50', OUTBOX_LEASE_TTL_MS: '10000', OUTBOX_RETRY_BASE_MS: '100',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let output = '';
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    return new Promise((resolve, reject) => {
      child.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        if (output.includes('"mode":"production"')) resolve();
      });
      child.on('exit', (code) => reject(new Error(`${role} exited with ${code}: ${output}`)));
    });
  }

  beforeAll(async () => {
    t = await createTestDatabase(4);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'wahub-scale-'));
    await chmod(dataDir, 0o755);
    org = await createTestOrg(t.db);
    numbers = [await createTestNumber(t.db, org.orgId), await createTestNumber(t.db, org.orgId)];
    const apiPorts = [await freePort(), await freePort()];
    sim = await startSimulatorServer({
      port: 0, appSecret: TEST_APP_SECRET, webhookUrl: `http://127.0.0.1:${apiPorts[0]}/webhooks/whatsapp`, delays: { sentMs: 0, deliveredMs: 5, readMs: 10 },
    });
    for (const number of numbers) {
      sim.simulator.registerNumber(number.phoneNumberId, { waba_id: number.wabaId, display_phone_number: number.displayPhoneNumber, access_token: number.accessToken });
    }
    await Promise.all([
      ...apiPorts.map((port) => spawnHub('api', port)),
      spawnHub('worker', 0), spawnHub('worker', 0), spawnHub('worker', 0),
    ]);
    apiUrls.push(...apiPorts.map((port) => `http://127.0.0.1:${port}`));
  }, 120_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM');
    await Promise.all(children.map((child) => new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.on('exit', resolve)))));
    await sim?.close();
    await t?.drop();
    await rm(dataDir, { recursive: true, force: true });
  }, 60_000);

  it('stores every inbound message once and sends every accepted message exactly once', async () => {
    // Inbound: 400 webhooks from 40 customers to 2 numbers, spread over both APIs, 20 at a time.
    const inbound = Array.from({ length: INBOUND }, (_, i) => textWebhook({
      wabaId: numbers[i % 2]!.wabaId, phoneNumberId: numbers[i % 2]!.phoneNumberId, from: `1415555${String(i % 40).padStart(4, '0')}`, wamid: `wamid.scale.${i}`,
    }));
    for (let i = 0; i < inbound.length; i += 20) {
      const answers = await Promise.all(inbound.slice(i, i + 20).map((body, j) =>
        request(`${apiUrls[(i + j) % 2]}/webhooks/whatsapp`, { method: 'POST', headers: signedHeaders(body), body }).then(async (r) => (await r.body.dump(), r.statusCode))));
      expect(answers.every((status) => status === 200)).toBe(true);
    }
    // Outbound: 400 templates to 100 recipients, accepted by both APIs, each with its own Idempotency-Key sent twice.
    const sends = Array.from({ length: OUTBOUND }, (_, i) => ({
      key: `scale-${i}`,
      body: JSON.stringify({ from_phone_number_id: numbers[i % 2]!.phoneNumberId, to: `+1415666${String(i % 100).padStart(4, '0')}`, type: 'template', template: { name: 'scale_test', language: { code: 'en_US' }, components: [{ type: 'body', parameters: [{ type: 'text', text: `n${i}` }] }] } }),
    }));
    for (let i = 0; i < sends.length; i += 20) {
      const answers = await Promise.all(sends.slice(i, i + 20).flatMap((send, j) => [0, 1].map((retry) =>
        request(`${apiUrls[(i + j + retry) % 2]}/v1/messages`, {
          method: 'POST', body: send.body,
          headers: { authorization: `Bearer ${org.apiKey}`, 'content-type': 'application/json', 'idempotency-key': send.key },
        }).then(async (r) => (await r.body.dump(), r.statusCode)))));
      expect(answers.every((status) => status === 202)).toBe(true);
    }

    await waitFor(async () => {
      const open = await t.db.selectFrom('message_outbox').select((eb) => eb.fn.countAll<string>().as('n')).where('state', '<>', 'done').executeTakeFirstOrThrow();
      return Number(open.n) === 0;
    }, 'outbox drained', 90_000);

    const inboundRows = await t.db.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('n')).where('direction', '=', 'inbound').executeTakeFirstOrThrow();
    expect(Number(inboundRows.n)).toBe(INBOUND);
    const outboundRows = await t.db.selectFrom('messages').select((eb) => eb.fn.countAll<string>().as('n')).where('direction', '=', 'outbound').executeTakeFirstOrThrow();
    expect(Number(outboundRows.n)).toBe(OUTBOUND);
    const sent = sim.simulator.sends().map((send) => JSON.stringify((send.body as { template: unknown }).template));
    expect(sent).toHaveLength(OUTBOUND);
    expect(new Set(sent).size).toBe(OUTBOUND);
    const withoutWamid = await t.db.selectFrom('messages').select('id').where('direction', '=', 'outbound').where('provider_message_id', 'is', null).execute();
    expect(withoutWamid).toEqual([]);
  }, 180_000);
});
