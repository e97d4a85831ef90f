/**
 * Classification of Meta Cloud API errors for the dispatcher (PROTOCOL.md §3.4, from Meta's
 * "Error codes" page, support/error-codes): build logic on `code`, never on titles.
 */
import type { SendBackoff, SendErrorClass } from '../types.js';

/** What the dispatcher does with a failed send (shared with Twilio: `../types.ts`); `reauth` is Meta's 190. */
export type MetaErrorClass = SendErrorClass;

/** Codes Meta documents as temporary (PROTOCOL.md §3.4, §9.5). */
export const RETRYABLE_META_CODES: ReadonlySet<number> = new Set([
  130429, // throughput (mps) reached
  131056, // pair rate limit (business, consumer)
  4, // app rate limit
  80007, // WABA rate limit
  131000, // something went wrong
  1, // unknown error
  2, // service temporarily unavailable
  131016, // service unavailable
  133004, // server temporarily unavailable
  131057, // account in maintenance mode (throughput upgrade)
]);

/** Throughput (mps) reached: the number pauses (PROTOCOL.md §4, [M-TP]). */
export const THROUGHPUT_LIMIT_CODE = 130429;
/** Pair rate limit: too many messages to one user; back off that user 4^X s (PROTOCOL.md §4, [M-PLAT]). */
export const PAIR_RATE_LIMIT_CODE = 131056;

/** The backoff a Meta code asks for, beyond the usual exponential retry. */
export function metaBackoff(code: number | null): SendBackoff | undefined {
  if (code === THROUGHPUT_LIMIT_CODE) return 'throughput';
  if (code === PAIR_RATE_LIMIT_CODE) return 'pair_rate_limit';
  return undefined;
}

/** Access token expired or invalid. */
export const TOKEN_EXPIRED_CODE = 190;

/**
 * Classifies a send failure.
 * @param code Meta's `error.code`, or null when the response had no Meta error body
 * @param httpStatus HTTP status, or null for network errors and timeouts
 */
export function classifyMetaError(code: number | null, httpStatus: number | null): MetaErrorClass {
  if (code === TOKEN_EXPIRED_CODE) return 'reauth';
  if (code !== null && RETRYABLE_META_CODES.has(code)) return 'retryable';
  // A code Meta does not document as temporary is final, unless Meta's own answer was a server
  // error: a 5xx is Meta's failure, not the message's, whatever code it carries.
  if (code !== null) return httpStatus !== null && httpStatus >= 500 ? 'retryable' : 'permanent';
  if (httpStatus === null || httpStatus === 429 || httpStatus === 408 || httpStatus >= 500) return 'retryable';
  return 'permanent';
}
