/**
 * Signatures of HTTP event deliveries: `X-Wahub-Signature: sha256=<hex HMAC-SHA256(secret, raw body)>`.
 * The body carries `delivery.timestamp` (also sent as `X-Wahub-Timestamp`, unix seconds), so the
 * timestamp is signed too and a receiver can refuse replays older than a few minutes.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'x-wahub-signature';
export const TIMESTAMP_HEADER = 'x-wahub-timestamp';

/** A new subscription secret: `whsec_` + 32 random bytes, base64url. */
export function generateSubscriptionSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}

/** `sha256=<hex>` of a raw body. */
export function signEventBody(secret: string, rawBody: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(rawBody).digest('hex')}`;
}

/** Constant-time check of a received signature header (what a receiver does). */
export function verifyEventSignature(secret: string, rawBody: string | Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const expected = Buffer.from(signEventBody(secret, rawBody));
  const received = Buffer.from(header);
  return expected.length === received.length && timingSafeEqual(expected, received);
}
