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
  const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
  pools.set(db, pool);
  return db;
}

const pools = new WeakMap<Db, pg.Pool>();

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
