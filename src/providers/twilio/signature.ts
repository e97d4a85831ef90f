/**
 * Twilio webhook signatures: `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, URL + params)),
 * where URL is the full URL Twilio requested (query string included) and params are the POST form
 * parameters sorted by name, each appended as `name + value` with no separators (a repeated name:
 * its distinct values sorted, `name + value` for each).
 *
 * Sources: Twilio "Webhooks security" (twilio.com/docs/usage/webhooks/webhooks-security) and
 * twilio-node `src/webhooks/webhooks.ts` (`getExpectedTwilioSignature`, `validateRequest`), which
 * accepts a signature computed with or without an explicit port (`:443`/`:80`) "since signature
 * generation on the back end is inconsistent"; PROTOCOL.md §7.3. The URL is normalised with the
 * WHATWG URL parser first, as twilio-node does, so `'` and `%27` in a query compare equal.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** Header carrying the signature, lower-cased as Node exposes it. */
export const TWILIO_SIGNATURE_HEADER = 'x-twilio-signature';

/** Form parameters as parsed from the body: a repeated name keeps every value. */
export type TwilioParams = Record<string, string | string[]>;

/** `name + value` for each value of a parameter, repeated values deduplicated and sorted (twilio-node). */
function paramData(name: string, value: string | string[]): string {
  if (!Array.isArray(value)) return name + value;
  return [...new Set(value)].sort().map((v) => name + v).join('');
}

/** JavaScript's default sort compares UTF-16 code units, as twilio-node's `Object.keys(params).sort()` does. */
function sortedNames(params: TwilioParams): string[] {
  return Object.keys(params).sort();
}

/** HMAC-SHA1 over the URL exactly as given (no WHATWG normalisation, which would drop `:443`). */
function signatureOver(authToken: string, url: string, params: TwilioParams): string {
  let data = url;
  for (const name of sortedNames(params)) data += paramData(name, params[name]!);
  return createHmac('sha1', authToken).update(Buffer.from(data, 'utf8')).digest('base64');
}

/**
 * Computes the signature Twilio sends for a request.
 * @param authToken the account's Auth Token (the HMAC key)
 * @param url the full URL Twilio requested, including the query string
 * @param params the POST form parameters (empty for GET)
 * @returns base64 of the 20-byte HMAC-SHA1
 * @throws TypeError when `url` is not an absolute URL
 */
export function computeTwilioSignature(authToken: string, url: string, params: TwilioParams): string {
  return signatureOver(authToken, new URL(url).toString(), params);
}

/** The URL with its port made explicit (`:443`/`:80` when it had none), and without any port. */
export function urlPortVariants(url: string): [withPort: string, withoutPort: string] {
  const parsed = new URL(url);
  const withPort = new URL(url);
  if (!parsed.port) {
    // WHATWG URL drops a default port when set, so the explicit form is spliced in by hand (twilio-node does the same).
    const port = parsed.protocol === 'https:' ? '443' : '80';
    const hostWithPort = `${parsed.protocol}//${parsed.username}${parsed.password ? `:${parsed.password}` : ''}${parsed.username || parsed.password ? '@' : ''}${parsed.host}:${port}`;
    const withoutPort = parsed.toString();
    return [`${hostWithPort}${parsed.pathname}${parsed.search}${parsed.hash}`, withoutPort];
  }
  const withoutPort = new URL(url);
  withoutPort.port = '';
  return [withPort.toString(), withoutPort.toString()];
}

function sameSignature(given: string, expected: string): boolean {
  const [a, b] = [Buffer.from(given), Buffer.from(expected)];
  return a.length === b.length && timingSafeEqual(a, b);
}


/**
 * Verifies `X-Twilio-Signature` in constant time, accepting the URL with or without its port as
 * twilio-node's `validateRequest` does.
 * @param authToken the account's Auth Token
 * @param header the header value, or undefined when missing
 * @param url the public URL of the request as Twilio saw it (see `PUBLIC_BASE_URL`)
 * @param params every POST form parameter received (Twilio adds parameters without notice)
 * @returns true only when the header matches; never throws
 */
export function verifyTwilioSignature(authToken: string, header: string | string[] | undefined, url: string, params: TwilioParams): boolean {
  if (typeof header !== 'string' || header === '') return false;
  let variants: string[];
  try {
    variants = urlPortVariants(url);
  } catch {
    return false;
  }
  let valid = false;
  // Both are computed, so the time taken does not depend on which one matched.
  for (const variant of variants) valid = sameSignature(header, signatureOver(authToken, variant, params)) || valid;
  return valid;
}
