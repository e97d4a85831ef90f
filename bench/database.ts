/**
 * A fresh, migrated database for one benchmark run (on DATABASE_URL's server or embedded PostgreSQL).
 */
import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createDb, type Db } from '../src/db/database.js';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { migrateUp } from '../src/db/migrate.js';

export interface BenchDatabase {
  db: Db;
  /** Connection string of this run's database (for worker processes and LISTEN). */
  url: string;
  /** Where the server came from, for the report. */
  source: string;
  /** Creates another empty database on the same server (dropped by close) and returns its URL. */
  createSiblingDatabase(prefix: string): Promise<string>;
  close(): Promise<void>;
}

/** @param prefix name of the database, `<prefix>_<random>` (created here, dropped by close) */
export async function openBenchDatabase(poolSize: number, prefix = 'wahub_bench'): Promise<BenchDatabase> {
  let base = process.env.DATABASE_URL;
  let cleanup = async () => undefined as void;
  let source = 'DATABASE_URL';
  if (!base) {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wahub-bench-pg-'));
    await chmod(dir, 0o755);
    const embedded = await startEmbeddedPostgres(dir);
    base = embedded.url;
    source = 'embedded PostgreSQL';
    cleanup = async () => {
      await embedded.stop();
      await rm(dir, { recursive: true, force: true });
    };
  }
  const server = base;
  const name = `${prefix}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(server);
  url.pathname = `/${name}`;
  const db = createDb(url.toString(), poolSize);
  await migrateUp(db);
  const siblings: string[] = [];
  return {
    db,
    url: url.toString(),
    source,
    createSiblingDatabase: async (prefix) => {
      const sibling = `${prefix}_${randomBytes(4).toString('hex')}`;
      await admin.query(`CREATE DATABASE ${sibling}`);
      siblings.push(sibling);
      const siblingUrl = new URL(server);
      siblingUrl.pathname = `/${sibling}`;
      return siblingUrl.toString();
    },
    close: async () => {
      await db.destroy();
      for (const sibling of [name, ...siblings]) await admin.query(`DROP DATABASE IF EXISTS ${sibling} WITH (FORCE)`);
      await admin.end();
      await cleanup();
    },
  };
}

/** Percentile of sorted numbers (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
