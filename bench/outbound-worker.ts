/**
 * Child process of the outbound benchmark: one wahub worker (the outbox Dispatcher with a Graph
 * API client pointed at the simulator), as `wahub serve --role worker` builds it but with the
 * dispatcher options under test. It connects, then waits: `start` starts the dispatcher (so the
 * drain is timed without process start-up), `usage` reports CPU/RSS/loop delay, `stop` stops the
 * dispatcher gracefully, reports `{ type: 'stopped', usage }` and exits. `ceiling` (before
 * `start`) sends `count` template messages (after an untimed warm-up) with the same Graph API client
 * straight to the simulator, `concurrency` at a time, with no database: the HTTP ceiling any dispatcher on this
 * machine is bounded by; replies `{ type: 'ceiling', seconds }`.
 */
import pino from 'pino';
import { sql } from 'kysely';
import { createDb } from '../src/db/database.js';
import { Dispatcher } from '../src/outbound/dispatcher.js';
import { fromStoredContent } from '../src/outbound/message-content.js';
import { GraphApiClient } from '../src/providers/meta/graph.client.js';
import { buildMetaSendRequest } from '../src/providers/meta/send.schema.js';
import { TokenCipher } from '../src/shared/token-cipher.js';
import { childConfig, measureUsage, serveParent } from './outbound-children.js';

export interface WorkerConfig {
  databaseUrl: string;
  graphUrl: string;
  /** Base64 of the 32-byte token key the bench encrypted the numbers' tokens with. */
  tokenKey: string;
  workerId: string;
  batchSize: number;
  maxInFlight: number;
  /** undici keep-alive connections to the simulator. */
  connections: number;
  poolSize: number;
  pollIntervalMs: number;
}

const config = childConfig<WorkerConfig>();
const usage = measureUsage();
const db = createDb(config.databaseUrl, config.poolSize);
await sql`SELECT 1`.execute(db);
const graph = new GraphApiClient({ baseUrl: config.graphUrl, version: 'v24.0', timeoutMs: 10_000, connections: config.connections });
const dispatcher = new Dispatcher({
  db,
  cipher: new TokenCipher([{ id: 'bench', key: Buffer.from(config.tokenKey, 'base64') }]),
  graph,
  logger: pino({ level: 'warn', base: { worker: config.workerId } }, pino.destination(2)),
  leaseTtlMs: 60_000,
  batchSize: config.batchSize,
  maxInFlight: config.maxInFlight,
  pollIntervalMs: config.pollIntervalMs,
  maxAttempts: 8,
  retryBaseMs: 1_000,
  listenUrl: config.databaseUrl,
  workerId: config.workerId,
});

/** Sends `count` messages with no database, `concurrency` at a time. @returns seconds taken */
async function httpCeiling(values: { count: number; concurrency: number; phoneNumberId: string; accessToken: string }): Promise<number> {
  const body = buildMetaSendRequest('+14155550000', fromStoredContent('template', { name: 'bench_ceiling', language: { code: 'en_US' } }));
  const sendAll = async (count: number) => {
    let next = 0;
    await Promise.all(Array.from({ length: values.concurrency }, async () => {
      while (next < count) {
        next++;
        const result = await graph.sendMessage(values.phoneNumberId, values.accessToken, body);
        if (!result.ok) throw new Error(`ceiling send failed: ${result.error.title}`);
      }
    }));
  };
  // Untimed warm-up (JIT, connections), as the drain that follows runs on a warm simulator too.
  await sendAll(Math.min(values.count, 2_000));
  const started = performance.now();
  await sendAll(values.count);
  return (performance.now() - started) / 1000;
}

serveParent(async (message) => {
  if (message.type === 'ceiling') {
    const values = message as unknown as Parameters<typeof httpCeiling>[0];
    return { type: 'ceiling', seconds: await httpCeiling(values) };
  }
  if (message.type === 'start') {
    dispatcher.start();
    usage();
    return { type: 'started' };
  }
  if (message.type === 'usage') return { type: 'usage', usage: usage() };
  if (message.type === 'stop') {
    await dispatcher.stop();
    await graph.close();
    await db.destroy();
    process.send!({ type: 'stopped', usage: usage() }, () => process.exit(0));
  }
  return undefined;
});
process.send!({ type: 'ready' });
