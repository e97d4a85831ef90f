/**
 * Phone number normalisation with libphonenumber-js. wahub stores customer numbers as E.164
 * (`+14155550123`); Meta identifies customers by `wa_id` (digits, usually the E.164 number without
 * `+`, but not always: PROTOCOL.md §2.1, e.g. old Brazilian 12-digit wa_ids).
 */
import { parsePhoneNumberFromString } from 'libphonenumber-js/max';

/**
 * E.164 form of a number typed by a person or an API caller (`+44 7700 900123`, `+1 (415) 555-0123`).
 * @returns `+` and digits, or null when the input is not a possible international number
 */
export function toE164(input: string): string | null {
  if (typeof input !== 'string' || !input.trim().startsWith('+')) return null;
  const parsed = parsePhoneNumberFromString(input.trim());
  // isPossible (length per country) rather than isValid: ranges change faster than metadata, and
  // Meta itself answers 131026 for a number that is not on WhatsApp.
  return parsed?.isPossible() ? parsed.number : null;
}

/**
 * Customers write again and again, and libphonenumber's parse was a tenth of the inbound path's
 * CPU (bench/inbound), so the last E164_MEMO_SIZE answers are kept (about 5 MB at most).
 */
const E164_MEMO_SIZE = 50_000;
const e164ByWaId = new Map<string, string>();

/**
 * E.164 number for a Meta `wa_id`. A wa_id is digits with the country code; when libphonenumber
 * knows the number it is normalised, otherwise `+<wa_id>` is kept as long as it is E.164-shaped, so
 * that a customer on a newly issued range is never refused.
 * @returns the E.164 number, or null when the wa_id is empty or not 7–15 digits
 */
export function waIdToE164(waId: string): string | null {
  if (!/^[1-9][0-9]{6,14}$/.test(waId)) return null;
  let e164 = e164ByWaId.get(waId);
  if (e164 === undefined) {
    const parsed = parsePhoneNumberFromString(`+${waId}`);
    e164 = parsed?.isPossible() ? parsed.number : `+${waId}`;
    // Oldest entry out first (Map keeps insertion order): a bounded memo, not an unbounded leak.
    if (e164ByWaId.size >= E164_MEMO_SIZE) e164ByWaId.delete(e164ByWaId.keys().next().value!);
    e164ByWaId.set(waId, e164);
  }
  return e164;
}

/** The wa_id Meta would use for an E.164 number (digits without `+`). */
export function e164ToWaId(e164: string): string {
  return e164.replace(/^\+/, '');
}
