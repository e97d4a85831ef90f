/**
 * Migration 0005: domain events and end users.
 *
 * Events (issue 5):
 * - `outbox_events.stream_position` is a commit-ordered position the relay stamps when it publishes
 *   an event: it is taken from a sequence while the relay holds a transaction-level advisory lock
 *   (so positions become visible in increasing order, with no gaps that fill later). Readers that
 *   resume from a position (Server-Sent Events with `Last-Event-ID`) therefore never skip an event
 *   that committed late.
 * - `outbox_events.seq` is the insertion order; the relay publishes the events of one aggregate in
 *   `seq` order and never an event while an earlier one of its aggregate is unpublished.
 * - `event_subscriptions` (an organization's signed HTTP webhooks) and `event_deliveries` (one row
 *   per event × subscription: retried with backoff, then dead-lettered).
 *
 * End users:
 * - `otp_challenges` (keyed hash only, expiry, at most 5 attempts — enforced by a CHECK);
 * - `client_preferences` (one row per client);
 * - `contacts.registered_at`; `messages.from_blocked_contact` (inbound from a blocked contact is
 *   stored but flagged); organizations' authentication template for OTPs.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE SEQUENCE outbox_events_stream_position_seq;
    ALTER TABLE outbox_events ADD COLUMN stream_position bigint;
    CREATE UNIQUE INDEX outbox_events_stream_position_key ON outbox_events (org_id, stream_position)
      WHERE stream_position IS NOT NULL;
    ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_stream_position_published_check
      CHECK (stream_position IS NULL OR published_at IS NOT NULL);

    ALTER TABLE outbox_events ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
    ALTER TABLE outbox_events ADD CONSTRAINT outbox_events_event_type_check CHECK (event_type ~ '^[a-z_]+\\.[a-z_]+$');
    -- The relay's claim: unpublished events in insertion order; and "is an earlier event of this aggregate unpublished?".
    CREATE INDEX outbox_events_unpublished_seq_idx ON outbox_events (seq) WHERE published_at IS NULL;
    CREATE INDEX outbox_events_unpublished_aggregate_idx ON outbox_events (aggregate_id, seq) WHERE published_at IS NULL;
    -- Retention of published events, and erasure of every event about a client's aggregates.
    CREATE INDEX outbox_events_published_at_idx ON outbox_events (published_at) WHERE published_at IS NOT NULL;
    CREATE INDEX outbox_events_aggregate_idx ON outbox_events (org_id, aggregate_id);

    CREATE TABLE event_subscriptions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      url text NOT NULL CONSTRAINT event_subscriptions_url_check CHECK (url ~ '^https?://' AND length(url) <= 2048),
      event_types text[] NOT NULL CONSTRAINT event_subscriptions_event_types_check CHECK (cardinality(event_types) BETWEEN 1 AND 64),
      -- The signing secret, encrypted like access tokens (AES-256-GCM, key id beside it).
      secret_ciphertext text NOT NULL,
      secret_key_id text NOT NULL,
      description text,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT event_subscriptions_org_id_id_key UNIQUE (org_id, id)
    );

    CREATE TABLE event_deliveries (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      org_id uuid NOT NULL,
      subscription_id uuid NOT NULL,
      event_id uuid NOT NULL REFERENCES outbox_events (id) ON DELETE CASCADE,
      aggregate_id uuid NOT NULL,
      event_seq bigint NOT NULL,
      state text NOT NULL DEFAULT 'pending' CONSTRAINT event_deliveries_state_check CHECK (state IN ('pending', 'delivered', 'dead')),
      attempts integer NOT NULL DEFAULT 0 CONSTRAINT event_deliveries_attempts_check CHECK (attempts >= 0),
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      lease_token uuid,
      lease_expires_at timestamptz,
      last_status integer,
      last_error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz,
      CONSTRAINT event_deliveries_subscription_fkey FOREIGN KEY (org_id, subscription_id)
        REFERENCES event_subscriptions (org_id, id) ON DELETE CASCADE,
      CONSTRAINT event_deliveries_subscription_event_key UNIQUE (subscription_id, event_id),
      CONSTRAINT event_deliveries_completed_check CHECK ((state = 'pending') = (completed_at IS NULL))
    );
    CREATE INDEX event_deliveries_due_idx ON event_deliveries (next_attempt_at, id) WHERE state = 'pending';
    -- Order per (subscription, aggregate): a delivery waits while an earlier one is pending.
    CREATE INDEX event_deliveries_pending_aggregate_idx ON event_deliveries (subscription_id, aggregate_id, event_seq) WHERE state = 'pending';
    CREATE INDEX event_deliveries_subscription_idx ON event_deliveries (org_id, subscription_id, state, id DESC);

    ALTER TABLE organizations ADD COLUMN otp_template_name text
      CONSTRAINT organizations_otp_template_name_check CHECK (otp_template_name ~ '^[a-z0-9_]{1,512}$');
    ALTER TABLE organizations ADD COLUMN otp_template_language text
      CONSTRAINT organizations_otp_template_language_check CHECK (otp_template_language ~ '^[a-z]{2,3}(_[A-Z]{2})?$');

    ALTER TABLE messages ADD COLUMN from_blocked_contact boolean NOT NULL DEFAULT false;

    ALTER TABLE contacts ADD COLUMN registered_at timestamptz;
    ALTER TABLE contacts ADD CONSTRAINT contacts_registered_check
      CHECK (registered_at IS NULL OR (verified_at IS NOT NULL AND terms_accepted_at IS NOT NULL));
    ALTER TABLE contacts ADD CONSTRAINT contacts_terms_check CHECK ((terms_version IS NULL) = (terms_accepted_at IS NULL));
    ALTER TABLE contacts ADD CONSTRAINT contacts_blocked_check CHECK (blocked_at IS NOT NULL OR blocked_reason IS NULL);
    -- Retention: clients whose contacts have been silent since a cutoff.
    CREATE INDEX contacts_last_active_at_idx ON contacts (last_active_at);

    CREATE TABLE otp_challenges (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL,
      contact_id uuid NOT NULL,
      -- HMAC-SHA256(OTP key, challenge id ":" code), hex. The code itself is never stored here.
      code_hash text NOT NULL,
      message_id uuid,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      attempts integer NOT NULL DEFAULT 0 CONSTRAINT otp_challenges_attempts_check CHECK (attempts BETWEEN 0 AND 5),
      consumed_at timestamptz,
      CONSTRAINT otp_challenges_contact_fkey FOREIGN KEY (org_id, contact_id) REFERENCES contacts (org_id, id) ON DELETE CASCADE,
      CONSTRAINT otp_challenges_expiry_check CHECK (expires_at > created_at)
    );
    CREATE INDEX otp_challenges_contact_idx ON otp_challenges (org_id, contact_id, created_at DESC);

    CREATE TABLE client_preferences (
      org_id uuid NOT NULL,
      client_id uuid NOT NULL,
      notifications_enabled boolean NOT NULL DEFAULT true,
      language text NOT NULL DEFAULT 'en-GB' CONSTRAINT client_preferences_language_check CHECK (length(language) BETWEEN 2 AND 35),
      timezone text NOT NULL DEFAULT 'Europe/London' CONSTRAINT client_preferences_timezone_check CHECK (length(timezone) BETWEEN 1 AND 64),
      custom jsonb NOT NULL DEFAULT '{}' CONSTRAINT client_preferences_custom_check CHECK (jsonb_typeof(custom) = 'object'),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT client_preferences_pkey PRIMARY KEY (org_id, client_id),
      CONSTRAINT client_preferences_client_fkey FOREIGN KEY (org_id, client_id) REFERENCES clients (org_id, id) ON DELETE CASCADE
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS client_preferences, otp_challenges, event_deliveries, event_subscriptions;
    DROP INDEX IF EXISTS contacts_last_active_at_idx;
    ALTER TABLE contacts DROP CONSTRAINT IF EXISTS contacts_blocked_check;
    ALTER TABLE contacts DROP CONSTRAINT IF EXISTS contacts_terms_check;
    ALTER TABLE contacts DROP CONSTRAINT IF EXISTS contacts_registered_check;
    ALTER TABLE contacts DROP COLUMN IF EXISTS registered_at;
    ALTER TABLE messages DROP COLUMN IF EXISTS from_blocked_contact;
    ALTER TABLE organizations DROP COLUMN IF EXISTS otp_template_language;
    ALTER TABLE organizations DROP COLUMN IF EXISTS otp_template_name;
    DROP INDEX IF EXISTS outbox_events_aggregate_idx;
    DROP INDEX IF EXISTS outbox_events_published_at_idx;
    DROP INDEX IF EXISTS outbox_events_unpublished_aggregate_idx;
    DROP INDEX IF EXISTS outbox_events_unpublished_seq_idx;
    ALTER TABLE outbox_events DROP CONSTRAINT IF EXISTS outbox_events_event_type_check;
    ALTER TABLE outbox_events DROP COLUMN IF EXISTS seq;

    ALTER TABLE outbox_events DROP CONSTRAINT IF EXISTS outbox_events_stream_position_published_check;
    DROP INDEX IF EXISTS outbox_events_stream_position_key;
    ALTER TABLE outbox_events DROP COLUMN IF EXISTS stream_position;
    DROP SEQUENCE IF EXISTS outbox_events_stream_position_seq;
  `.execute(db);
}
