/**
 * Moving a number to another organization: an explicit, audited operator command
 * (`wahub number move`). A WABA belongs to one organization at a time, so the number's whole WABA
 * moves: in one transaction its rows in the source organization are disconnected (tokens wiped,
 * history kept there), the WABA and its numbers are connected in the target organization with the
 * given token, both organizations get an audit_log entry, and the target is validated before commit.
 */
import type { Db } from '../db/database.js';
import { assertConsistent } from '../consistency/consistency.service.js';
import { AppError } from '../shared/errors.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { insertAuditLog } from '../tenancy/audit-log.repository.js';
import { findConnectedPhoneNumber } from './inbound-routing.repository.js';
import { disconnectWaba, listWabaNumbers, lockConnectedWaba } from './wabas.repository.js';
import { inConnectionTransaction, saveConnection } from './numbers.service.js';

export interface MoveInput {
  phoneNumberId: string;
  toOrgId: string;
  /** Token valid for the WABA in the target organization (stored encrypted). */
  accessToken: string;
  /** Who asked (e.g. `cli:alice@example.com`), for the audit log. */
  actor: string;
  reason: string | null;
}

/**
 * @returns the WABA moved, the source organization and the numbers now connected in the target
 * @throws AppError not_found (number not connected anywhere), conflict (already in the target),
 *   consistency_check_failed
 */
export async function moveNumber(db: Db, cipher: TokenCipher, input: MoveInput) {
  const current = await findConnectedPhoneNumber(db, input.phoneNumberId);
  if (!current) throw new AppError('not_found', `phone_number_id ${input.phoneNumberId} is not connected to any organization`);
  if (current.org_id === input.toOrgId) throw new AppError('conflict', `phone_number_id ${input.phoneNumberId} is already in that organization`);
  // Twilio numbers have no WABA to move with them: reconnect them in the target with `number add`.
  const wabaId = current.waba_id;
  if (wabaId === null) throw new AppError('validation_failed', `phone_number_id ${input.phoneNumberId} is a ${current.provider} number without a WABA; disconnect it and add it to the other organization`);
  return inConnectionTransaction(db, { orgId: input.toOrgId, wabaId, phoneNumberId: input.phoneNumberId, cipher }, async (tx) => {
    // Locked, not read: two moves from the same source serialise here, and the second finds the
    // WABA already disconnected there (or connected elsewhere) and stops with a conflict.
    const waba = await lockConnectedWaba(tx, wabaId);
    if (!waba || waba.org_id !== current.org_id) throw new AppError('conflict', 'the number changed while moving; run the command again');
    const numbers = await listWabaNumbers(tx, waba.id);
    await disconnectWaba(tx, waba.id);
    const moved = [];
    for (const number of numbers) {
      await saveConnection(tx, cipher, {
        orgId: input.toOrgId, wabaId, phoneNumberId: number.phone_number_id, displayPhoneNumber: number.display_phone_number,
        accessToken: input.accessToken, throughputMps: number.throughput_mps, verifiedName: number.verified_name, qualityRating: number.quality_rating,
      });
      moved.push(number.phone_number_id);
    }
    const details = { waba_id: wabaId, phone_number_ids: moved, from_org_id: current.org_id, to_org_id: input.toOrgId, reason: input.reason };
    await insertAuditLog(tx, { orgId: current.org_id, actor: input.actor, action: 'waba.moved_out', subject: wabaId, details });
    await insertAuditLog(tx, { orgId: input.toOrgId, actor: input.actor, action: 'waba.moved_in', subject: wabaId, details });
    await assertConsistent(tx, { orgId: current.org_id, wabaId }, undefined, cipher);
    return { waba_id: wabaId, from_org_id: current.org_id, to_org_id: input.toOrgId, phone_number_ids: moved };
  });
}
