/**
 * Client preferences: notifications on/off, language (BCP 47, canonicalised with
 * `Intl.getCanonicalLocales`), IANA time zone (checked with `Intl.DateTimeFormat`) and free custom
 * JSON. Defaults: notifications on, `en-GB`, `Europe/London`, `{}`. The row is created with the
 * client (contacts.repository.ts upsertContact); PATCH upserts, for clients older than that. The
 * patch is validated and canonicalised by `preferencesPatchSchema` (clients.schema.ts).
 */
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { notFound } from '../shared/errors.js';
import type { PreferencesPatch } from './clients.schema.js';
import * as repo from './preferences.repository.js';

export interface PreferencesJson {
  client_id: string;
  notifications_enabled: boolean;
  language: string;
  timezone: string;
  custom: Record<string, unknown>;
  updated_at: string | null;
}

function present(clientId: string, row: Awaited<ReturnType<typeof repo.findPreferences>>): PreferencesJson {
  return {
    client_id: clientId,
    notifications_enabled: row?.notifications_enabled ?? true,
    language: row?.language ?? 'en-GB',
    timezone: row?.timezone ?? 'Europe/London',
    custom: row?.custom ?? {},
    updated_at: row?.updated_at.toISOString() ?? null,
  };
}

/** A client's preferences (the defaults for a client created before preferences existed). @throws AppError not_found */
export async function getPreferences(db: Db, orgId: string, clientId: string): Promise<PreferencesJson> {
  if (!(await repo.clientExists(db, orgId, clientId))) throw notFound('client');
  return present(clientId, await repo.findPreferences(db, orgId, clientId));
}

/** Changes the given preferences. @throws AppError not_found */
export async function updatePreferences(db: Db, orgId: string, clientId: string, patch: PreferencesPatch): Promise<PreferencesJson> {
  return withTransaction(db, async (tx) => {
    if (!(await repo.clientExists(tx, orgId, clientId))) throw notFound('client');
    const row = await repo.upsertPreferences(tx, {
      orgId, clientId, notificationsEnabled: patch.notifications_enabled, language: patch.language, timezone: patch.timezone, custom: patch.custom,
    });
    return present(clientId, row);
  });
}
