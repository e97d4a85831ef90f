/**
 * Helpers for API-level tests (outbound, threads, tenancy, e2e): bearer headers, delivering a real
 * signed inbound webhook through the hub, unique customer numbers, and polling with a deadline.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../../src/db/database.js';
import { signedHeaders, textWebhook, type TestNumber } from './factories.js';

/** `Authorization: Bearer <key>` (plus extra headers). */
export function bearer(apiKey: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${apiKey}`, ...extra };
}

/** A customer wa_id that libphonenumber accepts as a possible US number: `14` + 9 random digits. */
export function customerWaId(): string {
  return `14${String(Math.floor(Math.random() * 1e9)).padStart(9, '0')}`;
}

/** A made-up inbound wamid, unique per call. */
export function inboundWamid(): string {
  return `wamid.test-in-${randomBytes(8).toString('hex')}`;
}

/**
 * Delivers one inbound text message as Meta would (signed `POST /webhooks/whatsapp`) and returns
 * the thread it was filed under. Opens the 24-hour customer service window of that thread.
 */
export async function deliverInbound(
  app: FastifyInstance,
  db: Db,
  number: TestNumber,
  values: { from?: string; wamid?: string; body?: string; name?: string; timestamp?: number } = {},
): Promise<{ threadId: string; wamid: string; from: string; messageId: string }> {
  const from = values.from ?? customerWaId();
  const wamid = values.wamid ?? inboundWamid();
  const payload = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from, wamid, body: values.body, name: values.name, timestamp: values.timestamp });
  const response = await app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(payload), payload });
  if (response.statusCode !== 200) throw new Error(`inbound webhook answered ${response.statusCode}: ${response.body}`);
  const row = await db
    .selectFrom('messages')
    .innerJoin('phone_numbers', 'phone_numbers.id', 'messages.phone_number_ref')
    .select(['messages.id', 'messages.thread_id'])
    .where('phone_numbers.phone_number_id', '=', number.phoneNumberId)
    .where('messages.provider_message_id', '=', wamid)
    .executeTakeFirstOrThrow();
  return { threadId: row.thread_id, wamid, from, messageId: row.id };
}

/** Polls `probe` until it returns a truthy value, or fails with `what` after `timeoutMs`. */
export async function waitFor<T>(probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, what: string, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
