/**
 * Schema migrations (Kysely Migrator). Migrations are numbered modules with `up` and `down`, listed
 * here statically so they load the same way from TypeScript sources and from a bundle. A migration
 * is never edited after it lands; add a new one.
 */
import { type Migration, type MigrationResultSet, Migrator } from 'kysely';
import type { Db } from './database.js';
import * as m0001 from './migrations/0001_initial.js';
import * as m0002 from './migrations/0002_delivery_engine.js';
import * as m0003 from './migrations/0003_onboarding.js';
import * as m0004 from './migrations/0004_operations.js';
import * as m0005 from './migrations/0005_domain_events.js';
import * as m0006 from './migrations/0006_operator_sessions.js';
import * as m0007 from './migrations/0007_twilio.js';
import * as m0008 from './migrations/0008_inbound_throughput.js';
import * as m0009 from './migrations/0009_business_scoped_user_ids.js';
import * as m0010 from './migrations/0010_templates.js';
import * as m0011 from './migrations/0011_retention.js';

const MIGRATIONS: Record<string, Migration> = {
  '0001_initial': m0001,
  '0002_delivery_engine': m0002,
  '0003_onboarding': m0003,
  '0004_operations': m0004,
  '0005_domain_events': m0005,
  '0006_operator_sessions': m0006,
  '0007_twilio': m0007,
  '0008_inbound_throughput': m0008,
  '0009_business_scoped_user_ids': m0009,
  '0010_templates': m0010,
  '0011_retention': m0011,
};

function migrator(db: Db): Migrator {
  return new Migrator({
    db,
    provider: { getMigrations: async () => MIGRATIONS },
    migrationTableName: 'schema_migrations',
    migrationLockTableName: 'schema_migrations_lock',
  });
}

export interface MigrationStatus {
  name: string;
  executedAt: Date | null;
}

/**
 * The names a migration run applied or reverted.
 * @throws Error "migration N failed" (the SQL error as `cause`) when a migration failed; the error
 *   itself when none ran (the database could not be reached or locked), so its cause stays visible
 */
function unwrap(result: MigrationResultSet): string[] {
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName;
    if (failed === undefined) throw result.error instanceof Error ? result.error : new Error(String(result.error));
    throw new Error(`migration ${failed} failed`, { cause: result.error });
  }
  return (result.results ?? []).map((r) => r.migrationName);
}

/** Applies every pending migration; returns the names applied. Safe to run concurrently (Kysely locks). */
export async function migrateUp(db: Db): Promise<string[]> {
  return unwrap(await migrator(db).migrateToLatest());
}

/** Reverts the most recent migration; returns the names reverted (empty when none is applied). */
export async function migrateDown(db: Db): Promise<string[]> {
  return unwrap(await migrator(db).migrateDown());
}

/** Every known migration with the time it was applied, or null when pending. */
export async function migrationStatus(db: Db): Promise<MigrationStatus[]> {
  const all = await migrator(db).getMigrations();
  return all.map((m) => ({ name: m.name, executedAt: m.executedAt ?? null }));
}
