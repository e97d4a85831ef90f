/**
 * Migration 0009: customers with usernames (issue 15). A contact is identified by an E.164 number,
 * a business-scoped user ID (BSUID, Meta's `user_id`), or both; a CHECK keeps at least one. Each
 * identity is unique per organization through a partial unique index (the organization is the
 * scope: a business portfolio's WABAs all belong to one wahub organization, docs/ARCHITECTURE.md).
 * `contact_identities` keeps the identities a contact had before (`user_changed_user_id`,
 * `user_changed_number`, merges), for GDPR export and erasure and for support.
 *
 * BSUID format (docs/PROTOCOL-NOTES.md): two-letter country code, a dot, up to 128 alphanumerics;
 * a parent BSUID has `ENT.` after the country code.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE contacts
      ALTER COLUMN e164 DROP NOT NULL,
      ADD COLUMN bsuid text CONSTRAINT contacts_bsuid_check CHECK (bsuid ~ '^[A-Z]{2}\\.[A-Za-z0-9]{1,128}$'),
      ADD COLUMN parent_bsuid text CONSTRAINT contacts_parent_bsuid_check CHECK (parent_bsuid ~ '^[A-Z]{2}\\.ENT\\.[A-Za-z0-9]{1,128}$'),
      ADD COLUMN username text CONSTRAINT contacts_username_check CHECK (length(username) BETWEEN 1 AND 100),
      ADD CONSTRAINT contacts_identity_check CHECK (e164 IS NOT NULL OR bsuid IS NOT NULL);
    ALTER TABLE contacts DROP CONSTRAINT contacts_org_id_e164_key;
    -- One contact per number and one per BSUID in an organization.
    CREATE UNIQUE INDEX contacts_org_id_e164_key ON contacts (org_id, e164) WHERE e164 IS NOT NULL;
    CREATE UNIQUE INDEX contacts_org_id_bsuid_key ON contacts (org_id, bsuid) WHERE bsuid IS NOT NULL;

    CREATE TABLE contact_identities (
      org_id uuid NOT NULL,
      contact_id uuid NOT NULL,
      kind text NOT NULL CONSTRAINT contact_identities_kind_check CHECK (kind IN ('e164', 'bsuid')),
      value text NOT NULL CONSTRAINT contact_identities_value_check CHECK (length(value) BETWEEN 1 AND 140),
      -- Why the contact stopped using it: user_changed_user_id, user_changed_number, merged.
      reason text NOT NULL CONSTRAINT contact_identities_reason_check CHECK (reason IN ('user_changed_user_id', 'user_changed_number', 'merged')),
      replaced_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT contact_identities_pkey PRIMARY KEY (org_id, contact_id, kind, value),
      CONSTRAINT contact_identities_contact_fkey FOREIGN KEY (org_id, contact_id) REFERENCES contacts (org_id, id) ON DELETE CASCADE
    );
    -- A late message from an identity a contact left behind still finds that contact.
    CREATE INDEX contact_identities_value_idx ON contact_identities (org_id, kind, value);
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS contact_identities;
    -- Lossy by nature: customers known only by a BSUID cannot exist before this migration.
    DELETE FROM threads t USING contacts c WHERE c.org_id = t.org_id AND c.id = t.contact_id AND c.e164 IS NULL;
    DELETE FROM contacts WHERE e164 IS NULL;
    DROP INDEX IF EXISTS contacts_org_id_bsuid_key;
    DROP INDEX IF EXISTS contacts_org_id_e164_key;
    ALTER TABLE contacts
      DROP CONSTRAINT contacts_identity_check,
      DROP COLUMN username,
      DROP COLUMN parent_bsuid,
      DROP COLUMN bsuid,
      ALTER COLUMN e164 SET NOT NULL,
      ADD CONSTRAINT contacts_org_id_e164_key UNIQUE (org_id, e164);
  `.execute(db);
}
