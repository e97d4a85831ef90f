/**
 * The hub process: opens the runtime (config, database, migrations, secrets), serves HTTP and/or
 * runs the outbox dispatcher depending on the role, and shuts down gracefully on SIGTERM/SIGINT.
 * In sandbox mode it also mounts the Cloud API simulator at `/simulator` and the Twilio simulator at
 * `/simulator/twilio`, points the Graph API and Twilio clients at them, and seeds demo data.
 */
import { createServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { buildApp, buildOpsApp, OTP_KEY_LABEL } from './app.js';
import type { LoopProbe } from './ops/ops.service.js';
import { Dispatcher } from './outbound/dispatcher.js';
import { syncAllTemplates } from './templates/template-sync.service.js';
import { GraphApiClient } from './providers/meta/graph.client.js';
import { TwilioMessagesClient } from './providers/twilio/messages.client.js';
import { loadConfig } from './config/config.js';
import { openRuntime, type Runtime } from './runtime.js';
import { listConnectedMetaNumbers, listConnectedTwilioNumbers } from './numbers/phone-numbers.repository.js';
import { DEMO_CUSTOMERS, type SandboxDemo, seedSandbox } from './sandbox/seed.js';
import { SANDBOX_TEMPLATES } from './sandbox/templates.js';
import { createSimulator, type Simulator } from './simulator/meta/simulator.js';
import { purgeExpiredRows } from './ops/retention.service.js';
import { EgressGuard } from './shared/egress.js';
import { EventDeliverer } from './events/deliverer.js';
import { type EventPublisher, NatsEventPublisher } from './events/nats.publisher.js';
import { EventRelay } from './events/relay.js';
import { purgePublishedEvents } from './events/retention.js';
import { cleanUpOtps, failExpiredOtpMessages } from './endusers/otp.service.js';
import { purgeInactiveClients } from './clients/retention.service.js';
import { type MaintenanceJob, MaintenanceScheduler } from './ops/maintenance.js';
import { createTwilioSimulator, type TwilioSimulator } from './simulator/twilio/simulator.js';

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

interface PortReservation {
  port: number;
  release(): Promise<void>;
}

/**
 * Binds `host:port` (0 = any free port) before anything else starts, so a port in use fails the
 * start before migrations, the dispatcher or the simulator run; released just before the HTTP
 * server listens on it.
 * @throws the listen error (EADDRINUSE, EACCES), with `address` and `port`
 */
async function reservePort(host: string, port: number): Promise<PortReservation> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address ? address.port : port;
      resolve({ port: bound, release: () => new Promise((done) => server.close(() => done())) });
    });
  });
}

/** Readiness of the dispatcher loop: it must have completed a round within a few poll intervals. */
function dispatcherProbe(dispatcher: Dispatcher, pollIntervalMs: number): LoopProbe {
  return { name: 'dispatcher', lastTickAt: () => dispatcher.lastTickAt, maxSilenceMs: Math.max(5_000, pollIntervalMs * 10) };
}

/** Period of the OTP expiry job, ms. */
const OTP_EXPIRY_INTERVAL_MS = 60_000;

/** The demo customers write a few minutes apart (oldest first), so the inbox shows a realistic order. */
async function seedDemoConversations(simulator: Simulator, phoneNumberId: string): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  for (const [index, customer] of DEMO_CUSTOMERS.entries()) {
    const timestamp = String(now - (DEMO_CUSTOMERS.length - index) * 7 * 60);
    await simulator.injectInbound({
      phone_number_id: phoneNumberId, from: customer.from, user_id: customer.user_id, username: customer.username, profile_name: customer.profile_name,
      message: { type: 'text', text: { body: customer.text }, timestamp },
    });
  }
}

/** Readiness of the event relay loop. */
function relayProbe(relay: EventRelay, pollIntervalMs: number): LoopProbe {
  return { name: 'event_relay', lastTickAt: () => relay.lastTickAt, maxSilenceMs: Math.max(15_000, pollIntervalMs * 10) };
}

/** The worker's scheduled jobs. */
function maintenanceJobs(runtime: Runtime): MaintenanceJob[] {
  const { db, config } = runtime;
  return [
    { name: 'event_retention', run: async () => ({ deleted: await purgePublishedEvents(db, config.events.retentionDays) }) },
    { name: 'otp_clean_up', run: () => cleanUpOtps(db) },
    { name: 'retention', run: () => purgeExpiredRows(db, config.retention) },
    ...(config.maintenance.inactiveDays === undefined ? [] : [{
      name: 'client_retention',
      run: async () => ({ ...(await purgeInactiveClients(db, {
        inactiveDays: config.maintenance.inactiveDays!, logger: runtime.logger, source: 'worker',
        onProgress: (progress) => runtime.logger.info({ job: 'client_retention', ...progress }, 'client retention progress'),
      })) }),
    }]),
  ];
}

/** The worker's event loops: relay (to NATS and HTTP deliveries), deliverer, maintenance. */
async function startEventWorkers(runtime: Runtime, graph: GraphApiClient | undefined) {
  const { config, logger, db, cipher } = runtime;
  let publisher: EventPublisher | undefined;
  if (config.natsUrl) {
    publisher = await NatsEventPublisher.connect({
      url: config.natsUrl, stream: config.events.natsStream, subjectPrefix: config.events.natsSubjectPrefix, logger: logger.child({ component: 'nats' }),
    });
  } else {
    logger.info('NATS_URL is unset: domain events go to HTTP event subscriptions only');
  }
  const deliverer = new EventDeliverer({
    db, cipher, egress: new EgressGuard(config.events.subscriptionAllowList), logger: logger.child({ component: 'event_deliverer' }), timeoutMs: config.events.deliveryTimeoutMs,
    retryBaseMs: config.events.deliveryRetryBaseMs, retryMaxMs: config.events.deliveryRetryMaxMs, giveUpMs: config.events.deliveryGiveUpMs,
    pollIntervalMs: config.events.pollIntervalMs,
  });
  const relay = new EventRelay({
    db, logger: logger.child({ component: 'event_relay' }), publisher, batchSize: config.events.relayBatchSize,
    pollIntervalMs: config.events.pollIntervalMs, onDeliveries: () => deliverer.notify(),
  });
  const maintenance = new MaintenanceScheduler({ jobs: maintenanceJobs(runtime), intervalMs: config.maintenance.intervalMs, logger: logger.child({ component: 'maintenance' }) });
  // OTP codes live 10 minutes: an expired code still waiting in the outbox is failed within a minute.
  const otpExpiry = new MaintenanceScheduler({
    jobs: [{ name: 'otp_expiry', run: async () => ({ failed: await failExpiredOtpMessages(db) }) }], intervalMs: OTP_EXPIRY_INTERVAL_MS, logger: logger.child({ component: 'maintenance' }),
  });
  const templateSync = graph && config.templateSyncIntervalMs > 0 ? new MaintenanceScheduler({
    jobs: [{ name: 'template_sync', run: async () => syncAllTemplates({ db, cipher, graph }, config.templateSyncIntervalMs) }], intervalMs: config.templateSyncIntervalMs, logger: logger.child({ component: 'maintenance' }),
  }) : undefined;
  return {
    relay,
    start: () => {
      relay.start();
      deliverer.start();
      maintenance.start();
      otpExpiry.start();
      templateSync?.start();
    },
    stop: async () => {
      await maintenance.stop();
      await otpExpiry.stop();
      await templateSync?.stop();
      await relay.stop();
      await deliverer.stop();
      await publisher?.close();
    },
  };
}

function localUrl(host: string, port: number): string {
  const shown = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${shown}:${port}`;
}

/**
 * Starts wahub.
 * @param role `api` serves HTTP; `worker` runs the dispatcher, the event relay and deliverer and the
 *   maintenance jobs; `all` both
 */
export async function startHub(role: Role, env: NodeJS.ProcessEnv = process.env): Promise<Hub> {
  const serveHttp = role !== 'worker';
  // The port is bound first: a hub already on it fails this start before anything runs. It also
  // fixes a PORT=0 port up front, since the simulator must know the webhook URL before listening.
  const { host, port: configuredPort } = loadConfig(env);
  const reservation = serveHttp ? await reservePort(host, configuredPort) : undefined;
  let runtime: Runtime;
  try {
    runtime = await openRuntime({ env, detachEmbeddedPostgres: true });
  } catch (error) {
    await reservation?.release();
    throw error;
  }
  const { config, logger, db, cipher, secrets } = runtime;
  const sandbox = config.mode === 'sandbox';
  const port = reservation?.port ?? config.port;
  let url = serveHttp ? localUrl(config.host, port) : undefined;
  let simulator: Simulator | undefined;
  let app: FastifyInstance | undefined;
  let dispatcher: Dispatcher | undefined;
  let graph: GraphApiClient | undefined;
  let twilio: TwilioMessagesClient | undefined;
  let twilioSimulator: TwilioSimulator | undefined;
  let demo: SandboxDemo | undefined;
  let demoCreated = false;
  let shuttingDown = false;
  let healthApp: FastifyInstance | undefined;
  let eventWorkers: Awaited<ReturnType<typeof startEventWorkers>> | undefined;
  const close = async () => {
    // Readiness answers 503 first, so a load balancer stops sending before the server drains.
    shuttingDown = true;
    await reservation?.release();
    if (config.shutdownGraceMs > 0) await new Promise((resolve) => setTimeout(resolve, config.shutdownGraceMs));
    await dispatcher?.stop();
    await eventWorkers?.stop();
    await app?.close();
    await healthApp?.close();
    await simulator?.close();
    await twilioSimulator?.close();
    await graph?.close();
    await twilio?.close();
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
      ({ demo, created: demoCreated } = await seedSandbox(db, cipher, config.dataDir));
      // The simulator plays Meta for every number of this database (numbers added while running
      // can be registered with PUT /simulator/_simulator/numbers/{phone_number_id}, or by a restart).
      const metaNumbers = await listConnectedMetaNumbers(db);
      for (const number of metaNumbers) simulator.registerNumber(number.phone_number_id, { waba_id: number.waba_id, display_phone_number: number.display_phone_number });
      // Templates are the WABA's: seeded once per WABA, not again (with new ids) for each of its numbers.
      for (const wabaId of new Set(metaNumbers.map((number) => number.waba_id))) simulator.templates.seed(wabaId, SANDBOX_TEMPLATES);
      twilioSimulator = createTwilioSimulator({
        inboundWebhookUrl: `${config.publicBaseUrl ?? url}/webhooks/twilio`,
        delays: config.sandbox.statusDelaysMs,
        logger: { debug: (o, m) => logger.debug(o, m), warn: (o, m) => logger.warn(o, m) },
      });
      // The Twilio simulator plays Twilio for every Twilio number of this database (later ones:
      // PUT /simulator/twilio/_simulator/senders/{+E164}, or a restart).
      for (const number of await listConnectedTwilioNumbers(db)) {
        if (!number.access_token_ciphertext || !number.twilio_account_sid) continue;
        const authToken = cipher.decrypt({ ciphertext: number.access_token_ciphertext, keyId: number.access_token_key_id ?? '' });
        twilioSimulator.registerSender(number.phone_number_id.replace(/^whatsapp:/, ''), { account_sid: number.twilio_account_sid, auth_token: authToken });
      }
    }
    const graphBaseUrl = config.meta.graphApiBaseUrl ?? (url ? `${url}/simulator` : undefined);
    if (role !== 'api' && !graphBaseUrl) throw new Error('GRAPH_API_BASE_URL is required for a sandbox worker without the API role');
    if (graphBaseUrl) graph = new GraphApiClient({ baseUrl: graphBaseUrl, version: config.meta.graphApiVersion, timeoutMs: config.meta.graphApiTimeoutMs });
    const twilioBaseUrl = config.twilio.apiBaseUrl ?? (url ? `${url}/simulator/twilio` : undefined);
    const publicUrl = config.publicBaseUrl ?? (sandbox ? url : undefined);
    if (role !== 'api' && twilioBaseUrl) {
      twilio = new TwilioMessagesClient({
        baseUrl: twilioBaseUrl, timeoutMs: config.twilio.apiTimeoutMs, statusCallbackUrl: publicUrl ? `${publicUrl}/webhooks/twilio/status` : undefined,
      });
    }
    if (role !== 'api' && graph) {
      dispatcher = new Dispatcher({
        db, cipher, graph, twilio, logger: logger.child({ component: 'dispatcher' }), ...config.outbox, listenUrl: runtime.databaseUrl,
      });
    }
    if (role !== 'api') eventWorkers = await startEventWorkers(runtime, graph);
    const loops = [
      ...(dispatcher ? [dispatcherProbe(dispatcher, config.outbox.pollIntervalMs)] : []),
      ...(eventWorkers ? [relayProbe(eventWorkers.relay, config.events.pollIntervalMs)] : []),
    ];
    if (serveHttp) {
      app = await buildApp({
        db, logger, simulator, cipher, graph, databaseUrl: runtime.databaseUrl,
        meta: {
          appSecret: secrets.appSecret, verifyToken: config.meta.verifyToken, appId: config.meta.appId ?? (sandbox ? SANDBOX_APP_ID : undefined),
          embeddedSignupConfigId: config.meta.embeddedSignupConfigId, graphApiVersion: config.meta.graphApiVersion,
        },
        onMessageQueued: dispatcher ? () => dispatcher?.notify() : undefined,
        otp: {
          hashKey: config.otp.hashKey ?? cipher.deriveKey(OTP_KEY_LABEL), verifyKeys: config.otp.hashKey ? [config.otp.hashKey] : cipher.deriveKeys(OTP_KEY_LABEL), templateName: config.otp.templateName, templateLanguage: config.otp.templateLanguage,
        },
        loops,
        publicBaseUrl: config.publicBaseUrl,
        twilioSimulator,
        isShuttingDown: () => shuttingDown,
        rateLimit: { perMinute: config.rateLimitPerMinute },
        inboundBatch: config.inboundBatch,
        egress: new EgressGuard(config.events.subscriptionAllowList),
        webhookStoreMaxAttempts: config.webhookStoreMaxAttempts,
      });
      await reservation?.release();
      await app.listen({ port, host: config.host });
      // PORT=0 picks a free port: report the one the server really got.
      const address = app.server.address();
      if (typeof address === 'object' && address) url = localUrl(config.host, address.port);
      // A fresh sandbox: demo customers write first, through the real signed-webhook path.
      if (demoCreated && simulator && demo) await seedDemoConversations(simulator, demo.phone_number_id);
    } else if (config.workerHttpPort !== undefined && loops.length > 0) {
      // A worker-only process serves just the probes and metrics, on its own port.
      healthApp = await buildOpsApp({ db, logger, loops, isShuttingDown: () => shuttingDown });
      await healthApp.listen({ port: config.workerHttpPort, host: config.host });
    }
    dispatcher?.start();
    eventWorkers?.start();
    return { runtime, url, demo, close };
  } catch (error) {
    await close();
    throw error;
  }
}
