/**
 * Use cases that span a business number and its outbox rows (outbound depends on numbers, never the
 * reverse): replacing a number's token resumes the messages parked while it awaited
 * re-authorisation, and the numbers list shows each number's queue depth (counted here, joined in
 * `numbers/numbers.service.ts`).
 */
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { replaceAccessToken } from '../numbers/numbers.service.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { countQueuedByNumber, resumeParkedRows } from './outbox.repository.js';

/**
 * Replaces a number's access token (e.g. after Meta error 190; `wahub number set-token`). A
 * `reauth_required` number becomes `active` again and its parked outbox rows become pending (idle
 * workers are woken), in one transaction.
 * @param input.phoneNumberId Meta's phone_number_id, or `whatsapp:<E.164>` for a Twilio number
 * @returns the number's row id, its status afterwards and how many parked messages resumed (0 unless active)
 * @throws AppError not_found (no such number in the organization), validation_failed (empty token)
 */
export async function setPhoneNumberToken(
  db: Db,
  cipher: TokenCipher,
  input: { orgId: string; phoneNumberId: string; accessToken: string },
): Promise<{ id: string; status: string; resumed: number }> {
  return withTransaction(db, async (tx) => {
    const number = await replaceAccessToken(tx, cipher, input);
    const resumed = number.status === 'active' ? await resumeParkedRows(tx, input.orgId, number.id) : 0;
    return { id: number.id, status: number.status, resumed };
  });
}

/**
 * Unfinished outbox rows (pending, leased or parked) per business number of an organization: the
 * queue depth `GET /v1/phone-numbers` shows. `app.ts` hands it to the numbers routes, so `numbers/`
 * never imports `outbound/`.
 * @returns phone_numbers.id → row count (numbers with none are absent)
 */
export async function countQueuedMessagesByNumber(db: Db, orgId: string): Promise<Map<string, number>> {
  return countQueuedByNumber(db, orgId);
}
