/**
 * The one configuration module: every environment variable wahub reads, validated at boot with
 * every problem reported at once. Nothing else reads `process.env`.
 *
 * Sandbox mode: when `META_APP_SECRET` is unset, wahub runs against its own Cloud API simulator,
 * generates an app secret and a token-encryption key under `WAHUB_DATA_DIR`, and seeds demo data.
 * Production mode: `META_APP_SECRET` is set, and `META_VERIFY_TOKEN` and `TOKEN_ENCRYPTION_KEYS`
 * are then required.
 */
import { z } from 'zod';
import { type OutboxConfig, outboxConfig, outboxEnv, outboxProblems } from './outbox.config.js';
import { type RetentionConfig, retentionConfig, retentionEnv } from './retention.config.js';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);
const emptyAsUndefined = (value: unknown) => (value === '' ? undefined : value);
const optionalString = z.preprocess(emptyAsUndefined, z.string().optional());

/** `key_id:base64-of-32-bytes`, comma-separated; the first key encrypts, all decrypt. */
const tokenKeysSchema = z.preprocess(
  emptyAsUndefined,
  z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined;
      const keys = value.split(',').map((part) => part.trim()).filter(Boolean).map((part) => {
        const [id, secret] = part.split(':');
        const bytes = secret ? Buffer.from(secret, 'base64') : Buffer.alloc(0);
        if (!id || !/^[A-Za-z0-9_-]{1,32}$/.test(id) || bytes.length !== 32) {
          ctx.addIssue({ code: 'custom', message: 'each key must be "key_id:<base64 of 32 bytes>" with key_id of [A-Za-z0-9_-]{1,32}' });
          return null;
        }
        return { id, key: bytes };
      });
      if (keys.length === 0) ctx.addIssue({ code: 'custom', message: 'at least one key is required' });
      return keys.filter((key) => key !== null) as TokenKey[];
    }),
);

const envSchema = z.object({
  /** PostgreSQL URL. Unset: embedded PostgreSQL under WAHUB_DATA_DIR. */
  DATABASE_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^postgres(ql)?$/ }).optional()),
  /** Connections per process. Default 10. */
  DATABASE_POOL_SIZE: positiveInt(10),
  /** HTTP port. Default 3000. */
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  /** Interface to listen on. Default 127.0.0.1 (set 0.0.0.0 behind a load balancer). */
  HOST: z.string().default('127.0.0.1'),
  /** Port of the probes/metrics server of a worker-only process (`serve --role worker`). Unset: none. */
  WORKER_HTTP_PORT: z.preprocess(emptyAsUndefined, z.coerce.number().int().min(0).max(65535).optional()),
  /** Wait after readiness turns 503 on SIGTERM before draining, ms (for load balancers). Default 0. */
  SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(60_000).default(0),
  /** Directory for embedded PostgreSQL and sandbox secrets. Default `.wahub`. */
  WAHUB_DATA_DIR: z.string().default('.wahub'),
  /** pino level. Default info. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Meta app secret (signs webhooks). Unset: sandbox mode. */
  META_APP_SECRET: optionalString,
  /** The verify token entered in the App Dashboard (GET handshake). Required in production. */
  META_VERIFY_TOKEN: optionalString,
  /** Meta app id (Embedded Signup). Sandbox: `sandbox-app`. */
  META_APP_ID: optionalString,
  /** Embedded Signup configuration id for FB.login (App Dashboard > Facebook Login for Business). */
  META_EMBEDDED_SIGNUP_CONFIG_ID: optionalString,
  /** Graph API base URL. Default https://graph.facebook.com; in sandbox mode, the built-in simulator. */
  GRAPH_API_BASE_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  /** Graph API version path segment. Default v24.0. */
  GRAPH_API_VERSION: z.string().regex(/^v\d+\.\d+$/, 'must look like v24.0').default('v24.0'),
  /** Timeout of one Graph API call, ms. Default 10000. */
  GRAPH_API_TIMEOUT_MS: positiveInt(10_000),
  /**
   * Public URL of this hub as providers reach it (scheme, host, optional path prefix), e.g.
   * `https://hub.example.com`. Twilio signs webhooks over the URL it called, so behind a proxy or
   * tunnel the signature check needs it; it also forms the Twilio `StatusCallback` URL. Unset:
   * the request's protocol and Host header (and no StatusCallback outside sandbox mode).
   */
  PUBLIC_BASE_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  /** Twilio REST API base URL. Default https://api.twilio.com; in sandbox mode, the built-in simulator. */
  TWILIO_API_BASE_URL: z.preprocess(emptyAsUndefined, z.url({ protocol: /^https?$/ }).optional()),
  /** Timeout of one Twilio API call, ms. Default 10000. */
  TWILIO_API_TIMEOUT_MS: positiveInt(10_000),
  /** Token encryption keys, `key_id:base64(32 bytes)`, comma-separated. Required in production. */
  TOKEN_ENCRYPTION_KEYS: tokenKeysSchema,
  /** NATS server for domain events (optional). Unset: events go to HTTP event subscriptions only. */
  NATS_URL: optionalString,
  /** JetStream stream of domain events (created if missing). Default WAHUB_EVENTS. */
  NATS_STREAM: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be letters, digits, _ or -').default('WAHUB_EVENTS'),
  /** First token of event subjects, `<prefix>.<org_id>.<event_type>`. Default wahub. */
  NATS_SUBJECT_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be letters, digits, _ or -').default('wahub'),
  /** Events the relay claims per batch. Default 100. */
  EVENT_RELAY_BATCH_SIZE: positiveInt(100),
  /** Relay and deliverer poll interval when idle, ms. Default 250. */
  EVENT_RELAY_POLL_INTERVAL_MS: positiveInt(250),
  /** Published events are deleted after this many days. Default 7. */
  EVENT_RETENTION_DAYS: positiveInt(7),
  /** Timeout of one HTTP event delivery, ms. Default 10000. */
  EVENT_DELIVERY_TIMEOUT_MS: positiveInt(10_000),
  /** First retry delay of a failed HTTP event delivery, ms (doubles, ±20 % jitter). Default 10000. */
  EVENT_DELIVERY_RETRY_BASE_MS: positiveInt(10_000),
  /** Longest delay between two delivery attempts, ms. Default 3600000 (1 h). */
  EVENT_DELIVERY_RETRY_MAX_MS: positiveInt(3_600_000),
  /** A delivery still failing this long after it was created is dead-lettered, ms. Default 86400000 (24 h). */
  EVENT_DELIVERY_GIVE_UP_MS: positiveInt(86_400_000),
  /** Event-subscription targets allowed over http or at non-public addresses (host names, IPs, CIDR ranges; shared/egress.ts). Default none. */
  EVENT_SUBSCRIPTION_ALLOW_LIST: z.string().default('').transform((value) => value.split(',').map((entry) => entry.trim()).filter(Boolean))
    .refine((entries) => entries.every((entry) => /^[A-Za-z0-9.:_-]+(\/\d{1,3})?$/.test(entry)), 'must be comma-separated host names, IP addresses or CIDR ranges'),
  /** Period of the worker's maintenance jobs (event retention, client retention, OTP clean-up), ms. Default 3600000. */
  MAINTENANCE_INTERVAL_MS: positiveInt(3_600_000),
  /** Period of the worker's template sync of every connected WABA (GET /{waba_id}/message_templates), ms; 0: no scheduled sync. Default 21600000 (6 h). */
  TEMPLATE_SYNC_INTERVAL_MS: z.coerce.number().int().min(0).max(2_147_483_647).default(21_600_000),
  /** Clients inactive for this many days are purged by the worker. Unset: no scheduled purge. */
  RETENTION_INACTIVE_DAYS: z.preprocess(emptyAsUndefined, z.coerce.number().int().positive().optional()),
  /** Key of the OTP code hashes, base64 of ≥ 32 bytes. Unset: derived (HKDF) from the first TOKEN_ENCRYPTION_KEYS key. */
  OTP_HASH_KEY: z.preprocess(
    emptyAsUndefined,
    z.string().optional().refine((value) => value === undefined || Buffer.from(value, 'base64').length >= 32, 'must be base64 of at least 32 bytes'),
  ),
  /** Default authentication template for OTPs (an organization may set its own). Default verification_code. */
  OTP_TEMPLATE_NAME: z.string().regex(/^[a-z0-9_]{1,512}$/, 'must be a template name (a-z, 0-9, _)').default('verification_code'),
  /** Language of the default OTP template. Default en_US. */
  OTP_TEMPLATE_LANGUAGE: z.string().regex(/^[a-z]{2,3}(_[A-Z]{2})?$/, 'must look like en_US').default('en_US'),
  /** `/v1` requests per minute per API key (per client IP without a valid key), per process; 0 disables. Default 6000. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(6_000),
  /** Most webhooks committed together in one inbound transaction (group commit). Default 100; 1 = one transaction per webhook. */
  INBOUND_BATCH_MAX_WEBHOOKS: z.coerce.number().int().min(1).max(1_000).default(100),
  /** Most inbound batch transactions at once per process (each holds a pooled connection). Default 2. */
  INBOUND_BATCH_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  /** Simulator status webhook delays in sandbox mode, ms: "sent,delivered,read". Default "500,1500,3000". */
  SANDBOX_STATUS_DELAYS_MS: z
    .string()
    .regex(/^\d+,\d+,\d+$/, 'must be three comma-separated integers (ms)')
    .default('500,1500,3000'),
  ...retentionEnv,
  ...outboxEnv,
});

export interface TokenKey {
  id: string;
  key: Buffer;
}

export interface Config extends RetentionConfig {
  mode: 'sandbox' | 'production';
  databaseUrl: string | undefined;
  databasePoolSize: number;
  port: number;
  host: string;
  workerHttpPort: number | undefined;
  shutdownGraceMs: number;
  dataDir: string;
  logLevel: z.infer<typeof envSchema>['LOG_LEVEL'];
  meta: {
    /** Undefined in sandbox mode until the sandbox secret is generated (see sandbox/secrets.ts). */
    appSecret: string | undefined;
    verifyToken: string | undefined;
    appId: string | undefined;
    embeddedSignupConfigId: string | undefined;
    /** Undefined in sandbox mode: the simulator's URL is only known once the server listens. */
    graphApiBaseUrl: string | undefined;
    graphApiVersion: string;
    graphApiTimeoutMs: number;
  };
  /** `PUBLIC_BASE_URL` without a trailing slash, or undefined. */
  publicBaseUrl: string | undefined;
  twilio: {
    /** Undefined in sandbox mode (the simulator's URL is known once the server listens). */
    apiBaseUrl: string | undefined;
    apiTimeoutMs: number;
  };
  /** Empty in sandbox mode until generated. */
  tokenKeys: TokenKey[];
  natsUrl: string | undefined;
  events: {
    natsStream: string;
    natsSubjectPrefix: string;
    relayBatchSize: number;
    pollIntervalMs: number;
    retentionDays: number;
    deliveryTimeoutMs: number;
    deliveryRetryBaseMs: number;
    deliveryRetryMaxMs: number;
    deliveryGiveUpMs: number;
    /** EVENT_SUBSCRIPTION_ALLOW_LIST entries (see shared/egress.ts). */
    subscriptionAllowList: string[];
  };
  maintenance: { intervalMs: number; inactiveDays: number | undefined };
  /** The worker's template sync period, ms (0: off). */
  templateSyncIntervalMs: number;
  otp: { hashKey: Buffer | undefined; templateName: string; templateLanguage: string };
  /** `/v1` requests per minute per API key; 0 = no limit. */
  rateLimitPerMinute: number;
  /** Group commit of inbound webhooks (InboundBatcher). */
  inboundBatch: { maxBatchSize: number; maxConcurrentBatches: number };
  outbox: OutboxConfig;
  sandbox: { statusDelaysMs: { sentMs: number; deliveredMs: number; readMs: number } };
}

/** Thrown by loadConfig; `problems` lists every invalid variable as "NAME: reason". */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads and validates the configuration.
 * @param env the environment (defaults to process.env)
 * @throws ConfigError listing every problem at once
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = envSchema.safeParse(env);
  const problems = parsed.success
    ? []
    : parsed.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`);
  const values = parsed.success ? parsed.data : undefined;
  if (values?.META_APP_SECRET !== undefined) {
    if (!values.META_VERIFY_TOKEN) problems.push('META_VERIFY_TOKEN: required when META_APP_SECRET is set');
    if (!values.TOKEN_ENCRYPTION_KEYS) problems.push('TOKEN_ENCRYPTION_KEYS: required when META_APP_SECRET is set');
  }
  if (values) problems.push(...outboxProblems(values));
  if (!values || problems.length > 0) throw new ConfigError(problems);
  const mode = values.META_APP_SECRET === undefined ? 'sandbox' : 'production';
  const [sentMs, deliveredMs, readMs] = values.SANDBOX_STATUS_DELAYS_MS.split(',').map(Number) as [number, number, number];
  return {
    mode,
    databaseUrl: values.DATABASE_URL,
    databasePoolSize: values.DATABASE_POOL_SIZE,
    port: values.PORT,
    host: values.HOST,
    workerHttpPort: values.WORKER_HTTP_PORT,
    shutdownGraceMs: values.SHUTDOWN_GRACE_MS,
    dataDir: values.WAHUB_DATA_DIR,
    logLevel: values.LOG_LEVEL,
    meta: {
      appSecret: values.META_APP_SECRET,
      verifyToken: values.META_VERIFY_TOKEN,
      appId: values.META_APP_ID,
      embeddedSignupConfigId: values.META_EMBEDDED_SIGNUP_CONFIG_ID,
      graphApiBaseUrl: values.GRAPH_API_BASE_URL ?? (mode === 'production' ? 'https://graph.facebook.com' : undefined),
      graphApiVersion: values.GRAPH_API_VERSION,
      graphApiTimeoutMs: values.GRAPH_API_TIMEOUT_MS,
    },
    publicBaseUrl: values.PUBLIC_BASE_URL?.replace(/\/+$/, ''),
    twilio: {
      apiBaseUrl: values.TWILIO_API_BASE_URL ?? (mode === 'production' ? 'https://api.twilio.com' : undefined),
      apiTimeoutMs: values.TWILIO_API_TIMEOUT_MS,
    },
    tokenKeys: values.TOKEN_ENCRYPTION_KEYS ?? [],
    natsUrl: values.NATS_URL,
    events: {
      natsStream: values.NATS_STREAM,
      natsSubjectPrefix: values.NATS_SUBJECT_PREFIX,
      relayBatchSize: values.EVENT_RELAY_BATCH_SIZE,
      pollIntervalMs: values.EVENT_RELAY_POLL_INTERVAL_MS,
      retentionDays: values.EVENT_RETENTION_DAYS,
      deliveryTimeoutMs: values.EVENT_DELIVERY_TIMEOUT_MS,
      deliveryRetryBaseMs: values.EVENT_DELIVERY_RETRY_BASE_MS,
      deliveryRetryMaxMs: values.EVENT_DELIVERY_RETRY_MAX_MS,
      deliveryGiveUpMs: values.EVENT_DELIVERY_GIVE_UP_MS,
      subscriptionAllowList: values.EVENT_SUBSCRIPTION_ALLOW_LIST,
    },
    maintenance: { intervalMs: values.MAINTENANCE_INTERVAL_MS, inactiveDays: values.RETENTION_INACTIVE_DAYS },
    templateSyncIntervalMs: values.TEMPLATE_SYNC_INTERVAL_MS,
    otp: {
      hashKey: values.OTP_HASH_KEY === undefined ? undefined : Buffer.from(values.OTP_HASH_KEY, 'base64'),
      templateName: values.OTP_TEMPLATE_NAME,
      templateLanguage: values.OTP_TEMPLATE_LANGUAGE,
    },
    rateLimitPerMinute: values.RATE_LIMIT_PER_MINUTE,
    inboundBatch: { maxBatchSize: values.INBOUND_BATCH_MAX_WEBHOOKS, maxConcurrentBatches: values.INBOUND_BATCH_CONCURRENCY },
    sandbox: { statusDelaysMs: { sentMs, deliveredMs, readMs } },
    ...retentionConfig(values),
    outbox: outboxConfig(values),
  };
}
