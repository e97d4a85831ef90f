/**
 * Migration 0001: the core schema of SPEC §2–3 — tenancy, WABAs and phone numbers, clients and
 * contacts, threads, messages, the message outbox, domain events, dead letters and pending statuses.
 *
 * Every tenant table carries `org_id`, and its unique keys and foreign keys include it, so that
 * (a) the database itself refuses cross-tenant references and (b) the schema can be distributed by
 * `org_id` (Citus) later. Columns named `*_ref` are wahub's uuids of rows whose Meta id already owns
 * the `*_id` name (`waba_id`, `phone_number_id`).
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE organizations (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      name text NOT NULL CONSTRAINT organizations_name_check CHECK (length(btrim(name)) BETWEEN 1 AND 200),
      created_at timestamptz NOT NULL DEFAULT now()
    );

    CREATE TABLE operators (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      email text NOT NULL CONSTRAINT operators_email_check CHECK (email ~ '^[^@\\s]+@[^@\\s]+$' AND length(email) <= 320),
      name text,
      role text NOT NULL CONSTRAINT operators_role_check CHECK (role IN ('owner', 'admin', 'agent')),
      password_hash text,
      disabled_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT operators_org_id_id_key UNIQUE (org_id, id)
    );
    CREATE UNIQUE INDEX operators_org_id_email_key ON operators (org_id, lower(email));

    CREATE TABLE api_keys (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL,
      operator_id uuid NOT NULL,
      prefix text NOT NULL CONSTRAINT api_keys_prefix_key UNIQUE,
      key_hash text NOT NULL,
      scopes text[] NOT NULL DEFAULT '{}',
      revoked_at timestamptz,
      last_used_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT api_keys_operator_fkey FOREIGN KEY (org_id, operator_id) REFERENCES operators (org_id, id) ON DELETE CASCADE
    );

    CREATE TABLE wabas (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      waba_id text NOT NULL CONSTRAINT wabas_waba_id_check CHECK (waba_id ~ '^[0-9]{1,32}$'),
      owner_business_id text,
      name text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      -- A WABA belongs to one organization.
      CONSTRAINT wabas_waba_id_key UNIQUE (waba_id),
      CONSTRAINT wabas_org_id_id_key UNIQUE (org_id, id)
    );

    CREATE TABLE waba_access (
      org_id uuid NOT NULL,
      operator_id uuid NOT NULL,
      waba_ref uuid NOT NULL,
      granted_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT waba_access_pkey PRIMARY KEY (org_id, operator_id, waba_ref),
      CONSTRAINT waba_access_operator_fkey FOREIGN KEY (org_id, operator_id) REFERENCES operators (org_id, id) ON DELETE CASCADE,
      CONSTRAINT waba_access_waba_fkey FOREIGN KEY (org_id, waba_ref) REFERENCES wabas (org_id, id) ON DELETE CASCADE
    );

    CREATE TABLE phone_numbers (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL,
      waba_ref uuid NOT NULL,
      provider text NOT NULL DEFAULT 'meta' CONSTRAINT phone_numbers_provider_check CHECK (provider IN ('meta', 'twilio')),
      phone_number_id text NOT NULL CONSTRAINT phone_numbers_phone_number_id_check CHECK (length(phone_number_id) BETWEEN 1 AND 64),
      display_phone_number text NOT NULL,
      e164 text NOT NULL CONSTRAINT phone_numbers_e164_check CHECK (e164 ~ '^\\+[1-9][0-9]{6,14}$'),
      verified_name text,
      quality_rating text,
      messaging_limit_tier text,
      throughput_mps integer NOT NULL DEFAULT 80 CONSTRAINT phone_numbers_throughput_mps_check CHECK (throughput_mps BETWEEN 1 AND 1000),
      access_token_ciphertext text,
      access_token_key_id text,
      token_expires_at timestamptz,
      status text NOT NULL DEFAULT 'active' CONSTRAINT phone_numbers_status_check CHECK (status IN ('active', 'reauth_required', 'disconnected')),
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT phone_numbers_waba_fkey FOREIGN KEY (org_id, waba_ref) REFERENCES wabas (org_id, id),
      CONSTRAINT phone_numbers_org_id_id_key UNIQUE (org_id, id),
      CONSTRAINT phone_numbers_org_id_phone_number_id_key UNIQUE (org_id, phone_number_id),
      -- Ciphertext and key id live together or not at all.
      CONSTRAINT phone_numbers_token_check CHECK ((access_token_ciphertext IS NULL) = (access_token_key_id IS NULL))
    );
    -- Webhook routing is never ambiguous: at most one organization holds a phone_number_id connected.
    CREATE UNIQUE INDEX phone_numbers_connected_phone_number_id_key ON phone_numbers (phone_number_id)
      WHERE status <> 'disconnected';

    CREATE TABLE clients (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      name text NOT NULL,
      attributes jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT clients_org_id_id_key UNIQUE (org_id, id)
    );

    CREATE TABLE contacts (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL,
      client_id uuid NOT NULL,
      e164 text NOT NULL CONSTRAINT contacts_e164_check CHECK (e164 ~ '^\\+[1-9][0-9]{6,14}$'),
      wa_id text,
      profile_name text,
      verified_at timestamptz,
      terms_version text,
      terms_accepted_at timestamptz,
      blocked_at timestamptz,
      blocked_reason text,
      last_active_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT contacts_client_fkey FOREIGN KEY (org_id, client_id) REFERENCES clients (org_id, id),
      CONSTRAINT contacts_org_id_id_key UNIQUE (org_id, id),
      -- One contact per number per organization; hence each number belongs to one client.
      CONSTRAINT contacts_org_id_e164_key UNIQUE (org_id, e164)
    );
    CREATE INDEX contacts_client_id_idx ON contacts (org_id, client_id);

    CREATE TABLE threads (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL,
      phone_number_ref uuid NOT NULL,
      contact_id uuid NOT NULL,
      status text NOT NULL DEFAULT 'open' CONSTRAINT threads_status_check CHECK (status IN ('open', 'closed')),
      owner_operator_id uuid,
      last_inbound_at timestamptz,
      last_message_at timestamptz NOT NULL DEFAULT now(),
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT threads_phone_number_fkey FOREIGN KEY (org_id, phone_number_ref) REFERENCES phone_numbers (org_id, id),
      CONSTRAINT threads_contact_fkey FOREIGN KEY (org_id, contact_id) REFERENCES contacts (org_id, id),
      CONSTRAINT threads_owner_fkey FOREIGN KEY (org_id, owner_operator_id) REFERENCES operators (org_id, id),
      CONSTRAINT threads_org_id_id_key UNIQUE (org_id, id),
      CONSTRAINT threads_org_id_id_phone_number_ref_key UNIQUE (org_id, id, phone_number_ref),
      -- One thread per (business phone number, contact).
      CONSTRAINT threads_phone_number_contact_key UNIQUE (org_id, phone_number_ref, contact_id)
    );
    -- Thread list: newest activity first, keyset on (last_message_at, id).
    CREATE INDEX threads_org_id_last_message_at_idx ON threads (org_id, last_message_at DESC, id DESC);

    -- Co-writers of a thread. The owner is threads.owner_operator_id (one source of truth), so
    -- the only role recorded here is 'cowriter'.
    CREATE TABLE thread_collaborators (
      org_id uuid NOT NULL,
      thread_id uuid NOT NULL,
      operator_id uuid NOT NULL,
      role text NOT NULL DEFAULT 'cowriter' CONSTRAINT thread_collaborators_role_check CHECK (role = 'cowriter'),
      added_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT thread_collaborators_pkey PRIMARY KEY (org_id, thread_id, operator_id),
      CONSTRAINT thread_collaborators_thread_fkey FOREIGN KEY (org_id, thread_id) REFERENCES threads (org_id, id) ON DELETE CASCADE,
      CONSTRAINT thread_collaborators_operator_fkey FOREIGN KEY (org_id, operator_id) REFERENCES operators (org_id, id) ON DELETE CASCADE
    );

    CREATE FUNCTION message_status_rank(status text) RETURNS integer
      LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
        SELECT CASE status
          WHEN 'received' THEN 0 WHEN 'queued' THEN 1 WHEN 'sending' THEN 2 WHEN 'sent' THEN 3
          WHEN 'delivered' THEN 4 WHEN 'read' THEN 5 WHEN 'played' THEN 6 WHEN 'failed' THEN 7 END
      $$;

    CREATE TABLE messages (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL,
      thread_id uuid NOT NULL,
      phone_number_ref uuid NOT NULL,
      direction text NOT NULL CONSTRAINT messages_direction_check CHECK (direction IN ('inbound', 'outbound')),
      type text NOT NULL CONSTRAINT messages_type_check CHECK (type ~ '^[a-z_]{1,32}$'),
      content jsonb NOT NULL,
      provider_message_id text,
      status text NOT NULL CONSTRAINT messages_status_check
        CHECK (status IN ('received', 'queued', 'sending', 'sent', 'delivered', 'read', 'played', 'failed')),
      error_code integer,
      error_title text,
      sent_by_operator_id uuid,
      idempotency_key text CONSTRAINT messages_idempotency_key_check CHECK (length(idempotency_key) BETWEEN 1 AND 255),
      request_hash text,
      provider_timestamp timestamptz,
      raw jsonb,
      -- clock_timestamp, not now(): messages stored in one transaction keep their order.
      created_at timestamptz NOT NULL DEFAULT clock_timestamp(),
      status_updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT messages_thread_fkey FOREIGN KEY (org_id, thread_id, phone_number_ref)
        REFERENCES threads (org_id, id, phone_number_ref) ON DELETE CASCADE,
      CONSTRAINT messages_sent_by_fkey FOREIGN KEY (org_id, sent_by_operator_id) REFERENCES operators (org_id, id),
      CONSTRAINT messages_org_id_id_key UNIQUE (org_id, id),
      CONSTRAINT messages_direction_status_check CHECK ((direction = 'inbound') = (status = 'received')),
      CONSTRAINT messages_inbound_shape_check CHECK (direction = 'outbound' OR (provider_message_id IS NOT NULL AND raw IS NOT NULL)),
      CONSTRAINT messages_idempotency_shape_check CHECK ((idempotency_key IS NULL) = (request_hash IS NULL))
    );
    -- A wamid is recorded once per business phone number (inbound dedupe, status lookup).
    CREATE UNIQUE INDEX messages_provider_message_id_key ON messages (org_id, phone_number_ref, provider_message_id)
      WHERE provider_message_id IS NOT NULL;
    -- An outbound send is unique per (organization, Idempotency-Key).
    CREATE UNIQUE INDEX messages_idempotency_key_key ON messages (org_id, idempotency_key)
      WHERE idempotency_key IS NOT NULL;
    -- Message page of a thread, keyset on (created_at, id).
    CREATE INDEX messages_thread_created_at_idx ON messages (org_id, thread_id, created_at DESC, id DESC);

    -- Statuses move forward only (queued < sending < sent < delivered < read < played; failed is
    -- terminal). The application updates conditionally; this trigger makes a regression impossible.
    CREATE FUNCTION messages_status_forward_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.status = 'failed' AND NEW.status <> 'failed' THEN
        RAISE EXCEPTION 'message % status cannot leave failed (to %)', OLD.id, NEW.status USING ERRCODE = 'check_violation';
      END IF;
      IF NEW.status <> 'failed' AND message_status_rank(NEW.status) < message_status_rank(OLD.status) THEN
        RAISE EXCEPTION 'message % status cannot go back from % to %', OLD.id, OLD.status, NEW.status USING ERRCODE = 'check_violation';
      END IF;
      RETURN NEW;
    END $$;
    CREATE TRIGGER messages_status_forward_only BEFORE UPDATE OF status ON messages
      FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION messages_status_forward_only();

    CREATE TABLE message_outbox (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      org_id uuid NOT NULL,
      message_id uuid NOT NULL,
      thread_id uuid NOT NULL,
      phone_number_ref uuid NOT NULL,
      state text NOT NULL DEFAULT 'pending' CONSTRAINT message_outbox_state_check
        CHECK (state IN ('pending', 'leased', 'parked', 'done', 'failed')),
      attempts integer NOT NULL DEFAULT 0 CONSTRAINT message_outbox_attempts_check CHECK (attempts >= 0),
      next_attempt_at timestamptz NOT NULL DEFAULT now(),
      lease_owner text,
      lease_token uuid,
      lease_expires_at timestamptz,
      last_error jsonb,
      correlation_id text,
      created_at timestamptz NOT NULL DEFAULT now(),
      completed_at timestamptz,
      CONSTRAINT message_outbox_message_fkey FOREIGN KEY (org_id, message_id) REFERENCES messages (org_id, id) ON DELETE CASCADE,
      CONSTRAINT message_outbox_message_id_key UNIQUE (message_id),
      CONSTRAINT message_outbox_lease_check CHECK ((state = 'leased') = (lease_token IS NOT NULL AND lease_expires_at IS NOT NULL AND lease_owner IS NOT NULL))
    );
    -- Only claimable rows are indexed: pending ones by due time, leased ones by lease expiry.
    CREATE INDEX message_outbox_pending_idx ON message_outbox (next_attempt_at, id) WHERE state = 'pending';
    CREATE INDEX message_outbox_leased_idx ON message_outbox (lease_expires_at) WHERE state = 'leased';
    -- Per-thread ordering check: unfinished rows of a thread by sequence.
    CREATE INDEX message_outbox_thread_unfinished_idx ON message_outbox (thread_id, id) WHERE state IN ('pending', 'leased', 'parked');

    CREATE TABLE outbox_events (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      aggregate_id uuid NOT NULL,
      aggregate_type text NOT NULL,
      event_type text NOT NULL,
      event_version integer NOT NULL DEFAULT 1,
      payload jsonb NOT NULL,
      metadata jsonb NOT NULL DEFAULT '{}',
      correlation_id text,
      created_at timestamptz NOT NULL DEFAULT now(),
      published_at timestamptz
    );
    CREATE INDEX outbox_events_unpublished_idx ON outbox_events (created_at, id) WHERE published_at IS NULL;

    CREATE TABLE webhook_dead_letters (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
      provider text NOT NULL CONSTRAINT webhook_dead_letters_provider_check CHECK (provider IN ('meta', 'twilio')),
      reason text NOT NULL,
      detail text NOT NULL,
      waba_id text,
      phone_number_id text,
      field text,
      payload jsonb,
      raw_body text,
      -- sha256 of (provider, reason, WABA, number, field, payload): a redelivered webhook adds no second row.
      dedupe_key text NOT NULL CONSTRAINT webhook_dead_letters_dedupe_key_key UNIQUE,
      correlation_id text,
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT webhook_dead_letters_content_check CHECK (payload IS NOT NULL OR raw_body IS NOT NULL)
    );
    CREATE INDEX webhook_dead_letters_created_at_idx ON webhook_dead_letters (created_at DESC, id DESC);

    -- Statuses that arrived before their wamid was recorded; applied (and deleted) when it is.
    CREATE TABLE pending_statuses (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL,
      phone_number_ref uuid NOT NULL,
      provider_message_id text NOT NULL,
      status text NOT NULL CONSTRAINT pending_statuses_status_check CHECK (status IN ('sent', 'delivered', 'read', 'played', 'failed')),
      provider_timestamp timestamptz NOT NULL,
      error_code integer,
      error_title text,
      payload jsonb NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT pending_statuses_phone_number_fkey FOREIGN KEY (org_id, phone_number_ref) REFERENCES phone_numbers (org_id, id) ON DELETE CASCADE,
      CONSTRAINT pending_statuses_dedupe_key UNIQUE (org_id, phone_number_ref, provider_message_id, status)
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS pending_statuses, webhook_dead_letters, outbox_events, message_outbox, messages,
      thread_collaborators, threads, contacts, clients, phone_numbers, waba_access, wabas, api_keys,
      operators, organizations CASCADE;
    DROP FUNCTION IF EXISTS messages_status_forward_only();
    DROP FUNCTION IF EXISTS message_status_rank(text);
  `.execute(db);
}
