/**
 * The hub process: opens the runtime (config, database, migrations, secrets), serves HTTP and/or
 * runs the outbox dispatcher depending on the role, and shuts down gracefully on SIGTERM/SIGINT.
 * In sandbox mode it also mounts the Cloud API simulator at `/simulator`, points the Graph API
 * client at it, and seeds demo data.
 */
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp, buildOpsApp } from './http/app.js';
import type { LoopProbe } from './ops/ops.service.js';
import { Dispatcher } from './outbound/dispatcher.js';
import { GraphApiClient } from './providers/meta/graph.client.js';
import { openRuntime, type Runtime } from './runtime.js';
import { listConnectedMetaNumbers } from './numbers/numbers.repository.js';
import { type SandboxDemo, seedSandbox } from './sandbox/seed.js';
import { createSimulator, type Simulator } from './simulator/simulator.js';

export type Role = 'api' | 'worker' | 'all';

/** Meta app id of sandbox mode (the simulator checks it in the Embedded Signup code exchange). */
export const SANDBOX_APP_ID = 'sandbox-app';

export interface Hub {
  runtime: Runtime;
  /** Base URL of the HTTP server, when the role serves HTTP. */
  url: string | undefined;
  demo: SandboxDemo | undefined;
  close(): Promise<void>;
}

async function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

/** Readiness of the dispatcher loop: it must have completed a round within a few poll intervals. */
function dispatcherProbe(dispatcher: Dispatcher, pollIntervalMs: number): LoopProbe {
  return { name: 'dispatcher', lastTickAt: () => dispatcher.lastTickAt, maxSilenceMs: Math.max(5_000, pollIntervalMs * 10) };
}

function localUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown}:${port}`;
}

/**
 * Starts wahub.
 * @param role `api` serves HTTP, `worker` runs the dispatcher, `all` both
 */
export async function startHub(role: Role, env: NodeJS.ProcessEnv = process.env): Promise<Hub> {
  const runtime = await openRuntime({ env });
  const { config, logger, db, cipher, secrets } = runtime;
  const sandbox = config.mode === 'sandbox';
  const serveHttp = role !== 'worker';
  // The simulator must know the webhook URL before the server listens, so a random port is picked up front.
  const port = serveHttp && sandbox && config.port === 0 ? await freePort(config.host) : config.port;
  let url = serveHttp ? localUrl(config.host, port) : undefined;
  let simulator: Simulator | undefined;
  let app: FastifyInstance | undefined;
  let dispatcher: Dispatcher | undefined;
  let graph: GraphApiClient | undefined;
  let demo: SandboxDemo | undefined;
  let shuttingDown = false;
  let healthApp: FastifyInstance | undefined;
  const close = async () => {
    // Readiness answers 503 first, so a load balancer stops sending before the server drains.
    shuttingDown = true;
    if (config.shutdownGraceMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownGraceMs));
    await dispatcher?.stop();
    await app?.close();
    await healthApp?.close();
    await simulator?.close();
    await graph?.close();
    await runtime.close();
  };
  try {
    if (sandbox && serveHttp) {
      simulator = createSimulator({
        appId: SANDBOX_APP_ID,
        webhookUrl: `${url}/webhooks/whatsapp`,
        appSecret: secrets.appSecret,
        delays: config.sandbox.statusDelaysMs,
        logger: { debug: (o, m) => logger.debug(o, m), warn: (o, m) => logger.warn(o, m) },
      });
      demo = (await seedSandbox(db, cipher, config.dataDir)).demo;
      // The simulator plays Meta for every number of this database (numbers added while running
      // can be registered with PUT /simulator/_simulator/numbers/{phone_number_id}, or by a restart).
      for (const number of await listConnectedMetaNumbers(db)) {
        simulator.registerNumber(number.phone_number_id, { waba_id: number.waba_id, display_phone_number: number.display_phone_number });
      }
    }
    const graphBaseUrl = config.meta.graphApiBaseUrl ?? (url ? `${url}/simulator` : undefined);
    if (role !== 'api' && !graphBaseUrl) throw new Error('GRAPH_API_BASE_URL is required for a sandbox worker without the API role');
    if (graphBaseUrl) graph = new GraphApiClient({ baseUrl: graphBaseUrl, version: config.meta.graphApiVersion, timeoutMs: config.meta.graphApiTimeoutMs });
    if (role !== 'api' && graph) {
      dispatcher = new Dispatcher({
        db, cipher, graph, logger: logger.child({ component: 'dispatcher' }), ...config.outbox, listenUrl: runtime.databaseUrl,
      });
    }
    if (serveHttp) {
      app = await buildApp({
        db, logger, simulator, cipher, graph,
        meta: {
          appSecret: secrets.appSecret, verifyToken: config.meta.verifyToken, appId: config.meta.appId ?? (sandbox ? SANDBOX_APP_ID : undefined),
          embeddedSignupConfigId: config.meta.embeddedSignupConfigId, graphApiVersion: config.meta.graphApiVersion,
        },
        onMessageQueued: dispatcher ? () => dispatcher?.notify() : undefined,
        loops: dispatcher ? [dispatcherProbe(dispatcher, config.outbox.pollIntervalMs)] : [],
        isShuttingDown: () => shuttingDown,
        rateLimit: { perMinute: config.rateLimitPerMinute },
      });
      await app.listen({ port, host: config.host });
      // PORT=0 picks a free port: report the one the server really got.
      const address = app.server.address();
      if (typeof address === 'object' && address) url = localUrl(config.host, address.port);
    } else if (config.workerHttpPort !== undefined && dispatcher) {
      // A worker-only process serves just the probes and metrics, on its own port.
      healthApp = await buildOpsApp({ db, logger, loops: [dispatcherProbe(dispatcher, config.outbox.pollIntervalMs)], isShuttingDown: () => shuttingDown });
      await healthApp.listen({ port: config.workerHttpPort, host: config.host });
    }
    dispatcher?.start();
    return { runtime, url, demo, close };
  } catch (error) {
    await close();
    throw error;
  }
}
