/**
 * Migration 0007: Twilio numbers (PROTOCOL.md §7). A phone number is `meta` or `twilio`.
 *
 * How a Twilio number maps onto the model (one source of truth: the `phone_numbers` row):
 * - `phone_number_id` = the Twilio sender address `whatsapp:+<E.164>`, exactly as Twilio sends it in
 *   `To` (inbound) and `From` (status callbacks); it cannot collide with Meta's numeric ids, and the
 *   partial unique index `phone_numbers_connected_phone_number_id_key` keeps webhook routing
 *   unambiguous for both providers.
 * - `waba_ref` is null: Twilio exposes no WABA. Meta numbers keep a WABA (check below).
 * - `twilio_account_sid` (`AC` + 32 hex) is an identifier, stored plainly; the account's Auth Token
 *   lives encrypted in `access_token_ciphertext`/`access_token_key_id`, so the same envelope, the
 *   same `wahub keys rotate` and the same doctor checks cover it.
 */
import { type Kysely, sql } from 'kysely';

export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    ALTER TABLE phone_numbers ALTER COLUMN waba_ref DROP NOT NULL;
    ALTER TABLE phone_numbers ADD COLUMN twilio_account_sid text;
    ALTER TABLE phone_numbers ADD CONSTRAINT phone_numbers_provider_ids_check CHECK (
      (provider = 'meta' AND waba_ref IS NOT NULL AND twilio_account_sid IS NULL)
      OR (provider = 'twilio' AND waba_ref IS NULL AND twilio_account_sid ~ '^AC[0-9a-f]{32}$'
          AND phone_number_id = 'whatsapp:' || e164));
    -- Status callbacks and inbound messages for a sender that is not connected are verified with
    -- the Auth Token of another number of the same account (then dead-lettered, not refused).
    CREATE INDEX phone_numbers_twilio_account_sid_idx ON phone_numbers (twilio_account_sid)
      WHERE twilio_account_sid IS NOT NULL AND status <> 'disconnected';
  `.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`
    DO $$
    BEGIN
      IF EXISTS (SELECT 1 FROM phone_numbers WHERE provider = 'twilio') THEN
        RAISE EXCEPTION 'cannot revert 0007_twilio: Twilio phone numbers exist (they have no WABA)';
      END IF;
    END $$;
    DROP INDEX IF EXISTS phone_numbers_twilio_account_sid_idx;
    ALTER TABLE phone_numbers DROP CONSTRAINT IF EXISTS phone_numbers_provider_ids_check;
    ALTER TABLE phone_numbers DROP COLUMN IF EXISTS twilio_account_sid;
    ALTER TABLE phone_numbers ALTER COLUMN waba_ref SET NOT NULL;
  `.execute(db);
}
