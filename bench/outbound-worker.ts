/**
 * Child process of the outbound benchmark: one wahub worker (the outbox Dispatcher with a Graph
 * API client pointed at the simulator), as `wahub serve --role worker` builds it but with the
 * dispatcher options under test. It connects, then waits: `start` starts the dispatcher (so the
 * drain is timed without process start-up), `usage` reports CPU/RSS/loop delay, `stop` stops the
 * dispatcher gracefully, reports `{ type: 'stopped', usage }` and exits.
 */
import pino from 'pino';
import { sql } from 'kysely';
import { createDb } from '../src/db/database.js';
import { Dispatcher } from '../src/outbound/dispatcher.js';
import { GraphApiClient } from '../src/providers/meta/graph.client.js';
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

serveParent(async (message) => {
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
