/**
 * What the server and every CLI command share: the validated config, the logger, the database
 * (DATABASE_URL, or embedded PostgreSQL under the data directory, attached to if already running),
 * migrated to the latest schema, and the secrets in force.
 */
import pino, { type Logger } from 'pino';
import pinoPretty from 'pino-pretty';
import { type Config, loadConfig } from './config/config.js';
import { createDb, type Db } from './db/database.js';
import { startEmbeddedPostgres } from './db/embedded.js';
import { migrateUp } from './db/migrate.js';
import { resolveSecrets, type RuntimeSecrets } from './sandbox/secrets.js';
import { TokenCipher } from './shared/token-cipher.js';

export interface Runtime {
  config: Config;
  logger: Logger;
  db: Db;
  databaseUrl: string;
  secrets: RuntimeSecrets;
  cipher: TokenCipher;
  /** Closes the pool and stops embedded PostgreSQL if this process started it. */
  close(): Promise<void>;
}

export interface RuntimeOptions {
  /** Apply pending migrations (default true; `wahub migrate` passes false). */
  migrate?: boolean;
  /** Logger override (CLI commands log warnings only). */
  logLevel?: Config['logLevel'];
  /** Log to stderr (CLI commands: stdout carries their one JSON object). */
  logToStderr?: boolean;
  env?: NodeJS.ProcessEnv;
  /** Run embedded PostgreSQL in its own process group (the hub, which stops it after draining). */
  detachEmbeddedPostgres?: boolean;
}

/** Tokens, secrets and OTPs never reach the logs (SPEC §2.4). */
const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-twilio-signature"]',
  '*.access_token',
  '*.accessToken',
  '*.auth_token',
  '*.authToken',
  '*.app_secret',
  '*.appSecret',
];

/**
 * The process logger: JSON lines (one object per line, for log shippers), or, when `pretty`,
 * human-readable lines (pino-pretty, in-process and synchronous so the last line before an exit is
 * never lost).
 * @param pretty default: whether the destination is a terminal (a TTY)
 */
export function createLogger(level: Config['logLevel'], toStderr = false, pretty?: boolean): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'wahub' } };
  const fd = toStderr ? 2 : 1;
  if (pretty ?? (toStderr ? process.stderr : process.stdout).isTTY) {
    return pino(options, pinoPretty({ destination: fd, sync: true, ignore: 'pid,hostname,service', translateTime: 'SYS:HH:MM:ss.l' }));
  }
  return pino(options, pino.destination({ dest: fd, sync: true }));
}

/** @throws ConfigError (every configuration problem at once), database start or migration errors */
export async function openRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const config = loadConfig(options.env);
  const logger = createLogger(options.logLevel ?? config.logLevel, options.logToStderr);
  let stopEmbedded: () => Promise<void> = async () => undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const embedded = await startEmbeddedPostgres(config.dataDir, (line) => logger.trace({ postgres: line }), { detached: options.detachEmbeddedPostgres });
    stopEmbedded = embedded.stop;
    databaseUrl = embedded.url;
    logger.debug({ started_here: embedded.startedHere }, 'embedded PostgreSQL ready');
  }
  const db = createDb(databaseUrl, config.databasePoolSize);
  try {
    if (options.migrate !== false) {
      const applied = await migrateUp(db);
      if (applied.length > 0) logger.info({ migrations: applied }, 'migrations applied');
    }
    const secrets = await resolveSecrets(config);
    // Expected on a fresh sandbox, nothing to act on: info, not a warning.
    if (secrets.generated) logger.info({ file: secrets.file }, 'sandbox mode: generated an app secret and a token-encryption key');
    return {
      config, logger, db, databaseUrl, secrets,
      cipher: new TokenCipher(secrets.tokenKeys),
      close: async () => {
        await db.destroy();
        await stopEmbedded();
      },
    };
  } catch (error) {
    await db.destroy();
    await stopEmbedded();
    throw error;
  }
}
