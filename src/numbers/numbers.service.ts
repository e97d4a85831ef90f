/**
 * Connecting business phone numbers by hand (token + ids). Embedded Signup (issue "Onboarding")
 * will reuse `connectPhoneNumber`.
 */
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { SQLSTATE, sqlState, violatedConstraint } from '../db/errors.js';
import { AppError } from '../shared/errors.js';
import { waIdToE164 } from '../shared/phone.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { resumeParkedRows } from '../outbound/outbox.repository.js';
import * as repo from './numbers.repository.js';

export interface ConnectPhoneNumberInput {
  orgId: string;
  /** Meta WABA id (digits). */
  wabaId: string;
  /** Meta phone_number_id. */
  phoneNumberId: string;
  /** Display number as Meta shows it (`15550100001` or `+1 555-010-0001`). */
  displayPhoneNumber: string;
  /** Plaintext access token; stored encrypted only. */
  accessToken: string;
  /** Messages per second, default 80 (Meta's default; 1,000 after upgrade; 20 for coexistence numbers). */
  throughputMps?: number;
  verifiedName?: string | null;
  /** Operator to grant access to the WABA, if any. */
  operatorId?: string;
}

/**
 * Connects a WABA's phone number to an organization in one transaction: upsert the WABA (owner never
 * changes), insert the number with its token encrypted, grant access.
 * @throws AppError validation_failed (bad ids, number, throughput), conflict (WABA of another
 *   organization, or the phone_number_id already connected anywhere)
 */
export async function connectPhoneNumber(db: Db, cipher: TokenCipher, input: ConnectPhoneNumberInput): Promise<{ id: string }> {
  const digits = input.displayPhoneNumber.replace(/[^0-9]/g, '');
  const e164 = waIdToE164(digits);
  if (!e164) throw new AppError('validation_failed', `display phone number "${input.displayPhoneNumber}" is not an international number`);
  if (!/^[0-9]{1,32}$/.test(input.wabaId)) throw new AppError('validation_failed', 'waba_id must be digits');
  if (!/^[0-9A-Za-z_-]{1,64}$/.test(input.phoneNumberId)) throw new AppError('validation_failed', 'phone_number_id is malformed');
  if (!input.accessToken.trim()) throw new AppError('validation_failed', 'access token must not be empty');
  const throughputMps = input.throughputMps ?? 80;
  if (!Number.isInteger(throughputMps) || throughputMps < 1 || throughputMps > 1000) {
    throw new AppError('validation_failed', 'throughput_mps must be an integer from 1 to 1000');
  }
  const token = cipher.encrypt(input.accessToken.trim());
  try {
    return await withTransaction(db, async (tx) => {
      const waba = await repo.upsertWaba(tx, { orgId: input.orgId, wabaId: input.wabaId, ownerBusinessId: null, name: null });
      if (!waba) throw new AppError('conflict', `WABA ${input.wabaId} belongs to another organization`);
      const number = await repo.insertPhoneNumber(tx, {
        orgId: input.orgId,
        wabaRef: waba.id,
        phoneNumberId: input.phoneNumberId,
        displayPhoneNumber: digits,
        e164,
        verifiedName: input.verifiedName ?? null,
        throughputMps,
        accessTokenCiphertext: token.ciphertext,
        accessTokenKeyId: token.keyId,
      });
      if (input.operatorId) await repo.grantWabaAccess(tx, { orgId: input.orgId, operatorId: input.operatorId, wabaRef: waba.id });
      return number;
    });
  } catch (error) {
    if (sqlState(error) === SQLSTATE.uniqueViolation) {
      throw new AppError('conflict', `phone_number_id ${input.phoneNumberId} is already connected`, { constraint: violatedConstraint(error) });
    }
    if (sqlState(error) === SQLSTATE.foreignKeyViolation) throw new AppError('not_found', 'organization or operator not found');
    throw error;
  }
}

/**
 * Replaces a number's access token (e.g. after Meta error 190). A `reauth_required` number becomes
 * `active` again and its parked outbox rows resume, in one transaction.
 * @returns the number's id, its status afterwards and how many parked messages resumed
 * @throws AppError not_found (no such number in the organization), validation_failed (empty token)
 */
export async function setPhoneNumberToken(
  db: Db,
  cipher: TokenCipher,
  input: { orgId: string; phoneNumberId: string; accessToken: string },
): Promise<{ id: string; status: string; resumed: number }> {
  if (!input.accessToken.trim()) throw new AppError('validation_failed', 'access token must not be empty');
  const token = cipher.encrypt(input.accessToken.trim());
  return withTransaction(db, async (tx) => {
    const number = await repo.replacePhoneNumberToken(tx, { orgId: input.orgId, phoneNumberId: input.phoneNumberId, ciphertext: token.ciphertext, keyId: token.keyId });
    if (!number) throw new AppError('not_found', `phone number ${input.phoneNumberId} not found`);
    const resumed = number.status === 'active' ? await resumeParkedRows(tx, input.orgId, number.id) : 0;
    return { id: number.id, status: number.status, resumed };
  });
}
