/**
 * A number's credentials in plaintext, at the moment a caller needs them (a media download, a
 * Twilio webhook's signature check). They are stored encrypted only (SPEC §2.4), on the
 * `phone_numbers` row (SPEC §2.1); decrypting needs the key they were encrypted with among
 * `TOKEN_ENCRYPTION_KEYS`.
 */
import type { Executor } from '../db/database.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { findTwilioCredentials } from './inbound-routing.repository.js';
import { findPhoneNumberById } from './phone-numbers.repository.js';

/**
 * The access token of a number of the organization (Meta's token, or a Twilio number's Auth Token).
 * @param phoneNumberRef the number's row id (`phone_numbers.id`), not Meta's phone_number_id
 * @returns undefined when the organization has no such number or it holds no token (disconnected)
 * @throws Error when the token does not decrypt with any configured key
 */
export async function findAccessToken(db: Executor, cipher: TokenCipher, orgId: string, phoneNumberRef: string): Promise<string | undefined> {
  const number = await findPhoneNumberById(db, orgId, phoneNumberRef);
  if (!number?.access_token_ciphertext || !number.access_token_key_id) return undefined;
  return cipher.decrypt({ ciphertext: number.access_token_ciphertext, keyId: number.access_token_key_id });
}

/**
 * The Auth Token that verifies a Twilio webhook (PROTOCOL.md §7): the connected number's with this
 * sender address (`routed: true`), else the most recently updated connected number's of the same
 * account (`routed: false`), so that a webhook for a sender that is not connected can still be
 * verified and kept as a dead letter.
 * @param lookup.phoneNumberId the business address, `whatsapp:<E.164>`
 * @param lookup.accountSid the webhook's `AccountSid`, if any
 * @returns undefined when no number matches; `authToken` undefined when the number holds no token
 * @throws Error when the token does not decrypt with any configured key
 */
export async function findTwilioWebhookToken(
  db: Executor,
  cipher: TokenCipher,
  lookup: { phoneNumberId: string; accountSid: string | null },
): Promise<{ authToken: string | undefined; routed: boolean } | undefined> {
  const number = await findTwilioCredentials(db, lookup);
  if (!number) return undefined;
  const authToken = number.access_token_ciphertext
    ? cipher.decrypt({ ciphertext: number.access_token_ciphertext, keyId: number.access_token_key_id ?? '' })
    : undefined;
  return { authToken, routed: number.routed };
}
