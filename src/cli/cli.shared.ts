/**
 * What every CLI command shares: one-JSON-object output with --json, a runtime that is always
 * closed, and failures as a one-line reason with exit code 1.
 */
import { ConfigError } from '../config/config.js';
import { openRuntime, type Runtime } from '../runtime.js';
import { AppError } from '../shared/errors.js';

export interface JsonFlag {
  json?: boolean;
}

export function print(options: JsonFlag, result: Record<string, unknown>, human: string): void {
  process.stdout.write(options.json ? `${JSON.stringify(result)}\n` : `${human}\n`);
}

/** Runs `work` with a runtime (quiet logger), always closing it. */
export async function withRuntime<T>(work: (runtime: Runtime) => Promise<T>, migrate = true): Promise<T> {
  const runtime = await openRuntime({ migrate, logLevel: 'warn', logToStderr: true });
  try {
    return await work(runtime);
  } finally {
    await runtime.close();
  }
}

export function fail(error: unknown, json: boolean): never {
  const code = error instanceof AppError ? error.code : error instanceof ConfigError ? 'invalid_configuration' : 'error';
  const message = error instanceof Error ? error.message : String(error);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else process.stderr.write(`wahub: ${message}\n`);
  process.exit(1);
}

