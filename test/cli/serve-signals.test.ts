import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const BIN = path.resolve(import.meta.dirname, '../../bin/wahub.js');

interface LogLine {
  level?: number;
  msg?: string;
}

/** Resolves when `child` writes a JSON log line with `msg`, or rejects after `timeoutMs`. */
function waitForLog(output: () => string, msg: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const poll = setInterval(() => {
      if (output().includes(`"msg":"${msg}"`)) {
        clearInterval(poll);
        resolve();
      } else if (Date.now() - started > timeoutMs) {
        clearInterval(poll);
        reject(new Error(`no "${msg}" log line within ${timeoutMs} ms:\n${output()}`));
      }
    }, 100);
  });
}

describe('wahub serve on embedded PostgreSQL', () => {
  let dataDir: string | undefined;
  let child: ChildProcess | undefined;
  afterAll(async () => {
    if (child?.exitCode === null && child.pid) process.kill(-child.pid, 'SIGKILL');
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('stops the hub, then PostgreSQL, on Ctrl-C to the process group, and logs a clean "stopped" last', async () => {
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'wahub-serve-'));
    await chmod(dataDir, 0o755);
    const env: NodeJS.ProcessEnv = { ...process.env, WAHUB_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'info', SANDBOX_STATUS_DELAYS_MS: '50,100,150' };
    delete env.DATABASE_URL;
    delete env.META_APP_SECRET;
    // detached: the child leads its own process group, as `npm start` does in a terminal, so
    // kill(-pid) reaches it and everything it spawned, as a terminal's Ctrl-C does.
    child = spawn(process.execPath, [BIN, 'serve'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
    await waitForLog(() => stdout, 'ready', 120_000);
    expect(stdout).toContain('export KEY=wah_');

    process.kill(-child.pid!, 'SIGINT');
    expect(await exited).toBe(0);
    const logs = stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as LogLine);
    const complaints = logs.filter((line) => (line.level ?? 0) >= 40);
    expect(complaints).toEqual([]);
    expect(stderr).toBe('');
    expect(logs.at(-1)?.msg).toBe('stopped');
    expect(logs.map((line) => line.msg)).toContain('shutting down');
    // PostgreSQL stopped too: it removes its pid file on a clean shutdown.
    expect(existsSync(path.join(dataDir, 'pg', 'postmaster.pid'))).toBe(false);
  }, 180_000);
});
