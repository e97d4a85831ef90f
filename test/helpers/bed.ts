/**
 * The set-up most HTTP test files share: a database of their own and the app on it.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll } from 'vitest';
import { createTestDatabase, type TestDatabase } from './db.js';
import { createTestApp, type TestAppOptions } from './factories.js';

/** What an HTTP test file (or describe block) needs: its database and the app on it. */
export interface AppBed {
  t: TestDatabase;
  app: FastifyInstance;
}

/**
 * Registers the beforeAll/afterAll of the file or describe block that calls it: a fresh database
 * (a pool of `poolSize`) and `createTestApp` on it with `appOptions` before, the app closed and the
 * database dropped after. Call it before hooks of your own that use `t` or `app`: beforeAll hooks
 * run in registration order, afterAll hooks in reverse, so theirs run while the app still exists.
 */
export function useAppBed(poolSize?: number, appOptions?: TestAppOptions): AppBed {
  const bed = {} as AppBed;
  beforeAll(async () => {
    bed.t = await createTestDatabase(poolSize);
    bed.app = await createTestApp(bed.t.db, appOptions);
  });
  afterAll(async () => {
    await bed.app?.close();
    await bed.t?.drop();
  });
  return bed;
}
