/**
 * Vitest global setup: one PostgreSQL for the whole run — `DATABASE_URL` when set, otherwise a
 * throw-away embedded PostgreSQL — and a template database migrated once. Each test file clones the
 * template into a fresh database (test/helpers/db.ts), as graphile-worker's tests do.
 */
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { createDb } from '../src/db/database.js';
import { startEmbeddedPostgres } from '../src/db/embedded.js';
import { migrateUp } from '../src/db/migrate.js';

declare module 'vitest' {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
    templateDatabase: string;
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${database}`;
  return parsed.toString();
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let dataDir: string | undefined;
  let stopEmbedded: (() => Promise<void>) | undefined;
  let baseUrl = process.env.DATABASE_URL;
  if (!baseUrl) {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'wahub-test-pg-'));
    // mkdtemp makes the folder 0700; as root, PostgreSQL runs as the postgres user and must enter it.
    await chmod(dataDir, 0o755);
    const embedded = await startEmbeddedPostgres(dataDir);
    stopEmbedded = embedded.stop;
    baseUrl = embedded.url;
    console.log(`[test] embedded PostgreSQL at ${new URL(baseUrl).host}`);
  } else {
    console.log(`[test] PostgreSQL from DATABASE_URL (${new URL(baseUrl).host})`);
  }
  const template = `wahub_template_${process.pid}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  const db = createDb(withDatabase(baseUrl, template), 2);
  await migrateUp(db);
  await db.destroy();
  project.provide('adminDatabaseUrl', baseUrl);
  project.provide('templateDatabase', template);

  return async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${template}`).catch(() => undefined);
    await admin.end();
    await stopEmbedded?.();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  };
}
