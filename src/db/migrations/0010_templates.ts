/**
 * Migration 0010: the message template registry (issue 16, SPEC §3 `templates`).
 *
 * - `templates`: one row per (organization, WABA, name, language) — Meta's template id, status,
 *   category and the previous one, quality score, rejection reason, parameter format, components as
 *   Meta returns them, when the row was last synced, when Meta reported it deleted. A template
 *   webhook for a template not synced yet creates a stub (`synced_at` null) that the next sync
 *   completes. A template deleted at Meta is marked (`deleted_at`), never dropped.
 * - `template_syncs`: one row per synced WABA (when it last synced, how many templates, the last
 *   error). Its absence means "never synced"; its row is the lock that makes one sync at a time per
 *   WABA.
 *
 * Both put `org_id` in their primary key, unique keys and tenant foreign keys (SPEC §7).
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE templates (
      org_id uuid NOT NULL,
      id uuid NOT NULL DEFAULT gen_random_uuid(),
      waba_ref uuid NOT NULL,
      name text NOT NULL CONSTRAINT templates_name_check CHECK (name ~ '^[a-z0-9_]+$' AND length(name) <= 512),
      language text NOT NULL CONSTRAINT templates_language_check CHECK (language ~ '^[A-Za-z]{2,3}(_[A-Za-z0-9]{2,8})?$'),
      meta_template_id text CONSTRAINT templates_meta_template_id_check CHECK (meta_template_id ~ '^[0-9]{1,32}$'),
      status text NOT NULL CONSTRAINT templates_status_check CHECK (status ~ '^[A-Z_]{1,40}$'),
      category text CONSTRAINT templates_category_check CHECK (category ~ '^[A-Z_]{1,40}$'),
      previous_category text CONSTRAINT templates_previous_category_check CHECK (previous_category ~ '^[A-Z_]{1,40}$'),
      quality_score text CONSTRAINT templates_quality_score_check CHECK (quality_score ~ '^[A-Z_]{1,40}$'),
      rejection_reason text,
      parameter_format text CONSTRAINT templates_parameter_format_check CHECK (parameter_format IN ('positional', 'named')),
      components jsonb NOT NULL DEFAULT '[]'::jsonb CONSTRAINT templates_components_check CHECK (jsonb_typeof(components) = 'array'),
      synced_at timestamptz,
      deleted_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT templates_pkey PRIMARY KEY (org_id, id),
      CONSTRAINT templates_waba_name_language_key UNIQUE (org_id, waba_ref, name, language),
      CONSTRAINT templates_waba_fkey FOREIGN KEY (org_id, waba_ref) REFERENCES wabas (org_id, id) ON DELETE CASCADE
    );
    -- Keyset pagination of GET /v1/templates (newest first).
    CREATE INDEX templates_org_created_idx ON templates (org_id, created_at DESC, id DESC);

    CREATE TABLE template_syncs (
      org_id uuid NOT NULL,
      waba_ref uuid NOT NULL,
      synced_at timestamptz,
      template_count integer NOT NULL DEFAULT 0 CONSTRAINT template_syncs_template_count_check CHECK (template_count >= 0),
      last_error text,
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT template_syncs_pkey PRIMARY KEY (org_id, waba_ref),
      CONSTRAINT template_syncs_waba_fkey FOREIGN KEY (org_id, waba_ref) REFERENCES wabas (org_id, id) ON DELETE CASCADE
    );
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TABLE IF EXISTS template_syncs;
    DROP TABLE IF EXISTS templates;
  `.execute(db);
}
