/**
 * Operator sessions for the web inbox (API keys remain for machines).
 *
 * - Login checks email + password (scrypt) and creates a session: a 256-bit random token for the
 *   httpOnly cookie and a second one, the CSRF token, that the page must echo in `X-CSRF-Token` on
 *   every state-changing request. Only sha256 of each is stored.
 * - A session lives `SESSION_IDLE_TTL_MS` after its last use (renewed at most once a minute) and
 *   never more than `SESSION_MAX_AGE_MS` after login; logout deletes it.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type Db, withTransaction } from '../db/database.js';
import type { OperatorRole } from '../db/schema.js';
import { AppError } from '../shared/errors.js';
import type { Principal } from '../tenancy/tenancy.service.js';
import { hashPassword, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, verifyPassword } from './passwords.js';
import * as repo from './sessions.repository.js';

/** Idle lifetime of a session: 12 hours after its last use. */
export const SESSION_IDLE_TTL_MS = 12 * 60 * 60 * 1000;
/** Absolute lifetime of a session: 7 days after login. */
export const SESSION_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000;
// Renewing on every request would make each read a write; once a minute is enough.
const RENEW_INTERVAL_MS = 60_000;

const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;

export interface OperatorProfile {
  id: string;
  org_id: string;
  org_name: string;
  email: string;
  name: string | null;
  role: OperatorRole;
}

export interface NewSession {
  token: string;
  csrfToken: string;
  expiresAt: Date;
  operator: OperatorProfile;
}

/** An authenticated session: the principal, and the CSRF token hash to check writes against. */
export interface SessionAuth {
  principal: Principal;
  csrfTokenHash: string;
}

/** @throws AppError validation_failed when a password is too short or too long */
export function assertPasswordAcceptable(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH || password.length > MAX_PASSWORD_LENGTH) {
    throw new AppError('validation_failed', `password must be ${MIN_PASSWORD_LENGTH} to ${MAX_PASSWORD_LENGTH} characters`);
  }
}

/**
 * Sets an operator's password (CLI, sandbox seed) and ends their sessions.
 * @throws AppError validation_failed (too short/long), not_found
 */
export async function setOperatorPassword(db: Db, orgId: string, operatorId: string, password: string): Promise<void> {
  assertPasswordAcceptable(password);
  const hash = await hashPassword(password);
  await withTransaction(db, async (tx) => {
    if (!(await repo.setOperatorPasswordHash(tx, orgId, operatorId, hash))) throw new AppError('not_found', 'operator not found in this organization');
    await repo.deleteOperatorSessions(tx, orgId, operatorId);
  });
}

/**
 * Logs an operator in. Emails are unique per organization, not globally: when the same email and
 * password open accounts in several organizations, `orgId` must say which.
 * @throws AppError unauthorized (wrong email or password, disabled), validation_failed (ambiguous)
 */
export async function login(db: Db, input: { email: string; password: string; orgId?: string }): Promise<NewSession> {
  const candidates = (await repo.findOperatorsByEmail(db, input.email)).filter((o) => !input.orgId || o.org_id === input.orgId);
  const matches = [];
  // Every candidate is checked (and at least one hash is computed) so timing does not reveal which exist.
  for (const candidate of candidates.length > 0 ? candidates : [undefined]) {
    if (await verifyPassword(input.password, candidate?.password_hash ?? null)) matches.push(candidate!);
  }
  const usable = matches.filter((o) => o.disabled_at === null);
  if (usable.length === 0) throw new AppError('unauthorized', 'wrong email or password');
  if (usable.length > 1) throw new AppError('validation_failed', 'this email belongs to several organizations: pass org_id');
  const operator = usable[0]!;
  const token = randomBytes(32).toString('base64url');
  const csrfToken = randomBytes(32).toString('base64url');
  const session = await repo.insertSession(db, {
    orgId: operator.org_id, operatorId: operator.id, tokenHash: sha256(token), csrfTokenHash: sha256(csrfToken), ttlMs: SESSION_IDLE_TTL_MS,
  });
  // Logins are rare: a good moment to sweep expired sessions.
  await repo.deleteExpiredSessions(db, 100);
  const profile = await repo.findOperatorProfile(db, operator.org_id, operator.id);
  return { token, csrfToken, expiresAt: session.expires_at, operator: profile! };
}

/**
 * Resolves a session cookie's token.
 * @throws AppError unauthorized for an unknown, expired or logged-out session, or a disabled operator
 */
export async function authenticateSession(db: Db, token: string): Promise<SessionAuth> {
  const row = TOKEN_PATTERN.test(token) ? await repo.findLiveSessionByTokenHash(db, sha256(token)) : undefined;
  if (!row || row.disabled_at !== null) throw new AppError('unauthorized', 'session expired or signed out: log in again');
  if (Date.now() - row.last_seen_at.getTime() > RENEW_INTERVAL_MS) await repo.renewSession(db, row.id, SESSION_IDLE_TTL_MS, SESSION_MAX_AGE_MS);
  return {
    principal: { orgId: row.org_id, operatorId: row.operator_id, role: row.role, apiKeyId: null, sessionId: row.id },
    csrfTokenHash: row.csrf_token_hash,
  };
}

/** True when `csrfToken` is the session's CSRF token (constant-time). */
export function csrfTokenMatches(session: SessionAuth, csrfToken: string | undefined): boolean {
  if (!csrfToken || !TOKEN_PATTERN.test(csrfToken)) return false;
  return timingSafeEqual(Buffer.from(sha256(csrfToken), 'hex'), Buffer.from(session.csrfTokenHash, 'hex'));
}

export async function logout(db: Db, sessionId: string): Promise<void> {
  await repo.deleteSession(db, sessionId);
}

/** The organization's enabled operators (at most 1000), by email: assignment pickers. */
export async function listEnabledOperators(db: Db, orgId: string): Promise<Array<{ id: string; email: string; name: string | null; role: OperatorRole }>> {
  return repo.listOperators(db, orgId);
}

/** The signed-in operator and their organization. @throws AppError not_found */
export async function operatorProfile(db: Db, principal: Principal): Promise<OperatorProfile> {
  const profile = await repo.findOperatorProfile(db, principal.orgId, principal.operatorId);
  if (!profile) throw new AppError('not_found', 'operator not found');
  return profile;
}
