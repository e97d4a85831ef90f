/**
 * Helpers shared by the inbound webhook tests: posting signed bodies, reading the shared Meta
 * fixtures byte for byte, and creating outbound messages that own a wamid (plain SQL through
 * Kysely, so that status webhooks have something to move).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import type { Db } from '../../src/db/database.js';
import type { MessageStatus } from '../../src/db/schema.js';
import { signedHeaders } from '../helpers/factories.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** `test/fixtures/meta`: the shared Meta fixtures (`../shared/fixtures/meta`, PROTOCOL.md §8), kept in the repository so any clone runs them. */
export const META_FIXTURE_DIR = path.resolve(repoRoot, 'test/fixtures/meta');

/** Names of every Meta fixture file, sorted. */
export function metaFixtureNames(): string[] {
  return readdirSync(META_FIXTURE_DIR).filter((name) => name.endsWith('.json')).sort();
}

/** The exact bytes of a Meta fixture (the signature covers them, trailing newline included). */
export function metaFixtureBytes(name: string): Buffer {
  return readFileSync(path.join(META_FIXTURE_DIR, name));
}

/** POSTs a body to `/webhooks/whatsapp`, signed with the test app secret unless headers are given. */
export function postWebhook(app: FastifyInstance, body: string | Buffer, headers?: Record<string, string>): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/webhooks/whatsapp', payload: body, headers: headers ?? signedHeaders(body) });
}

/** A deterministic PRNG (mulberry32), so that a failing shuffle can be replayed from its seed. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates shuffle of a copy. */
export function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [copy[i], copy[j]] = [copy[j]!, copy[i]!];
  }
  return copy;
}

/** Creates a client, its contact (E.164, wa_id, no profile name) and the thread with a business number. */
export async function insertThread(db: Db, values: { orgId: string; phoneNumberRef: string; e164: string }): Promise<{ threadId: string; contactId: string }> {
  const client = await db.insertInto('clients').values({ org_id: values.orgId, name: `Guest (${values.e164})`, attributes: '{}' })
    .returning('id').executeTakeFirstOrThrow();
  const contact = await db.insertInto('contacts')
    .values({ org_id: values.orgId, client_id: client.id, e164: values.e164, wa_id: values.e164.slice(1), profile_name: null })
    .returning('id').executeTakeFirstOrThrow();
  const thread = await db.insertInto('threads')
    .values({ org_id: values.orgId, phone_number_ref: values.phoneNumberRef, contact_id: contact.id, owner_operator_id: null, last_inbound_at: null })
    .returning('id').executeTakeFirstOrThrow();
  return { threadId: thread.id, contactId: contact.id };
}

/** An outbound text message that already has its wamid (as after a send), in `status`. */
export async function insertOutboundMessage(
  db: Db,
  values: { orgId: string; threadId: string; phoneNumberRef: string; wamid: string; status: MessageStatus },
): Promise<string> {
  const row = await db.insertInto('messages')
    .values({
      org_id: values.orgId,
      thread_id: values.threadId,
      phone_number_ref: values.phoneNumberRef,
      direction: 'outbound',
      type: 'text',
      content: JSON.stringify({ body: 'Your appointment is confirmed' }),
      provider_message_id: values.wamid,
      status: values.status,
      error_code: null,
      error_title: null,
      sent_by_operator_id: null,
      idempotency_key: null,
      request_hash: null,
      provider_timestamp: null,
      raw: null,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

/** Status, error code and title of a message. */
export async function messageStatus(db: Db, messageId: string) {
  return db.selectFrom('messages').select(['status', 'error_code', 'error_title']).where('id', '=', messageId).executeTakeFirstOrThrow();
}
