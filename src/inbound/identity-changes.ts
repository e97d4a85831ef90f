/**
 * The identity changes inbound `system` messages report (docs/PROTOCOL-NOTES.md, Meta's "System
 * messages webhook reference"): `user_changed_number` carries the new number as `system.wa_id`;
 * `user_changed_user_id` carries the new BSUID, read from `system.user_id` (the field name is not
 * in the part of Meta's reference we could read; see PROTOCOL-NOTES). Applied once, when the
 * system message is first stored.
 */
import type { Tx } from '../db/database.js';
import { changeContactIdentity } from '../conversations/contact-identity-change.js';
import type { ParsedInboundMessage } from '../providers/types.js';
import { isBsuid } from '../shared/bsuid.js';
import { waIdToE164 } from '../shared/phone.js';

/** The new identity a system message reports, or null when it reports none wahub uses. */
export function reportedIdentity(item: ParsedInboundMessage): { reason: 'user_changed_number' | 'user_changed_user_id'; e164: string | null; bsuid: string | null } | null {
  if (item.type !== 'system') return null;
  const { type, wa_id: waId, user_id: userId } = item.content as { type?: unknown; wa_id?: unknown; user_id?: unknown };
  if (type === 'user_changed_number' && typeof waId === 'string') {
    const e164 = waIdToE164(waId);
    return e164 ? { reason: type, e164, bsuid: null } : null;
  }
  if (type === 'user_changed_user_id' && isBsuid(userId)) return { reason: type, e164: null, bsuid: userId };
  return null;
}

/** Applies the identity changes of newly stored system messages, in message order. */
export async function applyIdentityChanges(
  tx: Tx,
  stored: Array<{ item: ParsedInboundMessage; orgId: string; correlationId: string | null; contact: { id: string; e164: string | null; bsuid: string | null } }>,
): Promise<void> {
  for (const { item, orgId, correlationId, contact } of stored) {
    const change = reportedIdentity(item);
    if (change) await changeContactIdentity(tx, { correlationId, source: 'webhook' }, { orgId, contact, ...change });
  }
}
