/**
 * Migration 0011: nothing grows or sticks for ever (issue 19).
 * - Indexes on the time columns the worker's retention jobs delete by, so each batch reads only the
 *   rows it removes: `pending_statuses (received_at)`, `account_events (received_at)`,
 *   `audit_log (created_at)` (`webhook_dead_letters (created_at, id)` has one since 0001).
 * - `webhook_store_failures`: how often storing a signed webhook failed, per provider and body hash
 *   (sha256 of the raw body), so a webhook the database keeps refusing becomes a dead letter
 *   `store_failed` after `WEBHOOK_STORE_MAX_ATTEMPTS` instead of a 500 for Meta's 7 days of
 *   retries. Global like `webhook_dead_letters`: such a webhook has not been routed to any
 *   organization, so there is no org_id to key on; rows are deleted with the dead letters' retention.
 * - `outbox_events.deliveries_created_at`: the HTTP event subscriptions' own cursor. The relay
 *   creates an event's HTTP deliveries whether or not NATS acknowledged it, so a NATS outage no
 *   longer stops webhooks to subscribers. Set together with `published_at` in steady state (no
 *   extra write, no extra index on the hot path); set alone while NATS is failing. Published events
 *   are backfilled (their deliveries were created when they were published).
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE INDEX pending_statuses_received_at_idx ON pending_statuses (received_at);
    CREATE INDEX account_events_received_at_idx ON account_events (received_at);
    CREATE INDEX audit_log_created_at_idx ON audit_log (created_at);
    CREATE TABLE webhook_store_failures (
      provider text NOT NULL,
      body_hash text NOT NULL,
      attempts integer NOT NULL DEFAULT 1 CONSTRAINT webhook_store_failures_attempts_check CHECK (attempts > 0),
      last_error text NOT NULL,
      first_failed_at timestamptz NOT NULL DEFAULT now(),
      last_failed_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT webhook_store_failures_pkey PRIMARY KEY (provider, body_hash)
    );
    CREATE INDEX webhook_store_failures_last_failed_at_idx ON webhook_store_failures (last_failed_at);
    ALTER TABLE outbox_events ADD COLUMN deliveries_created_at timestamptz;
    UPDATE outbox_events SET deliveries_created_at = published_at WHERE published_at IS NOT NULL;
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE outbox_events DROP COLUMN IF EXISTS deliveries_created_at;
    DROP TABLE IF EXISTS webhook_store_failures;
    DROP INDEX IF EXISTS audit_log_created_at_idx;
    DROP INDEX IF EXISTS account_events_received_at_idx;
    DROP INDEX IF EXISTS pending_statuses_received_at_idx;
  `.execute(db);
}
