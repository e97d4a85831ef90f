/**
 * Meta webhook signatures: `X-Hub-Signature-256: sha256=<lowercase hex HMAC-SHA256(app secret, raw body)>`.
 *
 * Source: Meta, "Create a webhook endpoint" (webhooks/create-webhook-endpoint) and Graph API
 * webhooks getting-started: the HMAC covers the exact bytes received (Meta escapes non-ASCII as
 * `\uXXXX` before signing), so it must be computed before any JSON parse or re-serialisation.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header that carries the signature, lower-cased as Node exposes it. */
export const META_SIGNATURE_HEADER = 'x-hub-signature-256';

const SIGNATURE_PATTERN = /^sha256=([0-9a-f]{64})$/;

/**
 * Signs a raw webhook body the way Meta does.
 * @param appSecret the Meta app secret (App Dashboard > App settings > Basic)
 * @param rawBody the exact bytes to be POSTed
 * @returns the full header value, `sha256=<64 lowercase hex chars>`
 */
export function signMetaPayload(appSecret: string, rawBody: Buffer | string): string {
  return `sha256=${createHmac('sha256', appSecret).update(rawBody).digest('hex')}`;
}

/**
 * Verifies `X-Hub-Signature-256` against the raw body in constant time.
 * @param appSecret the Meta app secret
 * @param rawBody the exact bytes received, before any parsing
 * @param header the header value, or undefined when missing
 * @returns true only for a well-formed header whose HMAC matches; never throws
 */
export function verifyMetaSignature(appSecret: string, rawBody: Buffer, header: string | string[] | undefined): boolean {
  if (typeof header !== 'string') return false;
  const match = SIGNATURE_PATTERN.exec(header.trim().toLowerCase());
  if (!match) return false;
  const expected = createHmac('sha256', appSecret).update(rawBody).digest();
  const given = Buffer.from(match[1]!, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
