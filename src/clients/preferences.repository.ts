/**
 * SQL of client preferences: one row per client (primary key), created on first change.
 */
import { sql } from 'kysely';
import type { Tx, Executor } from '../db/database.js';
import { toJsonb } from '../db/json.js';


const columns = ['notifications_enabled', 'language', 'timezone', 'custom', 'updated_at'] as const;

export async function clientExists(db: Executor, orgId: string, clientId: string): Promise<boolean> {
  const row = await db.selectFrom('clients').select('id').where('org_id', '=', orgId).where('id', '=', clientId).executeTakeFirst();
  return row !== undefined;
}

export async function findPreferences(db: Executor, orgId: string, clientId: string) {
  return db.selectFrom('client_preferences').select(columns).where('org_id', '=', orgId).where('client_id', '=', clientId).executeTakeFirst();
}

/**
 * Creates the row with the given values (defaults for the rest) or changes only the given values
 * (`INSERT … ON CONFLICT DO UPDATE`, race-safe).
 */
export async function upsertPreferences(
  tx: Tx,
  values: { orgId: string; clientId: string; notificationsEnabled?: boolean; language?: string; timezone?: string; custom?: Record<string, unknown> },
) {
  const result = await sql<{ notifications_enabled: boolean; language: string; timezone: string; custom: Record<string, unknown>; updated_at: Date }>`
    INSERT INTO client_preferences AS p (org_id, client_id, notifications_enabled, language, timezone, custom)
    VALUES (${values.orgId}, ${values.clientId}, coalesce(${values.notificationsEnabled ?? null}::boolean, true),
            coalesce(${values.language ?? null}::text, 'en-GB'), coalesce(${values.timezone ?? null}::text, 'Europe/London'),
            coalesce(${values.custom === undefined ? null : toJsonb(values.custom)}::jsonb, '{}'::jsonb))
    ON CONFLICT (org_id, client_id) DO UPDATE SET
      notifications_enabled = coalesce(${values.notificationsEnabled ?? null}::boolean, p.notifications_enabled),
      language = coalesce(${values.language ?? null}::text, p.language),
      timezone = coalesce(${values.timezone ?? null}::text, p.timezone),
      custom = coalesce(${values.custom === undefined ? null : toJsonb(values.custom)}::jsonb, p.custom),
      updated_at = now()
    RETURNING notifications_enabled, language, timezone, custom, updated_at`.execute(tx);
  return result.rows[0]!;
}
