/**
 * Builds the HTTP application (no listening, no process concerns: see server.ts). Tests use it
 * through `app.inject()` or by listening on port 0.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { Db } from './db/database.js';
import { inboundRoutes } from './inbound/inbound.routes.js';
import { twilioRoutes } from './inbound/twilio.routes.js';
import { InboundBatcher, type InboundBatcherOptions } from './inbound/ingest-batcher.js';
import { messagesRoutes } from './outbound/messages.routes.js';
import { numbersRoutes } from './numbers/numbers.routes.js';
import { countQueuedMessagesByNumber } from './outbound/number-queue.service.js';
import { observeHttpDurations, opsRoutes } from './ops/ops.routes.js';
import type { LoopProbe } from './ops/ops.service.js';
import { signupRoutes } from './onboarding/signup.routes.js';
import { templatesRoutes } from './templates/templates.routes.js';
import { templateSyncerFor } from './templates/template-sync.service.js';
import type { GraphApiClient } from './providers/meta/graph.client.js';
import { EgressGuard } from './shared/egress.js';
import type { TokenCipher } from './shared/token-cipher.js';
import type { Simulator } from './simulator/meta/simulator.js';
import type { TwilioSimulator } from './simulator/twilio/simulator.js';
import { threadsRoutes } from './conversations/threads.routes.js';
import { mediaRoutes } from './conversations/media.routes.js';
import { deadLettersRoutes } from './ops/dead-letters.routes.js';
import { quickRepliesRoutes } from './conversations/quick-replies.routes.js';
import { loginRoutes, sessionRoutes } from './sessions/sessions.routes.js';
import { EventStreamHub } from './events/stream.hub.js';
import { streamRoutes } from './events/stream.routes.js';
import { threadActionsRoutes } from './conversations/thread-actions.routes.js';
import { eventSubscriptionsRoutes } from './events/subscriptions.routes.js';
import { endUsersRoutes } from './endusers/endusers.routes.js';
import { clientsRoutes } from './clients/clients.routes.js';
import type { OtpSettings } from './endusers/otp.service.js';
import { requireApiKey } from './http/auth.js';
import { authenticateRequest } from './sessions/request-auth.js';
import { registerErrorHandler, toErrorResponse } from './http/errors.js';
import { registerWebUi } from './http/web-ui.js';
import { requestLogger } from './http/log-redaction.js';
import { useSchemasForDocsOnly } from './http/openapi.js';
import { registerOpenApiDocs } from './http/openapi-docs.js';
import { rejectUnstorableInput } from './http/validation.js';
import { WahubLogController } from './http/request-logging.js';
import { createRateLimitHook, DEFAULT_RATE_LIMIT_PER_MINUTE, LOGIN_RATE_LIMIT_PER_MINUTE, type RateLimitOptions } from './http/rate-limit.js';

export interface AppOptions {
  db: Db;
  logger: Logger;
  meta: { appSecret: string; verifyToken: string | undefined; appId?: string; embeddedSignupConfigId?: string; graphApiVersion?: string };
  /** Encrypts tokens of numbers connected through the API. */
  cipher: TokenCipher;
  /** Graph API client for onboarding calls (Embedded Signup); signup answers not_configured without it. */
  graph?: GraphApiClient;
  /** Mounted at `/simulator` in sandbox mode. */
  simulator?: Simulator;
  /** Mounted at `/simulator/twilio` in sandbox mode. */
  twilioSimulator?: TwilioSimulator;
  /** Background loops of this process that readiness watches (worker roles). */
  loops?: LoopProbe[];
  /** True once shutdown began: readiness answers 503 so the load balancer drains this process. */
  isShuttingDown?: () => boolean;
  /** Wakes an in-process dispatcher after a message is queued. */
  onMessageQueued?: () => void;
  /** PostgreSQL URL for the event stream's LISTEN connection (`GET /v1/stream`); without it the stream polls. */
  databaseUrl?: string;
  /** Event stream fallback poll period, ms. Default 2000. */
  streamPollIntervalMs?: number;
  /** Folder of the built web inbox (default `web/dist`); false serves no UI. */
  webRoot?: string | false;
  /** `PUBLIC_BASE_URL`: the URL Twilio signs its webhooks with (behind a proxy); undefined = as received. */
  publicBaseUrl?: string;
  /**
   * OTP key and default authentication template. Default: key derived from the token cipher's
   * first key (HKDF, label "wahub otp code hash v1"), template `verification_code` / `en_US`.
   */
  otp?: OtpSettings;
  /** `/v1` requests per minute per API key (per IP without a valid key); 0 disables. Default 6000. */
  rateLimit?: RateLimitOptions;
  /** Group commit of inbound webhooks. Default: 100 webhooks per transaction, 2 transactions at once. */
  inboundBatch?: InboundBatcherOptions;
  /** WEBHOOK_STORE_MAX_ATTEMPTS: failed stores of one webhook body before it becomes a dead letter `store_failed`. Default 5. */
  webhookStoreMaxAttempts?: number;
  /** Which event-subscription URLs are allowed (SSRF). Default: https to public addresses only. */
  egress?: EgressGuard;
}

/** Request ids: the caller's `X-Request-Id` when sane, else a uuid; echoed back and logged as correlation id. */
function requestId(header: unknown): string {
  return typeof header === 'string' && /^[\w.:-]{1,128}$/.test(header) ? header : randomUUID();
}

/** `info.version` of the OpenAPI document: the package's version. */
const API_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** HKDF label of the OTP hash key derived from the token encryption key (when OTP_HASH_KEY is unset). */
export const OTP_KEY_LABEL = 'wahub otp code hash v1';

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // Request lines show the URL without its secret query parameters (hub.verify_token).
    loggerInstance: requestLogger(options.logger) as FastifyBaseLogger,
    genReqId: (request) => requestId(request.headers['x-request-id']),
    logController: new WahubLogController(),
    bodyLimit: 1024 * 1024,
    // Errors of the router itself (bad percent-encoding, over-long path ids) keep wahub's error shape.
    frameworkErrors: (error, _request, reply) => {
      const { status, body } = toErrorResponse(error);
      void (reply as FastifyReply).status(status).send(body);
    },
  });
  app.addHook('onSend', async (request, reply) => {
    void reply.header('x-request-id', request.id);
  });
  registerErrorHandler(app);
  useSchemasForDocsOnly(app);
  await registerOpenApiDocs(app, { version: API_VERSION });
  observeHttpDurations(app);
  await app.register(opsRoutes, { db: options.db, loops: options.loops ?? [], isShuttingDown: options.isShuttingDown ?? (() => false) });

  const ingest = new InboundBatcher(options.db, options.inboundBatch);
  // Runs once the server stopped taking requests: webhooks already acknowledged-to-be are committed first.
  app.addHook('onClose', async () => ingest.drain());
  await app.register(inboundRoutes, { ingest, db: options.db, appSecret: options.meta.appSecret, verifyToken: options.meta.verifyToken, storeMaxAttempts: options.webhookStoreMaxAttempts });
  const events = new EventStreamHub({ db: options.db, listenUrl: options.databaseUrl, logger: options.logger, pollIntervalMs: options.streamPollIntervalMs });
  app.addHook('onClose', async () => events.close());
  // Login is the one unauthenticated /v1 write: a much lower limit per IP stops password guessing.
  await app.register(async (scope) => {
    const perMinute = options.rateLimit?.perMinute ?? DEFAULT_RATE_LIMIT_PER_MINUTE;
    const limit = await createRateLimitHook(scope, { perMinute: perMinute === 0 ? 0 : Math.min(perMinute, LOGIN_RATE_LIMIT_PER_MINUTE) });
    if (limit) scope.addHook('onRequest', limit);
    rejectUnstorableInput(scope);
    await scope.register(loginRoutes, { db: options.db });
  });
  await app.register(twilioRoutes, { ingest, db: options.db, cipher: options.cipher, publicBaseUrl: options.publicBaseUrl });
  await app.register(async (api) => {
    requireApiKey(api, (request) => authenticateRequest(options.db, request), await createRateLimitHook(api, options.rateLimit ?? { perMinute: DEFAULT_RATE_LIMIT_PER_MINUTE }));
    rejectUnstorableInput(api);
    await api.register(sessionRoutes, { db: options.db, sandbox: options.simulator !== undefined });
    await api.register(threadActionsRoutes, { db: options.db });
    await api.register(quickRepliesRoutes, { db: options.db });
    await api.register(deadLettersRoutes, { db: options.db });
    await api.register(streamRoutes, { db: options.db, hub: events });
    if (options.graph) await api.register(mediaRoutes, { db: options.db, cipher: options.cipher, graph: options.graph });
    const templateSync = options.graph ? { db: options.db, cipher: options.cipher, graph: options.graph } : undefined;
    await api.register(templatesRoutes, { db: options.db, sync: templateSync });
    await api.register(messagesRoutes, { db: options.db, onQueued: options.onMessageQueued, syncTemplates: templateSync && templateSyncerFor(templateSync) });
    await api.register(threadsRoutes, { db: options.db });
    await api.register(numbersRoutes, { db: options.db, cipher: options.cipher, queueDepths: countQueuedMessagesByNumber });
    await api.register(eventSubscriptionsRoutes, { db: options.db, cipher: options.cipher, egress: options.egress ?? new EgressGuard() });
    await api.register(clientsRoutes, { db: options.db });
    await api.register(endUsersRoutes, {
      db: options.db,
      onQueued: options.onMessageQueued,
      otp: options.otp ?? {
        hashKey: options.cipher.deriveKey(OTP_KEY_LABEL), verifyKeys: options.cipher.deriveKeys(OTP_KEY_LABEL), templateName: 'verification_code', templateLanguage: 'en_US',
      },
    });
    if (options.graph) {
      await api.register(signupRoutes, {
        context: {
          db: options.db, cipher: options.cipher, graph: options.graph, logger: options.logger,
          meta: { appId: options.meta.appId, appSecret: options.meta.appSecret, configId: options.meta.embeddedSignupConfigId, graphApiVersion: options.meta.graphApiVersion ?? 'v24.0' },
        },
      });
    }
  });
  if (options.simulator) await app.register(options.simulator.plugin, { prefix: '/simulator' });
  if (options.twilioSimulator) await app.register(options.twilioSimulator.plugin, { prefix: '/simulator/twilio' });
  if (options.webRoot !== false) await registerWebUi(app, options.webRoot);
  return app;
}

/** The probes and metrics alone (worker-only processes): `/healthz`, `/readyz`, `/metrics`, `/metrics-json`. */
export async function buildOpsApp(options: { db: Db; logger: Logger; loops: LoopProbe[]; isShuttingDown: () => boolean }): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: options.logger as FastifyBaseLogger, logController: new WahubLogController() });
  registerErrorHandler(app);
  useSchemasForDocsOnly(app);
  await app.register(opsRoutes, options);
  return app;
}
