/**
 * GDPR: export every row about a client (Art. 15/20) and erase it (Art. 17).
 *
 * Erasure runs in ONE transaction under the client's row lock: events about the client's
 * aggregates (client, contacts, threads, messages), messages (with outbox rows), threads, pending
 * statuses and dead letters mentioning its numbers, contacts (with OTP challenges), preferences
 * and the client itself; then it appends the anonymous tombstone `client.erased` (ids only).
 * Copies already published to NATS or subscribers are theirs to erase on that tombstone.
 */
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { type EventContext, recordEvent } from '../events/event-writer.js';
import { eraseDeadLettersMentioning, listDeadLettersMentioning } from '../ops/dead-letters.service.js';
import { notFound } from '../shared/errors.js';
import * as repo from './gdpr.repository.js';

/** The digit strings that identify a contact's number in raw payloads (E.164 without "+", wa_id). */
function numberDigits(contacts: Array<{ e164: string | null; wa_id: string | null; bsuid: string | null }>): string[] {
  // A BSUID (letters, digits, dots) is looked for like a number: it names the customer as surely.
  return [...new Set(contacts.flatMap((c) => [c.e164?.replace(/^\+/, ''), c.wa_id, c.bsuid].filter((v): v is string => !!v)))];
}

/**
 * Every row about a client, as JSON-ready objects (`GET /v1/clients/{id}/export`). OTP code
 * hashes and subscription secrets are not included.
 * @throws AppError not_found
 */
export async function exportClient(db: Db, orgId: string, clientId: string) {
  return withTransaction(db, async (tx) => {
    const client = await repo.findClient(tx, orgId, clientId);
    if (!client) throw notFound('client');
    const contacts = await repo.listClientContacts(tx, orgId, clientId);
    const contactIds = contacts.map((c) => c.id);
    const threads = await repo.listThreadsOfContacts(tx, orgId, contactIds);
    const messages = await repo.listMessagesOfThreads(tx, orgId, threads.map((t) => t.id));
    const digits = numberDigits(contacts);
    return {
      exported_at: new Date().toISOString(),
      client,
      preferences: (await repo.findClientPreferences(tx, orgId, clientId)) ?? null,
      contacts,
      contact_identities: await repo.listContactIdentities(tx, orgId, contactIds),
      otp_challenges: await repo.listOtpChallenges(tx, orgId, contactIds),
      threads,
      messages: messages.map(({ request_hash: _hash, ...message }) => message),
      message_outbox: await repo.listOutboxRowsOfMessages(tx, orgId, messages.map((m) => m.id)),
      events: await repo.listEventsOfAggregates(tx, orgId, [clientId, ...contactIds, ...threads.map((t) => t.id), ...messages.map((m) => m.id)]),
      pending_statuses: await repo.listPendingStatusesMentioning(tx, orgId, digits),
      webhook_dead_letters: await listDeadLettersMentioning(tx, orgId, digits),
    };
  });
}

export interface ErasureResult {
  client_id: string;
  erased_at: string;
  /** Rows deleted per table (cascaded rows — outbox rows, OTP challenges, preferences — not counted). */
  deleted: Record<string, number>;
}

/**
 * Erases a client and everything about it in one transaction, leaving the `client.erased` tombstone.
 * @param options.onlyIfInactiveSince retention: re-checked under the client's lock, so a client
 *   that wrote after it was listed as inactive is kept (the result is then undefined)
 * @throws AppError not_found
 */
export async function eraseClient(
  db: Db, orgId: string, clientId: string, events: EventContext, options: { onlyIfInactiveSince?: Date } = {},
): Promise<ErasureResult | undefined> {
  return withTransaction(db, async (tx) => {
    const client = await repo.lockClient(tx, orgId, clientId);
    if (!client) throw notFound('client');
    const contacts = await repo.listClientContacts(tx, orgId, clientId, true);
    if (options.onlyIfInactiveSince && (await repo.isClientActiveSince(tx, orgId, clientId, options.onlyIfInactiveSince))) return undefined;
    const contactIds = contacts.map((c) => c.id);
    const threadIds = (await repo.listThreadsOfContacts(tx, orgId, contactIds)).map((t) => t.id);
    const messageIds = await repo.listMessageIdsOfThreads(tx, orgId, threadIds);
    const digits = numberDigits(contacts);
    const deleted: Record<string, number> = {
      ...(await repo.deleteClientHistory(tx, { orgId, threadIds, aggregateIds: [clientId, ...contactIds, ...threadIds, ...messageIds], digits })),
      // Like pending statuses, dead letters are only looked for when the client has a number.
      ...(digits.length > 0 ? { webhook_dead_letters: await eraseDeadLettersMentioning(tx, orgId, digits) } : {}),
      ...(await repo.deleteClientAndContacts(tx, { orgId, clientId, contactIds })),
    };
    const erasedAt = new Date().toISOString();
    await recordEvent(tx, events, {
      orgId, aggregateType: 'client', aggregateId: clientId, type: 'client.erased',
      payload: { client_id: clientId, contact_ids: contactIds, erased_at: erasedAt },
    });
    return { client_id: clientId, erased_at: erasedAt, deleted };
  });
}
