/**
 * What the server and every CLI command share: the validated config, the logger, the database
 * (DATABASE_URL, or embedded PostgreSQL under the data directory, attached to if already running),
 * migrated to the latest schema, and the secrets in force.
 */
import pino, { type Logger } from 'pino';
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

export function createLogger(level: Config['logLevel'], toStderr = false): Logger {
  const options = { level, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, base: { service: 'wahub' } };
  return toStderr ? pino(options, pino.destination(2)) : pino(options);
}

/** @throws ConfigError (every configuration problem at once), database start or migration errors */
export async function openRuntime(options: RuntimeOptions = {}): Promise<Runtime> {
  const config = loadConfig(options.env);
  const logger = createLogger(options.logLevel ?? config.logLevel, options.logToStderr);
  let stopEmbedded: () => Promise<void> = async () => undefined;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    const embedded = await startEmbeddedPostgres(config.dataDir, (line) => logger.trace({ postgres: line }));
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
    if (secrets.generated) logger.warn({ file: secrets.file }, 'sandbox mode: generated an app secret and a token-encryption key');
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
