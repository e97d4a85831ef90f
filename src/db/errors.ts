/**
 * PostgreSQL SQLSTATE codes wahub reacts to (https://www.postgresql.org/docs/current/errcodes-appendix.html).
 */
export const SQLSTATE = {
  uniqueViolation: '23505',
  foreignKeyViolation: '23503',
  checkViolation: '23514',
  notNullViolation: '23502',
  serializationFailure: '40001',
  deadlockDetected: '40P01',
  invalidTextRepresentation: '22P02',
} as const;

/** SQLSTATE classes meaning "the database is unavailable right now" (connection, shutdown, resources). */
const UNAVAILABLE_CLASSES = ['08', '53', '57'];
const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/** The SQLSTATE of a `pg` error, or undefined. */
export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** The name of the violated constraint of a `pg` error, or undefined. */
export function violatedConstraint(error: unknown): string | undefined {
  const constraint = (error as { constraint?: unknown } | null)?.constraint;
  return typeof constraint === 'string' ? constraint : undefined;
}

/**
 * A conflict the application detected itself that running the whole transaction again resolves
 * (a row it relied on vanished between two statements). It carries SQLSTATE 40001, so
 * withTransaction retries it as it retries PostgreSQL's own serialization failures.
 */
export class TransactionConflictError extends Error {
  readonly code = SQLSTATE.serializationFailure;
}

/** True for deadlocks and serialization failures: the transaction may simply be run again. */
export function isRetryableTransactionError(error: unknown): boolean {
  const state = sqlState(error);
  return state === SQLSTATE.deadlockDetected || state === SQLSTATE.serializationFailure;
}

/** True when the error means the database could not be reached or is shutting down. */
export function isDatabaseUnavailableError(error: unknown): boolean {
  const state = sqlState(error);
  if (state && UNAVAILABLE_CLASSES.includes(state.slice(0, 2))) return true;
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && UNAVAILABLE_NODE_CODES.has(code)) return true;
  const message = error instanceof Error ? error.message : '';
  return /timeout exceeded when trying to connect|Connection terminated|connect ECONNREFUSED/i.test(message);
}
