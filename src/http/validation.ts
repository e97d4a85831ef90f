/**
 * Request validation with zod: a failed parse becomes `validation_failed` (400) with one entry per
 * problem (`path`, `message`), so callers can fix every field at once.
 */
import type { z } from 'zod';
import { AppError } from '../shared/errors.js';

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
