/**
 * What a CLI failure prints: the root cause of an error chain in one line, with a hint where one
 * helps. `wahub: migration (unknown) failed` told a newcomer nothing; the cause it wrapped
 * (`connect ECONNREFUSED 127.0.0.1:1`, SQLSTATE 28P01) says what to fix.
 */
import { ConfigError } from '../config/config.js';
import { sqlState } from '../db/errors.js';
import { AppError } from '../shared/errors.js';

/** One CLI failure: a stable `code`, a one-line `message` and, where one helps, a `hint`. */
export interface CliFailure {
  code: string;
  message: string;
  hint?: string;
}

/** PostgreSQL SQLSTATE codes of a refused connection (https://www.postgresql.org/docs/current/errcodes-appendix.html). */
const CONNECTION_SQLSTATE = {
  invalidPassword: '28P01',
  invalidAuthorization: '28000',
  invalidCatalogName: '3D000',
} as const;

const DATABASE_URL_HINT = 'check DATABASE_URL, or unset it to run on embedded PostgreSQL';

interface NodeSystemError {
  code?: unknown;
  address?: unknown;
  port?: unknown;
  hostname?: unknown;
  errors?: unknown;
}

/** Every error in the chain: the error itself, its causes and the members of an AggregateError. */
function chainOf(error: unknown): unknown[] {
  const chain: unknown[] = [];
  const queue = [error];
  while (queue.length > 0 && chain.length < 20) {
    const next = queue.shift();
    if (next === undefined || next === null || chain.includes(next)) continue;
    chain.push(next);
    const system = next as NodeSystemError & { cause?: unknown };
    if (Array.isArray(system.errors)) queue.push(...(system.errors as unknown[]));
    if (system.cause !== undefined) queue.push(system.cause);
  }
  return chain;
}

function firstLine(text: string): string {
  return text.split('\n')[0]!.trim();
}

function where(error: NodeSystemError): string {
  return typeof error.address === 'string' && typeof error.port === 'number' ? ` at ${error.address}:${error.port}` : '';
}

/** A refused, unresolvable or timed-out connection, described by the operating system's error. */
function describeSocketError(error: NodeSystemError, listening: boolean): CliFailure | undefined {
  if (error.code === 'EADDRINUSE' && listening) {
    const port = typeof error.port === 'number' ? error.port : undefined;
    return {
      code: 'port_in_use',
      message: `port ${port ?? '(unknown)'}${typeof error.address === 'string' ? ` on ${error.address}` : ''} is already in use (another wahub running?)`,
      hint: `stop the other process, or choose a free port: PORT=${port === undefined ? 3001 : port + 1} npm start`,
    };
  }
  if (error.code === 'EACCES' && listening) {
    return { code: 'port_not_permitted', message: `not permitted to listen${where(error)}`, hint: 'use a port above 1023, e.g. PORT=3000' };
  }
  if (error.code === 'ECONNREFUSED') {
    return { code: 'database_unreachable', message: `cannot connect to PostgreSQL${where(error)}: connection refused`, hint: `is PostgreSQL running there? ${DATABASE_URL_HINT}` };
  }
  if (error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN') {
    const host = typeof error.hostname === 'string' ? ` "${error.hostname}"` : '';
    return { code: 'database_unreachable', message: `cannot connect to PostgreSQL: host${host} not found`, hint: DATABASE_URL_HINT };
  }
  if (error.code === 'ETIMEDOUT' || error.code === 'EHOSTUNREACH' || error.code === 'ENETUNREACH') {
    return { code: 'database_unreachable', message: `cannot connect to PostgreSQL${where(error)}: ${error.code === 'ETIMEDOUT' ? 'timed out' : 'host unreachable'}`, hint: DATABASE_URL_HINT };
  }
  return undefined;
}

/** PostgreSQL refused the login or the database (its own message names the user or database). */
function describePostgresError(error: unknown): CliFailure | undefined {
  const state = sqlState(error);
  const message = error instanceof Error ? firstLine(error.message) : '';
  if (state === CONNECTION_SQLSTATE.invalidPassword || state === CONNECTION_SQLSTATE.invalidAuthorization) {
    return { code: 'database_auth_failed', message, hint: 'check the user and password in DATABASE_URL' };
  }
  if (state === CONNECTION_SQLSTATE.invalidCatalogName) {
    return { code: 'database_not_found', message, hint: 'create it (createdb NAME) or fix the database name in DATABASE_URL' };
  }
  if (/timeout exceeded when trying to connect/i.test(message)) {
    return { code: 'database_unreachable', message: 'cannot connect to PostgreSQL: timed out', hint: DATABASE_URL_HINT };
  }
  return undefined;
}

/**
 * Describes a CLI failure by its root cause. Application and configuration errors keep their own
 * code and message; socket and PostgreSQL connection errors anywhere in the `cause` chain win over
 * the wrappers around them.
 * @param options.listening the command binds a port (`serve`): EADDRINUSE then names the port
 */
export function describeFailure(error: unknown, options: { listening?: boolean } = {}): CliFailure {
  if (error instanceof AppError) return { code: error.code, message: firstLine(error.message) };
  if (error instanceof ConfigError) return { code: 'invalid_configuration', message: `invalid configuration: ${error.problems.join('; ')}` };
  const chain = chainOf(error);
  for (const link of chain) {
    const described = describeSocketError(link as NodeSystemError, options.listening ?? false) ?? describePostgresError(link);
    if (described) return described;
  }
  const text = (link: unknown) => (link instanceof Error ? firstLine(link.message) || link.name : firstLine(String(link)));
  const outer = text(error);
  const root = text(chain.at(-1));
  return { code: 'error', message: root === outer ? outer : `${outer}: ${root}` };
}
