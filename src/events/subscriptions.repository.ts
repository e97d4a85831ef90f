/**
 * SQL of event subscriptions (an organization's HTTP webhooks) and their deliveries.
 */
import { sql } from 'kysely';
import type { Db, Executor } from '../db/database.js';
import type { EventDeliveryState } from '../db/schema.js';


const subscriptionColumns = ['id', 'url', 'event_types', 'description', 'created_at'] as const;

export async function insertSubscription(
  db: Executor,
  values: { orgId: string; url: string; eventTypes: string[]; description: string | null; secretCiphertext: string; secretKeyId: string },
) {
  return db
    .insertInto('event_subscriptions')
    .values({
      org_id: values.orgId, url: values.url, event_types: values.eventTypes, description: values.description,
      secret_ciphertext: values.secretCiphertext, secret_key_id: values.secretKeyId,
    })
    .returning(subscriptionColumns)
    .executeTakeFirstOrThrow();
}

export async function listSubscriptions(db: Executor, orgId: string) {
  return db.selectFrom('event_subscriptions').select(subscriptionColumns).where('org_id', '=', orgId).orderBy('created_at').orderBy('id').execute();
}

/** Undelivered deliveries of one subscription: `waiting` (no attempt yet), `retrying` (failed, will retry), `dead`. */
export interface DeliveryHealthRow {
  subscription_id: string;
  waiting: number;
  retrying: number;
  dead: number;
  last_error: string | null;
  oldest_pending_at: Date | null;
}

/**
 * Per subscription of the organization, its undelivered deliveries by kind and the newest failure
 * (index event_deliveries_subscription_idx; delivered rows are not read). Subscriptions with
 * nothing undelivered have no row.
 */
export async function countUndeliveredBySubscription(db: Executor, orgId: string): Promise<DeliveryHealthRow[]> {
  const result = await sql<DeliveryHealthRow>`
    SELECT subscription_id,
           count(*) FILTER (WHERE state = 'pending' AND attempts = 0)::int AS waiting,
           count(*) FILTER (WHERE state = 'pending' AND attempts > 0)::int AS retrying,
           count(*) FILTER (WHERE state = 'dead')::int AS dead,
           (array_agg(last_error ORDER BY id DESC) FILTER (WHERE attempts > 0))[1] AS last_error,
           min(created_at) FILTER (WHERE state = 'pending') AS oldest_pending_at
    FROM event_deliveries
    WHERE org_id = ${orgId} AND state IN ('pending', 'dead')
    GROUP BY subscription_id`.execute(db);
  return result.rows;
}

export async function findSubscription(db: Executor, orgId: string, id: string) {
  return db.selectFrom('event_subscriptions').select(subscriptionColumns).where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
}

/** Deletes a subscription and (cascade) its deliveries. @returns false when not found */
export async function deleteSubscription(db: Executor, orgId: string, id: string): Promise<boolean> {
  const result = await db.deleteFrom('event_subscriptions').where('org_id', '=', orgId).where('id', '=', id).executeTakeFirst();
  return Number(result.numDeletedRows) === 1;
}

/** One page of a subscription's deliveries, newest first, keyset on id. */
export async function listDeliveries(
  db: Executor,
  values: { orgId: string; subscriptionId: string; state?: EventDeliveryState; limit: number; beforeId?: string },
) {
  let query = db
    .selectFrom('event_deliveries')
    .innerJoin('outbox_events', 'outbox_events.id', 'event_deliveries.event_id')
    .select([
      'event_deliveries.id', 'event_deliveries.event_id', 'outbox_events.event_type', 'event_deliveries.state', 'event_deliveries.attempts',
      'event_deliveries.next_attempt_at', 'event_deliveries.last_status', 'event_deliveries.last_error', 'event_deliveries.created_at',
      'event_deliveries.completed_at',
    ])
    .where('event_deliveries.org_id', '=', values.orgId)
    .where('event_deliveries.subscription_id', '=', values.subscriptionId);
  if (values.state) query = query.where('event_deliveries.state', '=', values.state);
  if (values.beforeId) query = query.where('event_deliveries.id', '<', values.beforeId);
  return query.orderBy('event_deliveries.id', 'desc').limit(values.limit).execute();
}

/** Puts a dead-lettered delivery back in the queue with a fresh 24-hour window. @returns false unless it was dead */
export async function redriveDelivery(db: Executor, orgId: string, subscriptionId: string, id: string): Promise<boolean> {
  const result = await sql`
    UPDATE event_deliveries SET state = 'pending', attempts = 0, next_attempt_at = now(), created_at = now(), completed_at = NULL
    WHERE org_id = ${orgId} AND subscription_id = ${subscriptionId} AND id = ${id} AND state = 'dead'`.execute(db);
  return Number(result.numAffectedRows) === 1;
}

/** A delivery claimed under a lease, with what is needed to send it. */
export interface ClaimedDelivery {
  id: string;
  attempts: number;
  lease_token: string;
  created_at: Date;
  url: string;
  secret_ciphertext: string;
  secret_key_id: string;
  event_id: string;
  org_id: string;
  aggregate_id: string;
  aggregate_type: string;
  event_type: string;
  event_version: number;
  payload: Record<string, unknown>;
  correlation_id: string | null;
  event_created_at: Date;
}

/**
 * Claims due deliveries under a lease (`FOR UPDATE SKIP LOCKED`). A delivery is due only when no
 * earlier delivery (by event `seq`) of the same subscription and aggregate is still pending, so a
 * subscriber receives one aggregate's events in order even while one of them is being retried.
 */
export async function claimDueDeliveries(db: Db, limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
  const result = await sql<ClaimedDelivery>`
    WITH due AS (
      SELECT d.id FROM event_deliveries d
      WHERE d.state = 'pending' AND d.next_attempt_at <= now() AND (d.lease_expires_at IS NULL OR d.lease_expires_at < now())
        AND NOT EXISTS (
          SELECT 1 FROM event_deliveries earlier
          WHERE earlier.subscription_id = d.subscription_id AND earlier.aggregate_id = d.aggregate_id
            AND earlier.state = 'pending' AND earlier.event_seq < d.event_seq)
      ORDER BY d.next_attempt_at, d.id
      LIMIT ${limit}
      FOR UPDATE SKIP LOCKED
    ), claimed AS (
      UPDATE event_deliveries d SET lease_token = gen_random_uuid(), lease_expires_at = now() + ${leaseMs} * interval '1 millisecond',
        attempts = d.attempts + 1
      FROM due WHERE d.id = due.id
      RETURNING d.id, d.attempts, d.lease_token, d.created_at, d.subscription_id, d.event_id
    )
    SELECT c.id, c.attempts, c.lease_token, c.created_at, s.url, s.secret_ciphertext, s.secret_key_id,
           e.id AS event_id, e.org_id, e.aggregate_id, e.aggregate_type, e.event_type, e.event_version, e.payload, e.correlation_id,
           e.created_at AS event_created_at
    FROM claimed c
    JOIN event_subscriptions s ON s.id = c.subscription_id
    JOIN outbox_events e ON e.id = c.event_id
    ORDER BY c.id`.execute(db);
  return result.rows;
}

/** Records a 2xx answer. Fenced by the lease token. */
export async function markDelivered(db: Executor, id: string, leaseToken: string, status: number): Promise<boolean> {
  const result = await sql`
    UPDATE event_deliveries SET state = 'delivered', completed_at = now(), last_status = ${status}, last_error = NULL,
      lease_token = NULL, lease_expires_at = NULL
    WHERE id = ${id} AND lease_token = ${leaseToken}::uuid AND state = 'pending'`.execute(db);
  return Number(result.numAffectedRows) === 1;
}

/**
 * Records a failed attempt: retry after `delayMs`, or dead-letter when `dead`. Fenced by the lease token.
 */
export async function markAttemptFailed(
  db: Executor,
  values: { id: string; leaseToken: string; status: number | null; error: string; delayMs: number; dead: boolean },
): Promise<boolean> {
  const result = await sql`
    UPDATE event_deliveries SET
      state = CASE WHEN ${values.dead} THEN 'dead' ELSE 'pending' END,
      completed_at = CASE WHEN ${values.dead} THEN now() END,
      next_attempt_at = now() + ${values.delayMs} * interval '1 millisecond',
      last_status = ${values.status}, last_error = ${values.error.slice(0, 1000)},
      lease_token = NULL, lease_expires_at = NULL
    WHERE id = ${values.id} AND lease_token = ${values.leaseToken}::uuid AND state = 'pending'`.execute(db);
  return Number(result.numAffectedRows) === 1;
}

/** Subscriptions whose secret is encrypted with another key than `keyId` (key rotation), keyset on id. */
export async function listSecretsToRotate(db: Executor, keyId: string, afterId: string | null, limit: number) {
  let query = db.selectFrom('event_subscriptions').select(['id', 'secret_ciphertext', 'secret_key_id'])
    .where('secret_key_id', '<>', keyId).orderBy('id').limit(limit);
  if (afterId) query = query.where('id', '>', afterId);
  return query.execute();
}

/** Stores a re-encrypted secret unless the row changed meanwhile. */
export async function replaceSecretCiphertext(db: Executor, values: { id: string; oldCiphertext: string; ciphertext: string; keyId: string }): Promise<boolean> {
  const result = await db.updateTable('event_subscriptions')
    .set({ secret_ciphertext: values.ciphertext, secret_key_id: values.keyId })
    .where('id', '=', values.id).where('secret_ciphertext', '=', values.oldCiphertext)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
