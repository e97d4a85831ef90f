/**
 * Client preferences: notifications on/off, language (BCP 47, canonicalised with
 * `Intl.getCanonicalLocales`), IANA time zone (checked with `Intl.DateTimeFormat`) and free custom
 * JSON. Defaults: notifications on, `en-GB`, `Europe/London`, `{}`. The row is created with the
 * client (contacts.repository.ts upsertContact); PATCH upserts, for clients older than that.
 */
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { notFound } from '../shared/errors.js';
import * as repo from './preferences.repository.js';

export interface PreferencesJson {
  client_id: string;
  notifications_enabled: boolean;
  language: string;
  timezone: string;
  custom: Record<string, unknown>;
  updated_at: string | null;
}

/** The canonical form of a BCP 47 language tag (`en-gb` → `en-GB`), or undefined when it is not one. */
export function canonicalLanguageTag(tag: string): string | undefined {
  try {
    const [canonical] = Intl.getCanonicalLocales(tag);
    return canonical;
  } catch {
    return undefined;
  }
}

const IANA_ZONES = new Set(Intl.supportedValuesOf('timeZone'));

/** The IANA time zone name as given (or its canonical case), or undefined when it is not a zone. */
export function ianaTimeZone(zone: string): string | undefined {
  if (IANA_ZONES.has(zone)) return zone;
  // Links and UTC are valid zones that supportedValuesOf leaves out (Etc/UTC, Asia/Calcutta …);
  // offsets such as "+01:00" are not IANA names, hence the shape check.
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(zone)) return undefined;
  try {
    return new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** PATCH body: every field optional; `custom` replaces the stored object (≤ 16 KB as JSON). */
export const preferencesPatchSchema = z
  .strictObject({
    notifications_enabled: z.boolean().optional(),
    language: z.string().max(35).transform((value, ctx) => canonicalLanguageTag(value) ?? (ctx.addIssue({ code: 'custom', message: 'not a BCP 47 language tag (e.g. en-GB)' }), z.NEVER)).optional(),
    timezone: z.string().max(64).transform((value, ctx) => ianaTimeZone(value) ?? (ctx.addIssue({ code: 'custom', message: 'not an IANA time zone (e.g. Europe/London)' }), z.NEVER)).optional(),
    custom: z.record(z.string(), z.unknown()).refine((value) => JSON.stringify(value).length <= 16_384, 'custom must be at most 16 KB of JSON').optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'give at least one preference to change');

export type PreferencesPatch = z.output<typeof preferencesPatchSchema>;

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
