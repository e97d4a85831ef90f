/**
 * Connecting business phone numbers by hand: Meta numbers (token + ids; Embedded Signup reuses
 * `saveConnection`) and Twilio senders (account SID + Auth Token + E.164 number); replacing a
 * number's token (`replaceAccessToken`).
 */
import type { Db, Tx } from '../db/database.js';
import type { PhoneNumberStatus } from '../db/schema.js';
import { withTransaction } from '../db/database.js';
import { SQLSTATE, sqlState, violatedConstraint } from '../db/errors.js';
import { AppError } from '../shared/errors.js';
import { toE164, waIdToE164 } from '../shared/phone.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { listPhoneNumbers, replacePhoneNumberToken, upsertPhoneNumber, upsertTwilioPhoneNumber } from './phone-numbers.repository.js';
import { grantWabaAccess, upsertWaba } from './wabas.repository.js';
import { assertConsistent } from '../consistency/consistency.service.js';
import { type EventContext, recordEvent } from '../events/event-writer.js';

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
  /** The token's expiry (`debug_token` `expires_at`, Embedded Signup); null or absent: never, or unknown. */
  tokenExpiresAt?: Date | null;
  /** Meta business portfolio that owns the WABA, when known (Embedded Signup). */
  ownerBusinessId?: string | null;
  /** GREEN | YELLOW | RED | NA, when known. */
  qualityRating?: string | null;
  /** True when the number was registered with Meta (`/register`) by this connection. */
  registered?: boolean;
  /** Request that caused the connection (for the `phone_number.connected` event). Default: none, source api. */
  events?: EventContext;
}

/** Maps the uniqueness refusals of a connection to clear conflicts. */
export function connectionConflict(error: unknown, wabaId: string | null, phoneNumberId: string): AppError | undefined {
  if (sqlState(error) !== SQLSTATE.uniqueViolation) return undefined;
  const constraint = violatedConstraint(error);
  if (constraint === 'wabas_connected_waba_id_key') return new AppError('conflict', `WABA ${wabaId} is connected to another organization`, { constraint });
  return new AppError('conflict', `phone_number_id ${phoneNumberId} is connected to another organization`, { constraint });
}

/** Checks the ids and numbers of a connection; returns the display digits and E.164 number. */
function validateConnection(input: ConnectPhoneNumberInput): { digits: string; e164: string; throughputMps: number | null } {
  const digits = input.displayPhoneNumber.replace(/[^0-9]/g, '');
  const e164 = waIdToE164(digits);
  if (!e164) throw new AppError('validation_failed', `display phone number "${input.displayPhoneNumber}" is not an international number`);
  if (!/^[0-9]{1,32}$/.test(input.wabaId)) throw new AppError('validation_failed', 'waba_id must be digits');
  if (!/^[0-9A-Za-z_-]{1,64}$/.test(input.phoneNumberId)) throw new AppError('validation_failed', 'phone_number_id is malformed');
  if (!input.accessToken.trim()) throw new AppError('validation_failed', 'access token must not be empty');
  const throughputMps = input.throughputMps ?? null;
  if (throughputMps !== null && (!Number.isInteger(throughputMps) || throughputMps < 1 || throughputMps > 1000)) {
    throw new AppError('validation_failed', 'throughput_mps must be an integer from 1 to 1000');
  }
  return { digits, e164, throughputMps };
}

/**
 * Saves one number of a connection inside the caller's transaction: upsert the WABA (owner never
 * changes), upsert the number with its token encrypted, grant the operator access. Embedded Signup
 * calls it once per number, then validates before commit.
 */
export async function saveConnection(tx: Tx, cipher: TokenCipher, input: ConnectPhoneNumberInput): Promise<{ id: string; created: boolean }> {
  const { digits, e164, throughputMps } = validateConnection(input);
  const token = cipher.encrypt(input.accessToken.trim());
  const waba = await upsertWaba(tx, { orgId: input.orgId, wabaId: input.wabaId, ownerBusinessId: input.ownerBusinessId ?? null, name: null });
  const number = await upsertPhoneNumber(tx, {
    orgId: input.orgId,
    wabaRef: waba.id,
    phoneNumberId: input.phoneNumberId,
    displayPhoneNumber: digits,
    e164,
    verifiedName: input.verifiedName ?? null,
    qualityRating: input.qualityRating ?? null,
    throughputMps,
    accessTokenCiphertext: token.ciphertext,
    accessTokenKeyId: token.keyId,
    registered: input.registered ?? false,
    tokenExpiresAt: input.tokenExpiresAt ?? null,
  });
  if (input.operatorId) await grantWabaAccess(tx, { orgId: input.orgId, operatorId: input.operatorId, wabaRef: waba.id });
  await recordEvent(tx, input.events ?? { correlationId: null, source: 'api' }, {
    orgId: input.orgId, aggregateType: 'phone_number', aggregateId: number.id, type: 'phone_number.connected',
    payload: { phone_number_ref: number.id, phone_number_id: input.phoneNumberId, waba_id: input.wabaId, status: 'active', created: number.created },
  });
  return number;
}

/**
 * Runs a connection's writes in one transaction and validates the WABA's invariants before commit
 * (SPEC §2.3); maps uniqueness refusals to 409.
 * @throws AppError conflict (WABA or phone_number_id connected in another organization),
 *   consistency_check_failed, not_found (organization or operator)
 */
export async function inConnectionTransaction<T>(
  db: Db,
  scope: { orgId: string; wabaId: string | null; phoneNumberId: string; cipher?: TokenCipher },
  work: (tx: Tx) => Promise<T>,
): Promise<T> {
  try {
    return await withTransaction(db, async (tx) => {
      const result = await work(tx);
      // With the keys, the token check decrypts rather than guessing plaintext from the text.
      await assertConsistent(tx, { orgId: scope.orgId, wabaId: scope.wabaId }, undefined, scope.cipher);
      return result;
    });
  } catch (error) {
    const conflict = connectionConflict(error, scope.wabaId, scope.phoneNumberId);
    if (conflict) throw conflict;
    if (sqlState(error) === SQLSTATE.foreignKeyViolation) throw new AppError('not_found', 'organization or operator not found');
    throw error;
  }
}

/**
 * Connects (or reconnects) a WABA's phone number by hand (`wahub number add`,
 * `POST /v1/phone-numbers`), through the same save-and-validate path as Embedded Signup.
 * @throws AppError validation_failed, conflict, consistency_check_failed, not_found
 */
export async function connectPhoneNumber(db: Db, cipher: TokenCipher, input: ConnectPhoneNumberInput): Promise<{ id: string; created: boolean }> {
  validateConnection(input);
  return inConnectionTransaction(db, { ...input, cipher }, (tx) => saveConnection(tx, cipher, input));
}

export interface ConnectTwilioNumberInput {
  orgId: string;
  /** Twilio account SID, `AC` + 32 hex (Console > Account info). */
  accountSid: string;
  /** The account's Auth Token; stored encrypted only. */
  authToken: string;
  /** The WhatsApp sender's number, E.164 (`+15550100001`). */
  phone: string;
  /** Messages per second, default 80. */
  throughputMps?: number;
}

/**
 * Connects (or reconnects) a Twilio WhatsApp sender (`wahub number add --provider twilio`). Its
 * `phone_number_id` becomes `whatsapp:<E.164>` (the address Twilio uses in `To`/`From`), it has
 * no WABA, and the Auth Token is encrypted like Meta tokens. Validated before commit like any
 * connection.
 * @throws AppError validation_failed, conflict (sender connected in another organization),
 *   consistency_check_failed, not_found (organization)
 */
export async function connectTwilioNumber(
  db: Db,
  cipher: TokenCipher,
  input: ConnectTwilioNumberInput,
): Promise<{ id: string; created: boolean; phoneNumberId: string }> {
  const e164 = toE164(input.phone);
  if (!e164) throw new AppError('validation_failed', `phone "${input.phone}" is not an E.164 number (e.g. +15550100001)`);
  if (!/^AC[0-9a-f]{32}$/.test(input.accountSid)) throw new AppError('validation_failed', 'account SID must be AC followed by 32 lowercase hex digits');
  if (!input.authToken.trim()) throw new AppError('validation_failed', 'auth token must not be empty');
  const throughputMps = input.throughputMps ?? null;
  if (throughputMps !== null && (!Number.isInteger(throughputMps) || throughputMps < 1 || throughputMps > 1000)) {
    throw new AppError('validation_failed', 'throughput_mps must be an integer from 1 to 1000');
  }
  const phoneNumberId = `whatsapp:${e164}`;
  const token = cipher.encrypt(input.authToken.trim());
  const number = await inConnectionTransaction(db, { orgId: input.orgId, wabaId: null, phoneNumberId, cipher }, (tx) => upsertTwilioPhoneNumber(tx, {
    orgId: input.orgId, e164, accountSid: input.accountSid, throughputMps, authTokenCiphertext: token.ciphertext, authTokenKeyId: token.keyId,
  }));
  return { ...number, phoneNumberId };
}

/**
 * Replaces a number's access token (e.g. after Meta error 190) inside the caller's transaction: the
 * token is stored encrypted, and a `reauth_required` number becomes `active` again and records
 * `phone_number.connected`. Resuming the number's parked messages is the outbox's part
 * (`setPhoneNumberToken` in `../outbound/number-queue.service.ts`, `wahub number set-token`).
 * @param input.phoneNumberId Meta's phone_number_id, or `whatsapp:<E.164>` for a Twilio number
 * @returns the number's row id and its status afterwards
 * @throws AppError validation_failed (empty token), not_found (no such number in the organization)
 */
export async function replaceAccessToken(
  tx: Tx,
  cipher: TokenCipher,
  input: { orgId: string; phoneNumberId: string; accessToken: string },
): Promise<{ id: string; status: PhoneNumberStatus }> {
  if (!input.accessToken.trim()) throw new AppError('validation_failed', 'access token must not be empty');
  const token = cipher.encrypt(input.accessToken.trim());
  const number = await replacePhoneNumberToken(tx, { orgId: input.orgId, phoneNumberId: input.phoneNumberId, ciphertext: token.ciphertext, keyId: token.keyId });
  if (!number) throw new AppError('not_found', `phone number ${input.phoneNumberId} not found`);
  if (number.previousStatus === 'reauth_required' && number.status === 'active') {
    await recordEvent(tx, { correlationId: null, source: 'cli' }, {
      orgId: input.orgId, aggregateType: 'phone_number', aggregateId: number.id, type: 'phone_number.connected',
      payload: { phone_number_ref: number.id, phone_number_id: input.phoneNumberId, status: 'active', created: false },
    });
  }
  return { id: number.id, status: number.status };
}

/** A number of `GET /v1/phone-numbers`: no credentials, and its unfinished outbox rows. */
export type PhoneNumberWithQueueDepth = Awaited<ReturnType<typeof listPhoneNumbers>>[number] & {
  /** Outbox rows not finished yet (pending, leased or parked). */
  queue_depth: number;
};

/** Queue depth per number (phone_numbers.id → unfinished outbox rows); given by the outbox. */
export type QueueDepthReader = (db: Db, orgId: string) => Promise<Map<string, number>>;

/**
 * The organization's numbers (oldest first, at most 1,000) with their WABA id (null for Twilio) and
 * queue depth; the two reads run side by side, not in one snapshot (the depth is a gauge).
 */
export async function listPhoneNumbersWithQueueDepth(db: Db, orgId: string, queueDepths: QueueDepthReader): Promise<PhoneNumberWithQueueDepth[]> {
  const [rows, queued] = await Promise.all([listPhoneNumbers(db, orgId), queueDepths(db, orgId)]);
  return rows.map((row) => ({ ...row, queue_depth: queued.get(row.id) ?? 0 }));
}
