/**
 * Organizations, operators and API keys.
 *
 * API key format: `wah_<prefix>_<secret>`, prefix 12 hex chars (indexed, unique), secret 32 bytes
 * base64url. Only sha256 of the whole key is stored; the key is shown once, when created. A
 * high-entropy key needs no slow hash: sha256 cannot be brute-forced back to 256 random bits.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { SQLSTATE, sqlState } from '../db/errors.js';
import type { OperatorRole } from '../db/schema.js';
import { AppError } from '../shared/errors.js';
import type { Principal } from '../shared/principal.js';
import * as repo from './tenancy.repository.js';

export type { Principal };

const KEY_PATTERN = /^wah_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$/;
// Writing last_used_at on every request would make each API call a write; once a minute is enough.
const TOUCH_INTERVAL_MS = 60_000;

function hashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export async function createOrganization(db: Db, name: string): Promise<{ id: string }> {
  if (!name.trim()) throw new AppError('validation_failed', 'organization name must not be empty');
  return repo.insertOrganization(db, name.trim());
}

/**
 * Creates an API key for an operator.
 * @returns the key in clear (shown once) and its id
 * @throws AppError not_found when the operator is not in the organization
 */
export async function createApiKey(db: Db, orgId: string, operatorId: string): Promise<{ id: string; apiKey: string }> {
  const operator = await repo.findOperator(db, orgId, operatorId);
  if (!operator) throw new AppError('not_found', 'operator not found in this organization');
  const prefix = randomBytes(6).toString('hex');
  const apiKey = `wah_${prefix}_${randomBytes(32).toString('base64url')}`;
  const { id } = await repo.insertApiKey(db, { orgId, operatorId, prefix, keyHash: hashKey(apiKey) });
  return { id, apiKey };
}

/**
 * Creates an operator and a first API key for it, in one transaction.
 * @throws AppError conflict when the email is taken in the organization; not_found for an unknown organization
 */
export async function createOperator(
  db: Db,
  values: { orgId: string; email: string; name?: string | null; role: OperatorRole },
): Promise<{ id: string; apiKey: string }> {
  try {
    return await withTransaction(db, async (tx) => {
      if (!(await repo.findOrganizationById(tx, values.orgId))) throw new AppError('not_found', 'organization not found');
      const { id } = await repo.insertOperator(tx, { ...values, name: values.name ?? null });
      const prefix = randomBytes(6).toString('hex');
      const apiKey = `wah_${prefix}_${randomBytes(32).toString('base64url')}`;
      await repo.insertApiKey(tx, { orgId: values.orgId, operatorId: id, prefix, keyHash: hashKey(apiKey) });
      return { id, apiKey };
    });
  } catch (error) {
    if (sqlState(error) === SQLSTATE.uniqueViolation) throw new AppError('conflict', `an operator with email ${values.email} already exists`);
    if (sqlState(error) === SQLSTATE.checkViolation) throw new AppError('validation_failed', 'invalid operator email or role');
    throw error;
  }
}

/**
 * Resolves a bearer API key to its principal.
 * @throws AppError unauthorized for a malformed, unknown or revoked key, or a disabled operator
 */
export async function authenticateApiKey(db: Db, apiKey: string): Promise<Principal> {
  const match = KEY_PATTERN.exec(apiKey);
  const row = match ? await repo.findApiKeyByPrefix(db, match[1]!) : undefined;
  const valid =
    row !== undefined &&
    timingSafeEqual(Buffer.from(row.key_hash, 'hex'), Buffer.from(hashKey(apiKey), 'hex')) &&
    row.revoked_at === null &&
    row.disabled_at === null;
  if (!valid || !row) throw new AppError('unauthorized', 'invalid or revoked API key');
  if (!row.last_used_at || Date.now() - row.last_used_at.getTime() > TOUCH_INTERVAL_MS) {
    await repo.touchApiKey(db, row.id);
  }
  return { orgId: row.org_id, operatorId: row.operator_id, role: row.role, apiKeyId: row.id };
}
