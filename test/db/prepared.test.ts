/**
 * Named prepared statements (src/db/database.ts): SQL marked `/* prepared: <name> *\/` is parsed
 * once per pooled connection and reused; unmarked SQL never leaves a prepared statement behind
 * (which would grow every backend's memory with each distinct text).
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Tx } from '../../src/db/database.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase(2);
});

afterAll(async () => {
  await t.drop();
});

/** The prepared statements of the connection running `tx`: name → times it ran (custom + generic plans, PostgreSQL ≥ 14). */
async function preparedOnThisConnection(tx: Tx) {
  const { rows } = await sql<{ name: string; generic_plans: string; custom_plans: string }>`
    SELECT name, generic_plans, custom_plans FROM pg_prepared_statements`.execute(tx);
  return new Map(rows.map((row) => [row.name, Number(row.generic_plans) + Number(row.custom_plans)]));
}

describe('prepared statements', () => {
  it('prepares a marked statement once per connection and runs it again by name with new parameters', async () => {
    const runs = await t.db.transaction().execute(async (tx) => {
      const results: number[] = [];
      for (const value of [1, 2, 3, 4, 5, 6, 7]) {
        const { rows } = await sql<{ doubled: number }>`/* prepared: test_double */ SELECT ${value}::int * 2 AS doubled`.execute(tx);
        results.push(rows[0]!.doubled);
      }
      return { results, prepared: await preparedOnThisConnection(tx) };
    });
    expect(runs.results).toEqual([2, 4, 6, 8, 10, 12, 14]);
    expect(runs.prepared.get('test_double')).toBe(7);
  });

  it('leaves no prepared statement behind for unmarked SQL', async () => {
    const prepared = await t.db.transaction().execute(async (tx) => {
      await sql`SELECT ${1}::int AS one -- prepared: not_a_mark`.execute(tx);
      await sql`SELECT 1 /* prepared: not_at_the_start */`.execute(tx);
      return preparedOnThisConnection(tx);
    });
    expect([...prepared.keys()].filter((name) => name !== 'test_double')).toEqual([]);
  });
});
