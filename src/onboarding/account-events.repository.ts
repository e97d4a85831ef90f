/**
 * SQL for `account_events`: every `account_update` webhook, stored once.
 */
import { createHash } from 'node:crypto';
import { sql } from 'kysely';
import type { Tx } from '../db/database.js';
import { toJsonb } from '../db/json.js';

/** Records an account_update; a redelivery is a no-op. @returns false for a redelivery */
export async function insertAccountEvent(tx: Tx, values: { orgId: string | null; wabaId: string | null; entryId: string | null; event: string; payload: unknown }): Promise<boolean> {
  const payload = toJsonb(values.payload);
  const dedupeKey = createHash('sha256').update([values.entryId ?? '', values.event, payload].join('\n')).digest('hex');
  const result = await sql`
    INSERT INTO account_events (org_id, waba_id, event, payload, dedupe_key)
    VALUES (${values.orgId}, ${values.wabaId}, ${values.event}, ${payload}::jsonb, ${dedupeKey})
    ON CONFLICT (dedupe_key) DO NOTHING`.execute(tx);
  return Number(result.numAffectedRows) === 1;
}
