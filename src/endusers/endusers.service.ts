/**
 * Terms acceptance and blocking of end users; the contact's public JSON shape.
 */
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { type EventContext, recordEvent } from '../events/event-writer.js';
import { AppError, notFound } from '../shared/errors.js';
import * as repo from './endusers.repository.js';
import { recordRegistrationIfComplete } from './registration.js';

type ContactRow = NonNullable<Awaited<ReturnType<typeof repo.findContact>>>;

export interface ContactJson {
  id: string;
  client_id: string;
  e164: string | null;
  wa_id: string | null;
  bsuid: string | null;
  parent_bsuid: string | null;
  username: string | null;
  profile_name: string | null;
  verified_at: string | null;
  terms_version: string | null;
  terms_accepted_at: string | null;
  registered_at: string | null;
  blocked_at: string | null;
  blocked_reason: string | null;
  last_active_at: string | null;
  created_at: string;
}

const iso = (value: Date | null): string | null => value?.toISOString() ?? null;

export function presentContact(row: ContactRow): ContactJson {
  return {
    id: row.id, client_id: row.client_id, e164: row.e164, wa_id: row.wa_id, bsuid: row.bsuid, parent_bsuid: row.parent_bsuid,
    username: row.username, profile_name: row.profile_name,
    verified_at: iso(row.verified_at), terms_version: row.terms_version, terms_accepted_at: iso(row.terms_accepted_at),
    registered_at: iso(row.registered_at), blocked_at: iso(row.blocked_at), blocked_reason: row.blocked_reason,
    last_active_at: iso(row.last_active_at), created_at: row.created_at.toISOString(),
  };
}

/** @throws AppError not_found */
export async function getContact(db: Db, orgId: string, contactId: string): Promise<ContactJson> {
  const row = await repo.findContact(db, orgId, contactId);
  if (!row) throw notFound('contact');
  return presentContact(row);
}

/**
 * Records acceptance of a terms version (`user.terms_accepted`), and registration when the
 * contact is verified too (`user.registered`). Accepting again (e.g. a newer version) updates both
 * fields; registration happens once.
 * @throws AppError not_found
 */
export async function acceptTerms(db: Db, orgId: string, contactId: string, version: string, events: EventContext): Promise<ContactJson> {
  return withTransaction(db, async (tx) => {
    if (!(await repo.lockContact(tx, orgId, contactId))) throw notFound('contact');
    const contact = await repo.acceptTerms(tx, orgId, contactId, version);
    await recordEvent(tx, events, {
      orgId, aggregateType: 'contact', aggregateId: contactId, type: 'user.terms_accepted',
      payload: { contact_id: contactId, client_id: contact.client_id, terms_version: version, accepted_at: contact.terms_accepted_at!.toISOString() },
    });
    const registeredAt = await recordRegistrationIfComplete(tx, events, orgId, contactId, contact.client_id);
    return presentContact({ ...contact, registered_at: registeredAt ?? contact.registered_at });
  });
}

/**
 * Blocks a contact: its inbound messages are stored flagged and raise no events, sends to it are
 * refused (`contact_blocked`). Blocking a blocked contact changes nothing (no second event).
 * @throws AppError not_found
 */
export async function blockContact(db: Db, orgId: string, contactId: string, reason: string | null, events: EventContext): Promise<ContactJson> {
  return withTransaction(db, async (tx) => {
    const blocked = await repo.blockContact(tx, orgId, contactId, reason);
    if (!blocked) return getExisting(await repo.findContact(tx, orgId, contactId));
    await recordEvent(tx, events, {
      orgId, aggregateType: 'contact', aggregateId: contactId, type: 'contact.blocked',
      payload: { contact_id: contactId, client_id: blocked.client_id, reason },
    });
    return presentContact(blocked);
  });
}

/** Unblocks a contact (no-op when it is not blocked). @throws AppError not_found */
export async function unblockContact(db: Db, orgId: string, contactId: string, events: EventContext): Promise<ContactJson> {
  return withTransaction(db, async (tx) => {
    const unblocked = await repo.unblockContact(tx, orgId, contactId);
    if (!unblocked) return getExisting(await repo.findContact(tx, orgId, contactId));
    await recordEvent(tx, events, {
      orgId, aggregateType: 'contact', aggregateId: contactId, type: 'contact.unblocked',
      payload: { contact_id: contactId, client_id: unblocked.client_id },
    });
    return presentContact(unblocked);
  });
}

/**
 * Sets the authentication template an organization's OTPs are sent with (`wahub org set-otp-template`).
 * @param name template name (a-z, 0-9, _), approved in the organization's WABAs
 * @param language template language code (`en_US`)
 * @throws AppError validation_failed, not_found
 */
export async function setOtpTemplate(db: Db, orgId: string, name: string, language: string): Promise<void> {
  if (!/^[a-z0-9_]{1,512}$/.test(name)) throw new AppError('validation_failed', 'template name must be a-z, 0-9 and _');
  if (!/^[a-z]{2,3}(_[A-Z]{2})?$/.test(language)) throw new AppError('validation_failed', 'language must look like en_US');
  if (!(await repo.updateOrganizationOtpTemplate(db, orgId, name, language))) throw notFound('organization');
}

function getExisting(row: ContactRow | undefined): ContactJson {
  if (!row) throw notFound('contact');
  return presentContact(row);
}
