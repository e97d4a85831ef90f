/**
 * Request validation with zod: a failed parse becomes `validation_failed` (400) with one entry per
 * problem (`path`, `message`), so callers can fix every field at once.
 */
import type { FastifyInstance } from 'fastify';
import type { z } from 'zod';
import { AppError } from '../shared/errors.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from '../shared/json-depth.js';

export interface ValidationIssue {
  path: string;
  message: string;
}

export function parseInput<S extends z.ZodType>(schema: S, input: unknown, what = 'request body'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const details: ValidationIssue[] = result.error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: issue.message,
  }));
  const first = details[0];
  throw new AppError('validation_failed', `invalid ${what}: ${first?.path ? `${first.path}: ` : ''}${first?.message ?? 'invalid'}`, details);
}

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A path id that is not a uuid cannot name anything: answer 404 like an unknown id. */
export function requireUuid(value: string, what: string): string {
  if (!UUID_PATTERN.test(value)) throw new AppError('not_found', `${what} not found`);
  return value.toLowerCase();
}

/** The path of the first string containing NUL in a parsed input (keys included), or undefined. Iterative. */
function findNul(value: unknown): string | undefined {
  const stack: Array<[unknown, string]> = [[value, '']];
  while (stack.length > 0) {
    const [current, path] = stack.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) return path;
    } else if (typeof current === 'object' && current !== null) {
      for (const [key, child] of Object.entries(current)) {
        const childPath = path ? `${path}.${key}` : key;
        if (key.includes('\u0000')) return childPath;
        stack.push([child, childPath]);
      }
    }
  }
  return undefined;
}

/**
 * Refuses, before any route runs, input that no column can store: NUL characters (PostgreSQL text
 * and jsonb reject U+0000, which made such requests fail with 500) in the body, query or path, and
 * bodies nested deeper than {@link MAX_JSON_DEPTH} levels (JSON.stringify overflows the stack).
 * @throws AppError validation_failed naming the offending input
 */
export function rejectUnstorableInput(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    if (exceedsJsonDepth(request.body)) throw new AppError('validation_failed', `request body nests deeper than ${MAX_JSON_DEPTH} levels`);
    for (const [what, input] of [['request body', request.body], ['query string', request.query], ['path', request.params]] as const) {
      const path = findNul(input);
      if (path !== undefined) {
        throw new AppError('validation_failed', `invalid ${what}: ${path ? `${path}: ` : ''}must not contain NUL (U+0000)`, [{ path, message: 'must not contain NUL (U+0000)' }]);
      }
    }
  });
}
