/**
 * Migration 0002: the delivery engine.
 * - `send_governors`: one row per phone number holding its GCRA "theoretical arrival time" (`tat`).
 *   Workers reserve send slots in blocks (one UPDATE per claimed batch, not per message), so all
 *   workers together never exceed the number's throughput in any one-second window.
 * - A statement-level trigger NOTIFYs `wahub_outbox` when outbox rows are inserted, waking idle
 *   workers at once; polling remains the fallback (retries become due by time, not by an event).
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    CREATE TABLE send_governors (
      phone_number_ref uuid PRIMARY KEY,
      org_id uuid NOT NULL,
      -- Slots before tat are taken; the next send may start at greatest(tat, now()).
      tat timestamptz NOT NULL DEFAULT now(),
      -- After a 130429 (throughput reached) from Meta, nothing is scheduled before this time.
      throttled_until timestamptz,
      updated_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT send_governors_phone_number_fkey FOREIGN KEY (org_id, phone_number_ref) REFERENCES phone_numbers (org_id, id) ON DELETE CASCADE
    );

    -- Per-number claims: pending rows of one number in id order.
    CREATE INDEX message_outbox_pending_number_idx ON message_outbox (phone_number_ref, id) WHERE state = 'pending';

    CREATE FUNCTION message_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      PERFORM pg_notify('wahub_outbox', '');
      RETURN NULL;
    END $$;
    CREATE TRIGGER message_outbox_notify_insert AFTER INSERT ON message_outbox
      FOR EACH STATEMENT EXECUTE FUNCTION message_outbox_notify();
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DROP TRIGGER IF EXISTS message_outbox_notify_insert ON message_outbox;
    DROP FUNCTION IF EXISTS message_outbox_notify();
    DROP INDEX IF EXISTS message_outbox_pending_number_idx;
    DROP TABLE IF EXISTS send_governors;
  `.execute(db);
}
