/**
 * Classification of Twilio errors for the dispatcher, next to Meta's (`../meta/errors.ts`), onto the
 * same classes: build logic on Twilio's numeric `code`, never on messages.
 *
 * Sources: Twilio error pages (twilio.com/docs/api/errors/<code>), the WhatsApp ↔ Twilio code table
 * (twilio.com/docs/whatsapp/api/error-code-mapping: 63016 ↔ WhatsApp 470 "outside the 24 h
 * window", 63018 ↔ 429/471/1015 rate limits, 63024 ↔ 1002/1026 invalid recipient, 63003 ↔
 * 1006/1013/1021 recipient not on WhatsApp, 63012 ↔ 500/1011/1014 provider internal error) and
 * PROTOCOL.md §7.2. 63016 is Twilio's counterpart of Meta's 131047: send a template instead.
 */
import type { SendErrorClass } from '../types.js';

/** Known codes with a short title and what the dispatcher does. Unknown codes are permanent. */
export const TWILIO_ERROR_CODES: Readonly<Record<number, { title: string; class: SendErrorClass; httpStatus: number }>> = {
  20003: { title: 'Authentication failed (account SID or auth token)', class: 'reauth', httpStatus: 401 },
  20404: { title: 'The requested resource was not found', class: 'permanent', httpStatus: 404 },
  20429: { title: 'Too many requests', class: 'retryable', httpStatus: 429 },
  20500: { title: 'Internal server error', class: 'retryable', httpStatus: 500 },
  20503: { title: 'Service unavailable', class: 'retryable', httpStatus: 503 },
  21211: { title: 'Invalid \'To\' phone number', class: 'permanent', httpStatus: 400 },
  21606: { title: 'The \'From\' phone number is not a valid message-capable number for this account', class: 'permanent', httpStatus: 400 },
  21610: { title: 'Attempt to send to unsubscribed recipient', class: 'permanent', httpStatus: 400 },
  21619: { title: 'A text message body, media URL or content SID must be specified', class: 'permanent', httpStatus: 400 },
  21655: { title: 'The ContentSid is invalid', class: 'permanent', httpStatus: 400 },
  21656: { title: 'The ContentVariables parameter is invalid', class: 'permanent', httpStatus: 400 },
  30008: { title: 'Unknown error', class: 'retryable', httpStatus: 400 },
  63003: { title: 'Channel could not find To address', class: 'permanent', httpStatus: 400 },
  63007: { title: 'Twilio could not find a Channel with the specified From address', class: 'permanent', httpStatus: 400 },
  63012: { title: 'Channel provider returned an internal service error', class: 'retryable', httpStatus: 400 },
  63013: { title: 'Channel policy violation', class: 'permanent', httpStatus: 400 },
  63016: { title: 'Failed to send freeform message because you are outside the allowed window', class: 'permanent', httpStatus: 400 },
  63017: { title: 'Rate limit exceeded', class: 'retryable', httpStatus: 429 },
  63018: { title: 'Rate limit exceeded for Channel', class: 'retryable', httpStatus: 429 },
  63019: { title: 'Media failed to download', class: 'permanent', httpStatus: 400 },
  63021: { title: 'Channel invalid content error', class: 'permanent', httpStatus: 400 },
  63022: { title: 'Channel template rejected (invalid parameters or template)', class: 'permanent', httpStatus: 400 },
  63023: { title: 'Channel generic error', class: 'retryable', httpStatus: 400 },
  63024: { title: 'Invalid message recipient', class: 'permanent', httpStatus: 400 },
  63032: { title: 'User\'s number is part of an experiment (message not delivered)', class: 'permanent', httpStatus: 400 },
};

/** The outside-the-window code: Meta's 131047 counterpart [TW-63016]. */
export const TWILIO_OUTSIDE_WINDOW_CODE = 63016;

/** Title of a code (for status callbacks, which carry only `ErrorCode`); null when unknown. */
export function describeTwilioErrorCode(code: number): string | null {
  return TWILIO_ERROR_CODES[code]?.title ?? null;
}

/**
 * Classifies a send failure.
 * @param code Twilio's error `code`, or null when the response had no Twilio error body
 * @param httpStatus HTTP status, or null for network errors and timeouts
 * @returns `retryable` for rate limits (20429, 63017, 63018), Twilio and channel 5xx, 429/408/5xx
 *   without a code and network errors; `reauth` for 20003 and a bare 401; `permanent` otherwise
 *   (63016 outside the window, 21211 invalid To, 63003 not on WhatsApp, unknown codes, …)
 */
export function classifyTwilioError(code: number | null, httpStatus: number | null): SendErrorClass {
  if (code !== null) return TWILIO_ERROR_CODES[code]?.class ?? (httpStatus !== null && httpStatus >= 500 ? 'retryable' : 'permanent');
  if (httpStatus === 401) return 'reauth';
  if (httpStatus === null || httpStatus === 429 || httpStatus === 408 || httpStatus >= 500) return 'retryable';
  return 'permanent';
}
