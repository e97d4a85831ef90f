/**
 * Migration 0003: onboarding and consistency.
 * - `oauth_states`: Embedded Signup states bound to organization + operator (hash only, short
 *   expiry, single use).
 * - WABAs and numbers can be disconnected and reconnected: one row per (organization, WABA) and
 *   per (organization, phone_number_id), reused on reconnect so history stays attached; at most
 *   one organization holds a WABA or a phone_number_id *connected* (partial unique indexes).
 * - `account_events`: every `account_update` webhook, recorded once.
 * - `audit_log`: explicit operator actions such as moving a number between organizations.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE oauth_states (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL,
      operator_id uuid NOT NULL,
      state_hash text NOT NULL CONSTRAINT oauth_states_state_hash_key UNIQUE,
      created_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      consumed_at timestamptz,
      CONSTRAINT oauth_states_operator_fkey FOREIGN KEY (org_id, operator_id) REFERENCES operators (org_id, id) ON DELETE CASCADE,
      CONSTRAINT oauth_states_expiry_check CHECK (expires_at > created_at)
    );
    CREATE INDEX oauth_states_created_at_idx ON oauth_states (created_at DESC);

    ALTER TABLE wabas ADD COLUMN disconnected_at timestamptz;
    ALTER TABLE wabas DROP CONSTRAINT wabas_waba_id_key;
    ALTER TABLE wabas ADD CONSTRAINT wabas_org_id_waba_id_key UNIQUE (org_id, waba_id);
    -- A WABA belongs to one organization at a time.
    CREATE UNIQUE INDEX wabas_connected_waba_id_key ON wabas (waba_id) WHERE disconnected_at IS NULL;

    ALTER TABLE phone_numbers ADD COLUMN registered_at timestamptz;
    -- A disconnected number keeps no credentials.
    ALTER TABLE phone_numbers ADD CONSTRAINT phone_numbers_disconnected_token_check
      CHECK (status <> 'disconnected' OR access_token_ciphertext IS NULL);

    CREATE TABLE account_events (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
      waba_id text,
      event text NOT NULL,
      payload jsonb NOT NULL,
      dedupe_key text NOT NULL CONSTRAINT account_events_dedupe_key_key UNIQUE,
      received_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX account_events_waba_id_idx ON account_events (waba_id, received_at DESC);

    CREATE TABLE audit_log (
      id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      org_id uuid REFERENCES organizations (id) ON DELETE CASCADE,
      actor text NOT NULL,
      action text NOT NULL,
      subject text,
      details jsonb NOT NULL DEFAULT '{}',
      created_at timestamptz NOT NULL DEFAULT now()
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS audit_log, account_events, oauth_states;
    ALTER TABLE phone_numbers DROP CONSTRAINT IF EXISTS phone_numbers_disconnected_token_check;
    ALTER TABLE phone_numbers DROP COLUMN IF EXISTS registered_at;
    DROP INDEX IF EXISTS wabas_connected_waba_id_key;
    ALTER TABLE wabas DROP CONSTRAINT IF EXISTS wabas_org_id_waba_id_key;
    ALTER TABLE wabas ADD CONSTRAINT wabas_waba_id_key UNIQUE (waba_id);
    ALTER TABLE wabas DROP COLUMN IF EXISTS disconnected_at;
  `.execute(db);
}
