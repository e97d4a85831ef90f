/**
 * Request and response shapes of the client endpoints (`clients.routes.ts`): preferences, and the
 * GDPR export and erasure. The export's rows are the tables' columns as stored (timestamps as
 * ISO-8601 UTC strings, bigints as decimal strings), without secrets (OTP code hashes).
 */
import { z } from 'zod';

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

/** `PATCH /v1/clients/{id}/preferences`: every field optional; `custom` replaces the stored object (≤ 16 KB as JSON). */
export const preferencesPatchSchema = z
  .strictObject({
    notifications_enabled: z.boolean().optional(),
    language: z.string().max(35).transform((value, ctx) => canonicalLanguageTag(value) ?? (ctx.addIssue({ code: 'custom', message: 'not a BCP 47 language tag (e.g. en-GB)' }), z.NEVER)).optional()
      .describe('a BCP 47 tag, stored canonical (`pt-br` → `pt-BR`)'),
    timezone: z.string().max(64).transform((value, ctx) => ianaTimeZone(value) ?? (ctx.addIssue({ code: 'custom', message: 'not an IANA time zone (e.g. Europe/London)' }), z.NEVER)).optional()
      .describe('an IANA time zone name (`America/Sao_Paulo`, `UTC`)'),
    custom: z.record(z.string(), z.unknown()).refine((value) => JSON.stringify(value).length <= 16_384, 'custom must be at most 16 KB of JSON').optional()
      .describe('free JSON object, at most 16 KB; replaces the stored one'),
  })
  .refine((body) => Object.keys(body).length > 0, 'give at least one preference to change');

export type PreferencesPatch = z.output<typeof preferencesPatchSchema>;

const instant = z.string().describe('ISO-8601 UTC');
const json = z.record(z.string(), z.unknown());

/** A client's preferences (the defaults when none were stored: `true`, `en-GB`, `Europe/London`, `{}`). */
export const preferencesSchema = z.object({
  client_id: z.uuid(),
  notifications_enabled: z.boolean(),
  language: z.string().describe('BCP 47, canonical'),
  timezone: z.string().describe('IANA time zone'),
  custom: json,
  updated_at: instant.nullable().describe('null for a client older than preferences (no row stored yet)'),
});

/** `DELETE /v1/clients/{id}`. */
export const erasureSchema = z.object({
  client_id: z.uuid(),
  erased_at: instant,
  deleted: z.record(z.string(), z.number().int()).describe('rows deleted per table (rows deleted by cascade not counted)'),
});

const clientRow = z.object({ id: z.uuid(), org_id: z.uuid(), name: z.string(), attributes: json, created_at: instant, updated_at: instant });
const preferencesRow = z.object({
  org_id: z.uuid(), client_id: z.uuid(), notifications_enabled: z.boolean(), language: z.string(), timezone: z.string(), custom: json,
  created_at: instant, updated_at: instant,
});
const contactRow = z.object({
  id: z.uuid(), org_id: z.uuid(), client_id: z.uuid(), e164: z.string().nullable(), wa_id: z.string().nullable(), bsuid: z.string().nullable(),
  parent_bsuid: z.string().nullable(), username: z.string().nullable(), profile_name: z.string().nullable(),
  verified_at: instant.nullable(), terms_version: z.string().nullable(), terms_accepted_at: instant.nullable(), blocked_at: instant.nullable(),
  blocked_reason: z.string().nullable(), last_active_at: instant.nullable(), created_at: instant, updated_at: instant, registered_at: instant.nullable(),
});
const otpChallengeRow = z.object({
  id: z.uuid(), contact_id: z.uuid(), message_id: z.uuid().nullable(), created_at: instant, expires_at: instant, attempts: z.number().int(),
  consumed_at: instant.nullable(),
});
const threadRow = z.object({
  id: z.uuid(), org_id: z.uuid(), phone_number_ref: z.uuid(), contact_id: z.uuid(), status: z.enum(['open', 'closed']),
  owner_operator_id: z.uuid().nullable(), last_inbound_at: instant.nullable(), last_message_at: instant, created_at: instant,
});
const messageRow = z.object({
  id: z.uuid(), org_id: z.uuid(), thread_id: z.uuid(), phone_number_ref: z.uuid(), direction: z.enum(['inbound', 'outbound']), type: z.string(),
  content: json, provider_message_id: z.string().nullable(), status: z.string(), error_code: z.number().int().nullable(),
  error_title: z.string().nullable(), sent_by_operator_id: z.uuid().nullable(), idempotency_key: z.string().nullable(),
  provider_timestamp: instant.nullable(), raw: z.unknown().describe('the provider payload that carried an inbound message (JSON), or null'),
  created_at: instant, status_updated_at: instant, from_blocked_contact: z.boolean(),
});
const outboxRow = z.object({
  id: z.string().describe('a bigint, as decimal digits'), message_id: z.uuid(), state: z.string(), attempts: z.number().int(),
  next_attempt_at: instant, last_error: z.unknown().describe('JSON, or null'), created_at: instant, completed_at: instant.nullable(),
});
const eventRow = z.object({
  id: z.uuid(), aggregate_type: z.string(), aggregate_id: z.uuid(), event_type: z.string(), event_version: z.number().int(), payload: json,
  correlation_id: z.string().nullable(), created_at: instant, published_at: instant.nullable(),
});
const pendingStatusRow = z.object({
  id: z.uuid(), org_id: z.uuid(), phone_number_ref: z.uuid(), provider_message_id: z.string(), status: z.string(), provider_timestamp: instant,
  error_code: z.number().int().nullable(), error_title: z.string().nullable(), payload: z.unknown().describe('JSON'), received_at: instant,
});
const deadLetterRow = z.object({
  id: z.uuid(), reason: z.string(), detail: z.string(), field: z.string().nullable(), payload: z.unknown().describe('JSON, or null'),
  raw_body: z.string().nullable(), created_at: instant,
});

/** `GET /v1/clients/{id}/export`: every row about the client (GDPR Art. 15/20). */
export const clientExportSchema = z.object({
  exported_at: instant,
  client: clientRow,
  preferences: preferencesRow.nullable(),
  contacts: z.array(contactRow),
  contact_identities: z.array(z.object({
    contact_id: z.uuid(), kind: z.enum(['e164', 'bsuid']), value: z.string(), reason: z.string(), replaced_at: instant,
  })).describe('numbers and business-scoped user IDs the contacts used before'),
  otp_challenges: z.array(otpChallengeRow).describe('without code hashes'),
  threads: z.array(threadRow),
  messages: z.array(messageRow),
  message_outbox: z.array(outboxRow),
  events: z.array(eventRow).describe('domain events about the client, its contacts, threads and messages'),
  pending_statuses: z.array(pendingStatusRow).describe("status webhooks waiting for their message that mention one of the client's numbers"),
  webhook_dead_letters: z.array(deadLetterRow).describe("dead-lettered webhooks that mention one of the client's numbers"),
});
