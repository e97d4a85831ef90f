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
 * E.164 number for a Meta `wa_id`. A wa_id is digits with the country code; when libphonenumber
 * knows the number it is normalised, otherwise `+<wa_id>` is kept as long as it is E.164-shaped, so
 * that a customer on a newly issued range is never refused.
 * @returns the E.164 number, or null when the wa_id is empty or not 7–15 digits
 */
export function waIdToE164(waId: string): string | null {
  if (!/^[1-9][0-9]{6,14}$/.test(waId)) return null;
  const parsed = parsePhoneNumberFromString(`+${waId}`);
  return parsed?.isPossible() ? parsed.number : `+${waId}`;
}

/** The wa_id Meta would use for an E.164 number (digits without `+`). */
export function e164ToWaId(e164: string): string {
  return e164.replace(/^\+/, '');
}
