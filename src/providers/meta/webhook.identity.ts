/**
 * Who sent a Meta inbound message: the phone-number identity (`messages[].from`, `contacts[].wa_id`)
 * and the business-scoped one (`messages[].from_user_id`, `contacts[].user_id`,
 * `contacts[].parent_user_id`, `contacts[].profile.username`). Since April 2026 every messages
 * webhook carries the BSUID; when the user's number is not available to the business, `from` and
 * `wa_id` are omitted. System messages have no `contacts[]`. Sources: docs/PROTOCOL-NOTES.md
 * "Business-scoped user IDs (usernames)".
 */
import { isBsuid, isParentBsuid, usernameOf } from '../../shared/bsuid.js';

/** The sender of one message, as far as the webhook tells. At least one of `waId` and `bsuid` is set. */
export interface SenderIdentity {
  waId: string | null;
  bsuid: string | null;
  parentBsuid: string | null;
  username: string | null;
  profileName: string | null;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The `contacts[]` entry of the sender: the one whose `wa_id` is `from` or whose `user_id` is `from_user_id`. */
function findContact(contacts: unknown, from: string | null, fromUserId: string | null): Record<string, unknown> | null {
  if (!Array.isArray(contacts)) return null;
  const contact: unknown = contacts.find((c: unknown) =>
    isRecord(c) && ((from !== null && c.wa_id === from) || (fromUserId !== null && c.user_id === fromUserId)));
  return isRecord(contact) ? contact : null;
}

/**
 * The sender of a message, or why it cannot be told: a `from_user_id` or `user_id` that is present
 * but not a BSUID (malformed, over-long) makes the message unusable (dead-lettered with the
 * reason), as does a message with neither a `from` nor a BSUID. A malformed parent BSUID or
 * username is dropped.
 */
export function senderIdentity(message: Record<string, unknown>, contacts: unknown): { ok: true; sender: SenderIdentity } | { ok: false; detail: string } {
  const from = typeof message.from === 'string' && message.from !== '' ? message.from : null;
  if (message.from_user_id !== undefined && !isBsuid(message.from_user_id)) return { ok: false, detail: 'from_user_id is not a business-scoped user ID' };
  const fromUserId = isBsuid(message.from_user_id) ? message.from_user_id : null;
  const contact = findContact(contacts, from, fromUserId);
  if (contact && contact.user_id !== undefined && !isBsuid(contact.user_id)) return { ok: false, detail: 'contacts[].user_id is not a business-scoped user ID' };
  const bsuid = fromUserId ?? (contact && isBsuid(contact.user_id) ? contact.user_id : null);
  if (from === null && bsuid === null) return { ok: false, detail: 'no from and no from_user_id' };
  const profile = contact && isRecord(contact.profile) ? contact.profile : {};
  return {
    ok: true,
    sender: {
      waId: from,
      bsuid,
      parentBsuid: contact && isParentBsuid(contact.parent_user_id) ? contact.parent_user_id : null,
      username: usernameOf(profile.username),
      profileName: typeof profile.name === 'string' ? profile.name : null,
    },
  };
}
