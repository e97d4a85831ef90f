/**
 * OTP verification of end users (issue 5, PROTOCOL.md §6).
 *
 * Request: under the contact's row lock (so concurrent requests serialise), refuse a blocked
 * contact and a 4th code within 15 minutes (429), then — in ONE transaction — queue the
 * authentication-template message through the normal outbox (`outbound/enqueue-message.ts`) and
 * store the challenge: only HMAC(OTP key, challenge id ":" code), 10-minute expiry.
 * Verify: count the attempt atomically against the newest challenge (≤ 5), compare in constant
 * time, consume it (single use) and set `verified_at` (`user.verified`, and `user.registered`
 * when terms are accepted too). The code never reaches logs, events or API answers; the message
 * that carried it is redacted once the challenge is over (maintenance job).
 */
import { randomUUID } from 'node:crypto';
import type { Db, Tx } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { type EventContext, recordEvent } from '../events/event-writer.js';
import { advanceMessageStatus } from '../conversations/message-status.js';
import { openConversation } from '../conversations/open-conversation.js';
import { findPhoneNumberByPhoneNumberId } from '../numbers/phone-numbers.repository.js';
import { enqueueMessage } from '../outbound/enqueue-message.js';
import { assertTemplateSendable, TemplatesNeverSyncedError } from '../templates/template-send-check.js';
import { AppError, notFound } from '../shared/errors.js';
import type { Principal } from '../tenancy/tenancy.service.js';
import * as repo from './endusers.repository.js';
import {
  generateOtpCode, hashOtpCode, OTP_MAX_ATTEMPTS, OTP_MAX_CODES, OTP_RATE_WINDOW_MS, OTP_TTL_MS, otpCodeMatches, otpTemplate,
} from './otp.code.js';
import { recordRegistrationIfComplete } from './registration.js';

export interface OtpSettings {
  /** Key of the code hashes (OTP_HASH_KEY, or derived from the token encryption key). */
  hashKey: Buffer;
  /**
   * Keys a code is also checked with (derived from older token keys), so rotating
   * TOKEN_ENCRYPTION_KEYS does not invalidate codes already sent. Default: `[hashKey]`.
   */
  verifyKeys?: Buffer[];
  /** Default authentication template when the organization has none. */
  templateName: string;
  templateLanguage: string;
}

export interface OtpRequested {
  challenge_id: string;
  message_id: string;
  thread_id: string;
  expires_at: string;
}

type LockedContact = NonNullable<Awaited<ReturnType<typeof repo.lockContact>>>;

async function resolveNumberRef(tx: Tx, orgId: string, contactId: string, phoneNumberId: string | undefined): Promise<string> {
  if (phoneNumberId) {
    const number = await findPhoneNumberByPhoneNumberId(tx, orgId, phoneNumberId);
    if (!number) throw notFound(`phone number ${phoneNumberId}`);
    if (number.status === 'disconnected') throw new AppError('phone_number_not_active', 'the business number is disconnected');
    return number.id;
  }
  const latest = await repo.findLatestThreadOfContact(tx, orgId, contactId);
  if (!latest) throw new AppError('validation_failed', 'the contact has no conversation yet: pass from_phone_number_id', [{ path: 'from_phone_number_id', message: 'required' }]);
  return latest.phone_number_ref;
}

/**
 * The organization's authentication template must be approved in the registry of the number's
 * WABA (the same check as every template send); OTP sends do not sync a WABA never synced.
 */
async function assertOtpTemplateSendable(tx: Tx, orgId: string, numberRef: string, template: ReturnType<typeof otpTemplate>): Promise<void> {
  try {
    await assertTemplateSendable(tx, orgId, numberRef, template);
  } catch (error) {
    if (error instanceof TemplatesNeverSyncedError) {
      throw new AppError('templates_not_synced', 'the templates of this number\'s WABA were never synced: run POST /v1/templates/sync before sending codes');
    }
    throw error;
  }
}

async function queueOtpMessage(
  tx: Tx, principal: Principal, contact: LockedContact, numberRef: string, template: ReturnType<typeof otpTemplate>, events: EventContext,
): Promise<{ messageId: string; threadId: string }> {
  await assertOtpTemplateSendable(tx, principal.orgId, numberRef, template);
  const { thread } = await openConversation(tx, events, { orgId: principal.orgId, phoneNumberRef: numberRef, customer: { contactId: contact.id } });
  // Without an Idempotency-Key the insert cannot conflict: there is always an id.
  const messageId = await enqueueMessage(tx, events, {
    orgId: principal.orgId, threadId: thread.id, phoneNumberRef: numberRef, type: 'template', content: template,
    sentByOperatorId: principal.operatorId, idempotencyKey: null, requestHash: null,
  });
  return { messageId: messageId!, threadId: thread.id };
}

/**
 * Sends a new code to a contact (`POST /v1/contacts/{id}/otp`).
 * @param phoneNumberId business number to send from; default: the contact's latest thread's number
 * @throws AppError not_found, contact_blocked, rate_limited (4th code in 15 min), validation_failed, phone_number_required (a contact with only a BSUID)
 *   (no thread and no from_phone_number_id), phone_number_not_active
 */
export async function requestOtp(
  db: Db, settings: OtpSettings, principal: Principal, contactId: string, phoneNumberId: string | undefined, correlationId: string | null,
): Promise<OtpRequested> {
  const events: EventContext = { correlationId, source: 'api' };
  return withTransaction(db, async (tx) => {
    const contact = await repo.lockContact(tx, principal.orgId, contactId);
    if (!contact) throw notFound('contact');
    if (contact.blocked_at) throw new AppError('contact_blocked', 'the contact is blocked: nothing can be sent to it');
    // Authentication templates still need a phone number: Meta refuses them to a BSUID alone (docs/PROTOCOL-NOTES.md).
    if (contact.e164 === null) throw new AppError('phone_number_required', 'one-time passcodes need the customer\'s phone number, and this contact has only a business-scoped user ID');
    const recent = await repo.countChallengesSince(tx, principal.orgId, contactId, new Date(Date.now() - OTP_RATE_WINDOW_MS));
    if (recent >= OTP_MAX_CODES) throw new AppError('rate_limited', `at most ${OTP_MAX_CODES} codes per contact per 15 minutes`);
    const numberRef = await resolveNumberRef(tx, principal.orgId, contactId, phoneNumberId);
    const configured = await repo.findOrganizationOtpTemplate(tx, principal.orgId);
    const code = generateOtpCode();
    const template = otpTemplate({
      name: configured?.otp_template_name ?? settings.templateName, language: configured?.otp_template_language ?? settings.templateLanguage,
    }, code);
    const { messageId, threadId } = await queueOtpMessage(tx, principal, contact, numberRef, template, events);
    const challengeId = randomUUID();
    const { expires_at } = await repo.insertChallenge(tx, {
      id: challengeId, orgId: principal.orgId, contactId, codeHash: hashOtpCode(settings.hashKey, challengeId, code), messageId, ttlMs: OTP_TTL_MS,
    });
    return { challenge_id: challengeId, message_id: messageId, thread_id: threadId, expires_at: expires_at.toISOString() };
  });
}

/** The refusal for an attempt that was not counted, or that was counted and wrong. */
function refusal(attempt: repo.ChallengeAttempt): AppError {
  if (attempt.counted) {
    return new AppError('otp_incorrect', 'the code is not correct', { attempts_remaining: Math.max(0, OTP_MAX_ATTEMPTS - attempt.attempts) });
  }
  if (attempt.consumed) return new AppError('otp_already_used', 'this code was already used; request a new one');
  if (attempt.expired) return new AppError('otp_expired', 'the code expired; request a new one');
  return new AppError('otp_attempts_exceeded', `${OTP_MAX_ATTEMPTS} wrong attempts: request a new code`);
}

/**
 * Checks a code (`POST /v1/contacts/{id}/otp/verify`). A wrong attempt is committed (it counts)
 * before the error is thrown.
 * @returns the contact's verification and registration times
 * @throws AppError not_found, otp_not_requested, otp_incorrect, otp_expired, otp_already_used, otp_attempts_exceeded
 */
export async function verifyOtp(
  db: Db, settings: OtpSettings, orgId: string, contactId: string, code: string, correlationId: string | null,
): Promise<{ verified_at: string; registered_at: string | null }> {
  const events: EventContext = { correlationId, source: 'api' };
  const outcome = await withTransaction(db, async (tx) => {
    const contact = await repo.findContact(tx, orgId, contactId);
    if (!contact) throw notFound('contact');
    const attempt = await repo.countAttempt(tx, orgId, contactId, OTP_MAX_ATTEMPTS);
    if (!attempt) throw new AppError('otp_not_requested', 'no code was sent to this contact');
    const valid = attempt.counted && /^\d{6}$/.test(code) && (settings.verifyKeys ?? [settings.hashKey]).some((key) => otpCodeMatches(key, attempt.id, code, attempt.code_hash));
    if (!valid) return { error: refusal(attempt) };
    if (!(await repo.consumeChallenge(tx, attempt.id))) return { error: refusal({ ...attempt, counted: false, consumed: true }) };
    const verified = await repo.markVerified(tx, orgId, contactId);
    await recordEvent(tx, events, {
      orgId, aggregateType: 'contact', aggregateId: contactId, type: 'user.verified',
      payload: { contact_id: contactId, client_id: verified.client_id, verified_at: verified.verified_at!.toISOString() },
    });
    const registeredAt = await recordRegistrationIfComplete(tx, events, orgId, contactId, verified.client_id);
    return { verified_at: verified.verified_at!.toISOString(), registered_at: (registeredAt ?? verified.registered_at)?.toISOString() ?? null };
  });
  if ('error' in outcome) throw outcome.error;
  return outcome;
}

/**
 * OTP clean-up (maintenance job): redacts the code from authentication messages whose challenge is
 * over and that left the outbox, and deletes challenges that expired more than a day ago (well
 * past the 15-minute rate-limit window). @returns counts
 */
export async function cleanUpOtps(db: Db, batchSize = 1_000): Promise<{ redacted: number; deleted: number }> {
  let redacted = 0;
  for (let n = batchSize; n === batchSize; redacted += n) n = await repo.redactSpentOtpMessages(db, batchSize);
  let deleted = 0;
  const before = new Date(Date.now() - 24 * 60 * 60_000);
  for (let n = batchSize; n === batchSize; deleted += n) n = await repo.deleteEndedChallenges(db, before, batchSize);
  return { redacted, deleted };
}

/** Error title of an OTP message failed because its code expired before it could be sent. */
export const OTP_EXPIRED_UNSENT_TITLE = 'one-time passcode expired before it was sent';

/**
 * OTP expiry job (worker, every minute): fails the outbox rows of OTP messages whose code expired
 * unsent — the message becomes `failed` (`message.failed`) — so a code is never delivered after
 * its expiry (PROTOCOL.md §6: TTL ≤ the code's expiry). @returns messages failed
 */
export async function failExpiredOtpMessages(db: Db, batchSize = 500): Promise<number> {
  let total = 0;
  for (;;) {
    const failed = await withTransaction(db, async (tx) => {
      const rows = await repo.failExpiredOtpSends(tx, batchSize);
      for (const row of rows) {
        await advanceMessageStatus(tx, { correlationId: null, source: 'worker' }, {
          orgId: row.org_id, messageId: row.message_id, status: 'failed', errorCode: null, errorTitle: OTP_EXPIRED_UNSENT_TITLE,
        });
      }
      return rows.length;
    });
    total += failed;
    if (failed < batchSize) return total;
  }
}
