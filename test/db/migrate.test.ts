import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDown, migrateUp, migrationStatus } from '../../src/db/migrate.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

async function tableNames(t: TestDatabase): Promise<string[]> {
  const result = await sql<{ table_name: string }>`
    SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name NOT LIKE 'schema_migrations%'
    ORDER BY table_name`.execute(t.db);
  return result.rows.map((row) => row.table_name);
}

describe('migrations', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(2);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('runs up, down and up again, ending with the full schema', async () => {
    const before = await tableNames(t);
    expect(before).toContain('messages');
    expect(before).toContain('message_outbox');

    const names = (await migrationStatus(t.db)).map((m) => m.name);
    expect(names.slice(0, 2)).toEqual(['0001_initial', '0002_delivery_engine']);
    for (const name of [...names].reverse()) expect(await migrateDown(t.db)).toEqual([name]);
    expect(await tableNames(t)).toEqual([]);
    expect((await migrationStatus(t.db)).every((m) => m.executedAt === null)).toBe(true);

    expect(await migrateUp(t.db)).toEqual(names);
    expect(await tableNames(t)).toEqual(before);
    expect(await migrateUp(t.db)).toEqual([]);
  });
});
