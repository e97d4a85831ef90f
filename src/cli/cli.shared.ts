/**
 * What every CLI command shares: one-JSON-object output with --json, a runtime that is always
 * closed, and failures as a one-line root cause (with a hint where one helps) and exit code 1.
 */
import { openRuntime, type Runtime } from '../runtime.js';
import { describeFailure } from './cli.errors.js';

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

/**
 * Prints the failure and exits 1: `wahub: <root cause>` and `hint: …` on stderr, or with --json
 * `{"error":{"code","message","hint"?}}` on stdout.
 * @param options.listening the command binds a port (`serve`)
 */
export function fail(error: unknown, json: boolean, options: { listening?: boolean } = {}): never {
  const { code, message, hint } = describeFailure(error, options);
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message, ...(hint ? { hint } : {}) } })}\n`);
  else process.stderr.write(`wahub: ${message}\n${hint ? `hint: ${hint}\n` : ''}`);
  process.exit(1);
}
