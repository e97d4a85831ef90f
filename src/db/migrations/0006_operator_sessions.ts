/**
 * Migration 0006: the operator web inbox.
 * - `operator_sessions`: browser sessions of operators. Only sha256 of the session token and of
 *   the CSRF token are stored (the token is a 256-bit secret, so a fast hash suffices); a session
 *   ends at `expires_at` (sliding, renewed on use) or when deleted (logout).
 * - `thread_reads`: how far each operator has read each thread (unread counts of the inbox).
 * - `quick_replies`: canned answers of an organization, offered by the composer.
 * `operators.password_hash` exists since 0001 (scrypt, see src/sessions/passwords.ts).
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE operator_sessions (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL,
      operator_id uuid NOT NULL,
      token_hash text NOT NULL CONSTRAINT operator_sessions_token_hash_key UNIQUE,
      csrf_token_hash text NOT NULL,
      created_at timestamptz NOT NULL DEFAULT now(),
      last_seen_at timestamptz NOT NULL DEFAULT now(),
      expires_at timestamptz NOT NULL,
      CONSTRAINT operator_sessions_operator_fkey FOREIGN KEY (org_id, operator_id) REFERENCES operators (org_id, id) ON DELETE CASCADE
    );
    CREATE INDEX operator_sessions_operator_idx ON operator_sessions (org_id, operator_id);
    CREATE INDEX operator_sessions_expires_at_idx ON operator_sessions (expires_at);

    CREATE TABLE thread_reads (
      org_id uuid NOT NULL,
      thread_id uuid NOT NULL,
      operator_id uuid NOT NULL,
      last_read_at timestamptz NOT NULL,
      CONSTRAINT thread_reads_pkey PRIMARY KEY (org_id, thread_id, operator_id),
      CONSTRAINT thread_reads_thread_fkey FOREIGN KEY (org_id, thread_id) REFERENCES threads (org_id, id) ON DELETE CASCADE,
      CONSTRAINT thread_reads_operator_fkey FOREIGN KEY (org_id, operator_id) REFERENCES operators (org_id, id) ON DELETE CASCADE
    );

    CREATE TABLE quick_replies (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      org_id uuid NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
      title text NOT NULL CONSTRAINT quick_replies_title_check CHECK (length(btrim(title)) BETWEEN 1 AND 60),
      body text NOT NULL CONSTRAINT quick_replies_body_check CHECK (length(body) BETWEEN 1 AND 4096),
      created_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT quick_replies_org_id_id_key UNIQUE (org_id, id)
    );
    CREATE UNIQUE INDEX quick_replies_org_id_title_key ON quick_replies (org_id, lower(title));
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP TABLE IF EXISTS quick_replies, thread_reads, operator_sessions`.execute(db);
}
