/**
 * Runs the real `wahub` CLI (`node bin/wahub.js …`) as a child process against a test database,
 * as test/cli/cli.test.ts does, and returns its exit code and output.
 */
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

const BIN = path.resolve(import.meta.dirname, '../../bin/wahub.js');

/** `TOKEN_ENCRYPTION_KEYS` entry of the test cipher's key (`test1`, 32 bytes of 7). */
export const TEST_TOKEN_KEYS = `test1:${Buffer.alloc(32, 7).toString('base64')}`;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A temporary WAHUB_DATA_DIR (sandbox mode writes its generated secrets there). */
export async function withDataDir<T>(work: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'wahub-cli-'));
  await chmod(dir, 0o755);
  try {
    return await work(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Runs `wahub <args>` with DATABASE_URL and TOKEN_ENCRYPTION_KEYS (default: the test key); never rejects. */
export async function runWahub(args: string[], env: { databaseUrl: string; tokenKeys?: string; extra?: Record<string, string> }): Promise<CliResult> {
  return withDataDir((dataDir) => new Promise<CliResult>((resolve) => {
    execFile(process.execPath, [BIN, ...args], {
      env: { ...process.env, DATABASE_URL: env.databaseUrl, TOKEN_ENCRYPTION_KEYS: env.tokenKeys ?? TEST_TOKEN_KEYS, LOG_LEVEL: 'warn', WAHUB_DATA_DIR: dataDir, ...env.extra },
    }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  }));
}
