/**
 * The PostgreSQL connection: one `pg` pool wrapped in Kysely, and the transaction helper every
 * multi-statement write goes through.
 */
import { Kysely, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { Database } from './schema.js';
import { isRetryableTransactionError } from './errors.js';

export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** Either the pool or a transaction: what a repository function that needs no transaction takes. */
export type Executor = Db | Tx;

// Return bigint columns (outbox ids, counts) as strings, never as lossy numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => value);

/**
 * Opens a pooled Kysely instance.
 * @param connectionString a `postgres://` URL
 * @param poolSize maximum connections held by this process
 */
export function createDb(connectionString: string, poolSize = 10): Db {
  const pool = new pg.Pool({ connectionString, max: poolSize, connectionTimeoutMillis: 5_000 });
  // A dropped idle connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  pool.on('connect', prepareMarkedStatements);
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  pools.set(db, pool);
  return db;
}

const pools = new WeakMap<Db, pg.Pool>();

/**
 * SQL whose text starts with `/* prepared: <name> *\/` runs as the named prepared statement
 * `<name>` on each connection: PostgreSQL parses and plans it once per connection (and settles on
 * a generic plan after five runs) instead of on every run. Meant for the few fixed-text, hot
 * statements of the inbound batch, where parse and plan cost PostgreSQL more than the rows did
 * (bench/inbound, docs/PERFORMANCE.md). A name must always come with the same text (pg refuses
 * otherwise), so never mark SQL whose text varies, such as `IN (…)` lists built per call.
 * Behind PgBouncer, use session pooling or a version that tracks prepared statements (≥ 1.21).
 */
const PREPARED_MARK = /^\s*\/\* prepared: ([a-z0-9_]{1,63}) \*\//;

function prepareMarkedStatements(client: pg.PoolClient): void {
  const query = client.query.bind(client) as (...args: unknown[]) => unknown;
  (client as unknown as { query: (...args: unknown[]) => unknown }).query = (text: unknown, values?: unknown, ...rest: unknown[]) => {
    const name = typeof text === 'string' && Array.isArray(values) ? PREPARED_MARK.exec(text)?.[1] : undefined;
    return name ? query({ name, text, values }, ...rest) : query(text, values, ...rest);
  };
}

/** Connection counts of a Db's pool (for metrics): total, idle, and clients waiting for one. */
export function poolStats(db: Db): { total: number; idle: number; waiting: number } | undefined {
  const pool = pools.get(db);
  return pool && { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount };
}

/**
 * Runs `work` in a READ COMMITTED transaction, retrying the whole transaction (up to `attempts`
 * times) when PostgreSQL reports a deadlock or serialization failure, which concurrent upserts
 * may cause and which are safe to replay.
 */
export async function withTransaction<T>(db: Db, work: (tx: Tx) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(work);
    } catch (error) {
      if (attempt >= attempts || !isRetryableTransactionError(error)) throw error;
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 10 * attempt));
    }
  }
}
