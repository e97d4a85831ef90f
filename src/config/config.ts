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
  /** Token encryption keys, `key_id:base64(32 bytes)`, comma-separated. Required in production. */
  TOKEN_ENCRYPTION_KEYS: tokenKeysSchema,
  /** NATS server for domain events (optional). */
  NATS_URL: optionalString,
  /** Outbox lease time-to-live, ms. Default 60000. */
  OUTBOX_LEASE_TTL_MS: positiveInt(60_000),
  /** Lease refresh period for rows in flight, ms. Default 30000. */
  OUTBOX_LEASE_REFRESH_MS: positiveInt(30_000),
  /** Rows claimed per dispatcher round. Default 100. */
  OUTBOX_BATCH_SIZE: positiveInt(100),
  /** Rows one worker holds at once (waiting for a send slot or in flight). Default 2000. */
  OUTBOX_MAX_IN_FLIGHT: positiveInt(2_000),
  /** Dispatcher poll interval when idle, ms. Default 250. */
  OUTBOX_POLL_INTERVAL_MS: positiveInt(250),
  /** Delivery attempts before a retryable failure becomes permanent. Default 8. */
  OUTBOX_MAX_ATTEMPTS: positiveInt(8),
  /** First retry delay, ms (doubles each attempt, with jitter). Default 1000. */
  OUTBOX_RETRY_BASE_MS: positiveInt(1_000),
  /** `/v1` requests per minute per API key (per client IP without a valid key), per process; 0 disables. Default 6000. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(0).default(6_000),
  /** Simulator status webhook delays in sandbox mode, ms: "sent,delivered,read". Default "500,1500,3000". */
  SANDBOX_STATUS_DELAYS_MS: z
    .string()
    .regex(/^\d+,\d+,\d+$/, 'must be three comma-separated integers (ms)')
    .default('500,1500,3000'),
});

export interface TokenKey {
  id: string;
  key: Buffer;
}

export interface Config {
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
  /** Empty in sandbox mode until generated. */
  tokenKeys: TokenKey[];
  natsUrl: string | undefined;
  /** `/v1` requests per minute per API key; 0 = no limit. */
  rateLimitPerMinute: number;
  outbox: {
    leaseTtlMs: number;
    leaseRefreshMs: number;
    batchSize: number;
    maxInFlight: number;
    pollIntervalMs: number;
    maxAttempts: number;
    retryBaseMs: number;
  };
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
    tokenKeys: values.TOKEN_ENCRYPTION_KEYS ?? [],
    natsUrl: values.NATS_URL,
    rateLimitPerMinute: values.RATE_LIMIT_PER_MINUTE,
    outbox: {
      leaseTtlMs: values.OUTBOX_LEASE_TTL_MS,
      leaseRefreshMs: values.OUTBOX_LEASE_REFRESH_MS,
      batchSize: values.OUTBOX_BATCH_SIZE,
      maxInFlight: values.OUTBOX_MAX_IN_FLIGHT,
      pollIntervalMs: values.OUTBOX_POLL_INTERVAL_MS,
      maxAttempts: values.OUTBOX_MAX_ATTEMPTS,
      retryBaseMs: values.OUTBOX_RETRY_BASE_MS,
    },
    sandbox: { statusDelaysMs: { sentMs, deliveredMs, readMs } },
  };
}
