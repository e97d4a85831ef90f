/**
 * Helpers of the delivery-engine tests: real `wahub serve --role worker` processes, the Cloud API
 * simulator over HTTP without status webhooks (only the send path is under test), numbers at a
 * given throughput, and templates queued through the real outbound service (`sendMessage`).
 */
import { seedTemplates } from '../../helpers/templates.js';
import { type ChildProcess, spawn } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll } from 'vitest';
import type { Db } from '../../../src/db/database.js';
import { connectPhoneNumber } from '../../../src/numbers/numbers.service.js';
import { setPhoneNumberToken } from '../../../src/outbound/number-queue.service.js';
import { sendMessageBodySchema } from '../../../src/outbound/messages.schema.js';
import { sendMessage } from '../../../src/outbound/outbound.service.js';
import { markPhoneNumberReauthRequired } from '../../../src/numbers/phone-numbers.repository.js';
import { startSimulatorServer, type SimulatorServer } from '../../../src/simulator/server.js';
import type { SimulatedSend } from '../../../src/simulator/meta/simulator.js';
import { authenticateApiKey, type Principal } from '../../../src/tenancy/tenancy.service.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/db.js';
import { TEST_APP_SECRET, TEST_EGRESS_ALLOW_LIST, testCipher, uniqueDigits } from '../../helpers/factories.js';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const WAHUB_BIN = path.join(REPO_ROOT, 'bin/wahub.js');

/** TOKEN_ENCRYPTION_KEYS holding the key of `testCipher` (32 bytes of value 7), so processes decrypt the tokens tests store. */
export const TEST_TOKEN_KEYS = `test1:${Buffer.alloc(32, 7).toString('base64')}`;

/**
 * Polls `probe` every `intervalMs` until it returns a truthy value; fails with `what` after `timeoutMs`.
 * @param diagnose adds what it returns to the failure message (state worth seeing when it times out)
 */
export async function pollUntil<T>(
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  what: string,
  timeoutMs: number,
  intervalMs = 50,
  diagnose?: () => Promise<unknown> | unknown,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) {
      const details = diagnose ? `: ${JSON.stringify(await diagnose())}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${details}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A temporary WAHUB_DATA_DIR (mode 755: embedded PostgreSQL, when used, runs as another user). */
export async function makeDataDir(): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wahub-delivery-'));
  await chmod(dir, 0o755);
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** The environment of a wahub process in these tests: sandbox mode (no META_APP_SECRET), the test database and key. */
export function wahubEnv(values: { databaseUrl: string; dataDir: string; graphUrl?: string; extra?: Record<string, string> }): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    DATABASE_URL: values.databaseUrl,
    TOKEN_ENCRYPTION_KEYS: TEST_TOKEN_KEYS,
    WAHUB_DATA_DIR: values.dataDir,
    LOG_LEVEL: 'warn',
    EVENT_SUBSCRIPTION_ALLOW_LIST: TEST_EGRESS_ALLOW_LIST.join(','),
    ...(values.graphUrl ? { GRAPH_API_BASE_URL: values.graphUrl } : {}),
    ...values.extra,
  };
}

/** Outbox tuning for process tests: short leases so crash recovery fits in a test, fast polling. */
export const FAST_OUTBOX = {
  OUTBOX_LEASE_TTL_MS: '3000',
  OUTBOX_LEASE_REFRESH_MS: '1000',
  OUTBOX_POLL_INTERVAL_MS: '50',
};

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves with the exit code and signal once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Everything the process wrote so far: stdout (its startup JSON, then its JSON log lines) and stderr. */
  output(): string;
  running(): boolean;
}

/**
 * Starts `node bin/wahub.js serve --role worker --json` and resolves once it printed its startup
 * JSON (the dispatcher is running then).
 * @param into the worker is added here as soon as it is spawned, so a cleanup that kills `into`
 *   also gets a worker that never became ready (or was still starting when a test failed)
 */
export async function startWorker(env: NodeJS.ProcessEnv, into: WorkerProcess[], timeoutMs = 30_000): Promise<WorkerProcess> {
  const child = spawn(process.execPath, [WAHUB_BIN, 'serve', '--role', 'worker', '--json'], { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let alive = true;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      alive = false;
      resolve({ code, signal });
    });
  });
  const worker: WorkerProcess = { child, exited, output: () => `${stdout}${stderr}`, running: () => alive };
  into.push(worker);
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      if (stdout.includes('"role":"worker"')) resolve();
    });
    void exited.then(({ code, signal }) => reject(new Error(`worker exited (${code ?? signal}) before it was ready: ${stderr}`)));
    setTimeout(() => reject(new Error(`worker not ready after ${timeoutMs} ms: ${stderr}`)), timeoutMs).unref();
  });
  try {
    await ready;
  } catch (error) {
    await killWorkers([worker]);
    throw error;
  }
  return worker;
}

/** Warnings and errors the workers logged (JSON log lines, level ≥ 40), counted by message: shown when an assertion fails. */
export function workerWarnings(workers: WorkerProcess[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const worker of workers) {
    for (const line of worker.output().split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string };
        if ((entry.level ?? 0) >= 40 && entry.msg) counts[entry.msg] = (counts[entry.msg] ?? 0) + 1;
      } catch {
        // not a log line
      }
    }
  }
  return counts;
}

/** Starts one worker per environment, all at once (each added to `into` when spawned). @returns them in the order of `envs` */
export function startWorkers(envs: NodeJS.ProcessEnv[], into: WorkerProcess[]): Promise<WorkerProcess[]> {
  return Promise.all(envs.map((env) => startWorker(env, into)));
}

/** SIGKILLs every worker still running and waits for it to exit (cleanup after a test, passed or failed). */
export async function killWorkers(workers: WorkerProcess[]): Promise<void> {
  await Promise.all(workers.map(async (worker) => {
    if (worker.running()) worker.child.kill('SIGKILL');
    await worker.exited;
  }));
}

/** The simulator as its own HTTP server, without status webhooks (nobody listens for them here). */
export function startSendOnlySimulator(): Promise<SimulatorServer> {
  return startSimulatorServer({ port: 0, webhookUrl: 'http://127.0.0.1:9/unused', appSecret: TEST_APP_SECRET, statusWebhooks: false });
}

export interface ThroughputNumber {
  id: string;
  orgId: string;
  phoneNumberId: string;
  accessToken: string;
  throughputMps: number;
}

/** Connects a number at `throughputMps` to the organization and registers it (with its token) in the simulator. */
export async function connectNumber(db: Db, sim: SimulatorServer, orgId: string, throughputMps: number, simulatorToken?: string): Promise<ThroughputNumber> {
  const values = { wabaId: uniqueDigits(), phoneNumberId: uniqueDigits(), displayPhoneNumber: `1555${uniqueDigits(7)}`, accessToken: `token-${uniqueDigits(12)}` };
  const { id } = await connectPhoneNumber(db, testCipher, { orgId, ...values, throughputMps });
  await seedTemplates(db, orgId, values.wabaId);
  sim.simulator.registerNumber(values.phoneNumberId, {
    waba_id: values.wabaId, display_phone_number: values.displayPhoneNumber, access_token: simulatorToken ?? values.accessToken,
  });
  return { id, orgId, phoneNumberId: values.phoneNumberId, accessToken: values.accessToken, throughputMps };
}

/**
 * Holds back the messages of numbers while a backlog is queued and workers start: the numbers
 * await re-authorisation (as after Meta's 190), so workers leave their rows alone.
 */
export async function holdNumbers(db: Db, numbers: ThroughputNumber[]): Promise<void> {
  for (const number of numbers) await markPhoneNumberReauthRequired(db, number.id);
}

/**
 * Offers the held backlog to the workers at once: `setPhoneNumberToken` (what `wahub number
 * set-token` runs) makes each number active again and wakes the workers (NOTIFY).
 */
export async function releaseNumbers(db: Db, numbers: ThroughputNumber[]): Promise<void> {
  for (const number of numbers) {
    const { status } = await setPhoneNumberToken(db, testCipher, { orgId: number.orgId, phoneNumberId: number.phoneNumberId, accessToken: number.accessToken });
    if (status !== 'active') throw new Error(`number ${number.phoneNumberId} is ${status} after set-token`);
  }
}

/** Connects one number per entry of `throughputs` (mps), in order. */
export async function connectNumbers(db: Db, sim: SimulatorServer, orgId: string, throughputs: number[]): Promise<ThroughputNumber[]> {
  const numbers: ThroughputNumber[] = [];
  for (const mps of throughputs) numbers.push(await connectNumber(db, sim, orgId, mps));
  return numbers;
}

/** The principal of an API key (what the HTTP layer hands to the outbound service). */
export function principalOf(db: Db, apiKey: string): Promise<Principal> {
  return authenticateApiKey(db, apiKey);
}

/** Customer number `+1415555` + 4 digits: 10,000 distinct recipients. */
export function recipient(index: number): string {
  if (index < 0 || index > 9999) throw new Error(`recipient index ${index} out of range`);
  return `+1415555${String(index).padStart(4, '0')}`;
}

export interface Queued {
  messageId: string;
  phoneNumberId: string;
  to: string;
}

/**
 * Queues one template message per item through the real outbound service (message row + outbox
 * row in one transaction), `concurrency` at a time. Templates need no customer service window.
 */
export async function queueTemplates(db: Db, principal: Principal, items: Array<{ phoneNumberId: string; to: string }>, concurrency = 20): Promise<Queued[]> {
  const queued: Queued[] = new Array(items.length);
  let next = 0;
  async function lane(): Promise<void> {
    while (next < items.length) {
      const index = next++;
      const item = items[index]!;
      const body = sendMessageBodySchema.parse({
        from_phone_number_id: item.phoneNumberId, to: item.to, type: 'template', template: { name: 'order_update', language: { code: 'en_US' } },
      });
      const { response } = await sendMessage(db, principal, body, undefined, null);
      queued[index] = { messageId: response.id, ...item };
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, lane));
  return queued;
}

/** How many times the simulator accepted a message per `phone_number_id` + `to` (each test message has its own `to`). */
export function sendCounts(sends: SimulatedSend[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const send of sends) {
    const key = `${send.phone_number_id}|${send.to}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return counts;
}

export function sendKey(item: { phoneNumberId: string; to: string }): string {
  return `${item.phoneNumberId}|${item.to}`;
}

/** Outbox rows by state (all organizations of the test database). */
export async function outboxStates(db: Db): Promise<Record<string, number>> {
  const rows = await db.selectFrom('message_outbox').select(['state', (eb) => eb.fn.countAll<string>().as('n')]).groupBy('state').execute();
  return Object.fromEntries(rows.map((row) => [row.state, Number(row.n)]));
}

/** What a worker-process test file needs: its database, a send-only simulator, a data dir, and the workers it started. */
export interface WorkerBed {
  t: TestDatabase;
  sim: SimulatorServer;
  dataDir: Awaited<ReturnType<typeof makeDataDir>>;
  workers: WorkerProcess[];
}

/** Registers the file's beforeAll/afterAll: fresh database and simulator before, every worker killed and everything removed after. */
export function useWorkerBed(poolSize: number): WorkerBed {
  const bed = { workers: [] } as unknown as WorkerBed;
  beforeAll(async () => {
    bed.t = await createTestDatabase(poolSize);
    bed.sim = await startSendOnlySimulator();
    bed.dataDir = await makeDataDir();
  });
  afterAll(async () => {
    await killWorkers(bed.workers);
    await bed.sim?.close();
    await bed.t?.drop();
    await bed.dataDir?.remove();
  });
  return bed;
}
