/**
 * One-time passcodes: 6 digits from the CSPRNG, stored only as a keyed hash bound to the
 * challenge id, compared in constant time. Codes never reach logs (nothing here logs).
 */
import { createHmac, randomInt, timingSafeEqual } from 'node:crypto';

/** Codes live 10 minutes (PROTOCOL.md §6: Meta's default TTL of authentication messages is also 10 minutes). */
export const OTP_TTL_MS = 10 * 60_000;
/** Wrong attempts allowed per code (the CHECK on otp_challenges.attempts enforces it too). */
export const OTP_MAX_ATTEMPTS = 5;
/** At most this many codes per contact per OTP_RATE_WINDOW_MS. */
export const OTP_MAX_CODES = 3;
export const OTP_RATE_WINDOW_MS = 15 * 60_000;

/** A 6-digit code, uniform over 000000–999999. */
export function generateOtpCode(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

/** HMAC-SHA256(key, `<challenge id>:<code>`), hex: a leaked hash is useless without the key and for other challenges. */
export function hashOtpCode(key: Buffer, challengeId: string, code: string): string {
  return createHmac('sha256', key).update(`${challengeId}:${code}`).digest('hex');
}

/** Constant-time comparison of a submitted code with a stored hash. */
export function otpCodeMatches(key: Buffer, challengeId: string, code: string, storedHash: string): boolean {
  const expected = Buffer.from(storedHash, 'hex');
  const actual = Buffer.from(hashOtpCode(key, challengeId, code), 'hex');
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

/**
 * The authentication-template message (PROTOCOL.md §6): the code in the body parameter and in the
 * button's (copy-code / one-tap read back as `url`, index 0) parameter.
 */
export function otpTemplate(template: { name: string; language: string }, code: string) {
  return {
    name: template.name,
    language: { code: template.language },
    components: [
      { type: 'body', parameters: [{ type: 'text', text: code }] },
      { type: 'button', sub_type: 'url', index: 0, parameters: [{ type: 'text', text: code }] },
    ],
  };
}
