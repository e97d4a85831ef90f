/**
 * Event subscriptions: an organization's HTTP webhooks for domain events. The signing secret is
 * generated here, returned once at creation, and stored encrypted (like access tokens).
 */
import type { Db } from '../db/database.js';
import type { EventDeliveryState } from '../db/schema.js';
import { AppError, notFound } from '../shared/errors.js';
import type { EgressGuard } from '../shared/egress.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import { generateSubscriptionSecret } from './signature.js';
import * as repo from './subscriptions.repository.js';

type SubscriptionRow = NonNullable<Awaited<ReturnType<typeof repo.findSubscription>>>;

export interface SubscriptionJson {
  id: string;
  url: string;
  event_types: string[];
  description: string | null;
  created_at: string;
}

export function presentSubscription(row: SubscriptionRow): SubscriptionJson {
  return { id: row.id, url: row.url, event_types: row.event_types, description: row.description, created_at: row.created_at.toISOString() };
}

/**
 * Creates a subscription. @returns it with its `secret` (shown this once)
 * @param eventTypes event types (docs/API.md), or `["*"]` for all
 * @param egress refuses URLs that are not https or reach non-public addresses (SSRF)
 * @throws AppError url_not_allowed
 */
export async function createSubscription(
  db: Db,
  cipher: TokenCipher,
  egress: EgressGuard,
  input: { orgId: string; url: string; eventTypes: string[]; description: string | null },
): Promise<SubscriptionJson & { secret: string }> {
  await egress.checkUrl(input.url);
  const secret = generateSubscriptionSecret();
  const sealed = cipher.encrypt(secret);
  const row = await repo.insertSubscription(db, {
    orgId: input.orgId, url: input.url, eventTypes: [...new Set(input.eventTypes)].sort(), description: input.description,
    secretCiphertext: sealed.ciphertext, secretKeyId: sealed.keyId,
  });
  return { ...presentSubscription(row), secret };
}

/** How a subscription's deliveries fare: what is still undelivered, and the newest failure. */
export interface DeliveryHealthJson {
  waiting: number;
  retrying: number;
  dead: number;
  last_error: string | null;
  oldest_pending_at: string | null;
}

const NOTHING_UNDELIVERED: DeliveryHealthJson = { waiting: 0, retrying: 0, dead: 0, last_error: null, oldest_pending_at: null };

/** The organization's subscriptions, oldest first (no secrets), each with its delivery health. */
export async function listSubscriptionsOf(db: Db, orgId: string): Promise<Array<SubscriptionJson & { deliveries: DeliveryHealthJson }>> {
  const [rows, health] = await Promise.all([repo.listSubscriptions(db, orgId), repo.countUndeliveredBySubscription(db, orgId)]);
  const bySubscription = new Map(health.map((row) => [row.subscription_id, row]));
  return rows.map((row) => {
    const found = bySubscription.get(row.id);
    const deliveries = found
      ? { waiting: found.waiting, retrying: found.retrying, dead: found.dead, last_error: found.last_error, oldest_pending_at: found.oldest_pending_at?.toISOString() ?? null }
      : NOTHING_UNDELIVERED;
    return { ...presentSubscription(row), deliveries };
  });
}

/** @throws AppError not_found */
export async function getSubscription(db: Db, orgId: string, id: string): Promise<SubscriptionJson> {
  const row = await repo.findSubscription(db, orgId, id);
  if (!row) throw notFound('event subscription');
  return presentSubscription(row);
}

/** @throws AppError not_found */
export async function removeSubscription(db: Db, orgId: string, id: string): Promise<void> {
  if (!(await repo.deleteSubscription(db, orgId, id))) throw notFound('event subscription');
}

/**
 * True for a delivery id (a positive bigint): 1 to 19 digits, at most 2^63 − 1. A larger number
 * would reach PostgreSQL and fail there (out of range for bigint → 500) instead of being refused.
 */
export function isDeliveryId(value: string): boolean {
  return /^[1-9][0-9]{0,18}$/.test(value) && BigInt(value) <= 9_223_372_036_854_775_807n;
}

/**
 * A page of a subscription's deliveries (newest first; `cursor` is the last id of the previous page).
 * @throws AppError not_found, invalid_cursor
 */
export async function listSubscriptionDeliveries(
  db: Db,
  input: { orgId: string; subscriptionId: string; state?: EventDeliveryState; limit: number; cursor?: string },
) {
  await getSubscription(db, input.orgId, input.subscriptionId);
  if (input.cursor !== undefined && !isDeliveryId(input.cursor)) throw new AppError('invalid_cursor', 'cursor is malformed; use next_cursor from the previous page');
  const rows = await repo.listDeliveries(db, { ...input, limit: input.limit + 1, beforeId: input.cursor });
  const page = rows.slice(0, input.limit);
  return {
    data: page.map((row) => ({
      id: row.id,
      event_id: row.event_id,
      event_type: row.event_type,
      state: row.state,
      attempts: row.attempts,
      next_attempt_at: row.state === 'pending' ? row.next_attempt_at.toISOString() : null,
      last_status: row.last_status,
      last_error: row.last_error,
      created_at: row.created_at.toISOString(),
      completed_at: row.completed_at?.toISOString() ?? null,
    })),
    next_cursor: rows.length > input.limit ? page.at(-1)!.id : null,
  };
}

/** Re-queues a dead-lettered delivery. @throws AppError not_found (no such dead delivery) */
export async function redriveSubscriptionDelivery(db: Db, orgId: string, subscriptionId: string, deliveryId: string): Promise<void> {
  if (!(await repo.redriveDelivery(db, orgId, subscriptionId, deliveryId))) throw notFound('dead-lettered delivery');
}

/**
 * Re-encrypts every subscription secret with the newest token key (part of `wahub keys rotate`);
 * safe to re-run. @returns counts (failed = secrets no configured key decrypts)
 */
export async function rotateSubscriptionSecrets(db: Db, cipher: TokenCipher, batchSize = 100): Promise<{ rotated: number; failed: number }> {
  const counts = { rotated: 0, failed: 0 };
  let afterId: string | null = null;
  for (;;) {
    const rows = await repo.listSecretsToRotate(db, cipher.currentKeyId, afterId, batchSize);
    if (rows.length === 0) return counts;
    for (const row of rows) {
      try {
        const sealed = cipher.encrypt(cipher.decrypt({ ciphertext: row.secret_ciphertext, keyId: row.secret_key_id }));
        if (await repo.replaceSecretCiphertext(db, { id: row.id, oldCiphertext: row.secret_ciphertext, ciphertext: sealed.ciphertext, keyId: sealed.keyId })) counts.rotated++;
      } catch {
        counts.failed++;
      }
    }
    afterId = rows.at(-1)!.id;
  }
}
