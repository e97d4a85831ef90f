/**
 * Business-scoped user IDs (BSUID): Meta's identifier of a WhatsApp user, scoped to one business
 * portfolio, sent as `user_id` in webhooks and accepted as `recipient` in sends. Format: a
 * two-letter country code, a dot, up to 128 alphanumeric characters (`US.13491208655302741918`);
 * a parent BSUID, shared by a managed business's linked portfolios, has `ENT.` after the country
 * code (`US.ENT.11815799212886844830`). Sources: docs/PROTOCOL-NOTES.md "Business-scoped user IDs".
 */

/** A BSUID (never a parent BSUID). */
export const BSUID_PATTERN = /^[A-Z]{2}\.[A-Za-z0-9]{1,128}$/;

/** A parent BSUID. */
export const PARENT_BSUID_PATTERN = /^[A-Z]{2}\.ENT\.[A-Za-z0-9]{1,128}$/;

/** Longest username kept, characters (WhatsApp usernames are far shorter; a longer one is not trusted). */
export const MAX_USERNAME_LENGTH = 100;

export function isBsuid(value: unknown): value is string {
  return typeof value === 'string' && BSUID_PATTERN.test(value);
}

export function isParentBsuid(value: unknown): value is string {
  return typeof value === 'string' && PARENT_BSUID_PATTERN.test(value);
}

/** A username as received, or null when absent, empty or longer than MAX_USERNAME_LENGTH. */
export function usernameOf(value: unknown): string | null {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_USERNAME_LENGTH ? value : null;
}
