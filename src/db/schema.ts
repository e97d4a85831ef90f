/**
 * Row types of every table, as Kysely sees them (see migrations/ for the constraints).
 *
 * Glossary: organization = tenant; operator = an employee of the organization; WABA = WhatsApp
 * Business Account (`waba_id` is Meta's id); phone number = a business number (`phone_number_id`
 * is Meta's id); client = the customer record; contact = one customer number (E.164, `wa_id`);
 * thread = the conversation between one business number and one contact; outbox = the queue of
 * outbound messages to deliver; lease = a worker's time-limited claim on an outbox row; domain event
 * = a row of `outbox_events`, relayed to NATS JetStream and to event subscriptions (signed HTTP
 * webhooks of an organization); OTP challenge = one one-time passcode sent to a contact.
 * Columns named `*_ref` hold wahub's uuid of a `wabas`/`phone_numbers` row.
 */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;
type Json<T = unknown> = ColumnType<T, string | T, string | T>;

export interface OrganizationsTable {
  id: Generated<string>;
  name: string;
  created_at: Timestamp;
  /** Authentication template for OTPs (PROTOCOL.md §6); null: OTP_TEMPLATE_NAME / OTP_TEMPLATE_LANGUAGE. */
  otp_template_name: ColumnType<string | null, string | null | undefined, string | null>;
  otp_template_language: ColumnType<string | null, string | null | undefined, string | null>;
}

export type OperatorRole = 'owner' | 'admin' | 'agent';
export interface OperatorsTable {
  id: Generated<string>;
  org_id: string;
  email: string;
  name: string | null;
  role: OperatorRole;
  password_hash: string | null;
  disabled_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface ApiKeysTable {
  id: Generated<string>;
  org_id: string;
  operator_id: string;
  prefix: string;
  key_hash: string;
  scopes: ColumnType<string[], string[] | undefined, string[]>;
  revoked_at: NullableTimestamp;
  last_used_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface WabasTable {
  id: Generated<string>;
  org_id: string;
  waba_id: string;
  owner_business_id: string | null;
  name: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  disconnected_at: NullableTimestamp;
}

export interface WabaAccessTable {
  org_id: string;
  operator_id: string;
  waba_ref: string;
  granted_at: Timestamp;
}

export type PhoneNumberStatus = 'active' | 'reauth_required' | 'disconnected';
export interface PhoneNumbersTable {
  id: Generated<string>;
  org_id: string;
  /** The WABA row; null exactly for Twilio numbers (migration 0007). */
  waba_ref: string | null;
  provider: ColumnType<'meta' | 'twilio', 'meta' | 'twilio' | undefined, 'meta' | 'twilio'>;
  /** Meta: its numeric phone_number_id. Twilio: the sender address `whatsapp:+<E.164>`. */
  phone_number_id: string;
  display_phone_number: string;
  e164: string;
  verified_name: string | null;
  quality_rating: string | null;
  messaging_limit_tier: string | null;
  throughput_mps: ColumnType<number, number | undefined, number>;
  /** Encrypted credential: Meta access token, or Twilio account Auth Token. */
  access_token_ciphertext: string | null;
  access_token_key_id: string | null;
  /** Twilio account SID (`AC…`), null for Meta numbers. */
  twilio_account_sid: ColumnType<string | null, string | null | undefined, string | null>;
  token_expires_at: NullableTimestamp;
  status: ColumnType<PhoneNumberStatus, PhoneNumberStatus | undefined, PhoneNumberStatus>;
  created_at: Timestamp;
  updated_at: Timestamp;
  registered_at: NullableTimestamp;
}

export interface ClientsTable {
  id: Generated<string>;
  org_id: string;
  name: string;
  attributes: Json<Record<string, unknown>>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ContactsTable {
  id: Generated<string>;
  org_id: string;
  client_id: string;
  /** The customer's number, E.164; null for a customer known only by a BSUID (a CHECK keeps one of the two). */
  e164: string | null;
  wa_id: string | null;
  /** Business-scoped user ID (Meta `user_id`, `US.13491208655302741918`), unique per organization. */
  bsuid: string | null;
  /** Parent BSUID shared across a managed business's portfolios (`US.ENT.…`). */
  parent_bsuid: string | null;
  /** The customer's WhatsApp username, when they have one. */
  username: string | null;
  profile_name: string | null;
  verified_at: NullableTimestamp;
  terms_version: string | null;
  terms_accepted_at: NullableTimestamp;
  blocked_at: NullableTimestamp;
  blocked_reason: string | null;
  last_active_at: NullableTimestamp;
  /** Set once the contact is both verified (OTP) and has accepted terms. */
  registered_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** Identities a contact used before (migration 0009): a BSUID or number it changed, or one a merge absorbed. */
export interface ContactIdentitiesTable {
  org_id: string;
  contact_id: string;
  kind: 'e164' | 'bsuid';
  value: string;
  reason: 'user_changed_user_id' | 'user_changed_number' | 'merged';
  replaced_at: Generated<Date>;
}

export interface OtpChallengesTable {
  id: Generated<string>;
  org_id: string;
  contact_id: string;
  /** HMAC-SHA256(OTP key, `<challenge id>:<code>`), hex. */
  code_hash: string;
  /** The outbound authentication-template message that carried the code. */
  message_id: string | null;
  created_at: Timestamp;
  expires_at: Timestamp;
  attempts: ColumnType<number, number | undefined, number>;
  consumed_at: NullableTimestamp;
}

export interface ClientPreferencesTable {
  org_id: string;
  client_id: string;
  notifications_enabled: ColumnType<boolean, boolean | undefined, boolean>;
  /** BCP 47 language tag, canonical form (`en-GB`). */
  language: ColumnType<string, string | undefined, string>;
  /** IANA time zone (`Europe/London`). */
  timezone: ColumnType<string, string | undefined, string>;
  custom: Json<Record<string, unknown>>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

export interface ThreadsTable {
  id: Generated<string>;
  org_id: string;
  phone_number_ref: string;
  contact_id: string;
  status: ColumnType<'open' | 'closed', 'open' | 'closed' | undefined, 'open' | 'closed'>;
  owner_operator_id: string | null;
  last_inbound_at: NullableTimestamp;
  last_message_at: Timestamp;
  created_at: Timestamp;
}

export interface ThreadCollaboratorsTable {
  org_id: string;
  thread_id: string;
  operator_id: string;
  role: ColumnType<'cowriter', 'cowriter' | undefined, 'cowriter'>;
  added_at: Timestamp;
}

export type MessageDirection = 'inbound' | 'outbound';
/** `received` is the only status of inbound messages; the rest are outbound, in order. */
export type MessageStatus = 'received' | 'queued' | 'sending' | 'sent' | 'delivered' | 'read' | 'played' | 'failed';
export interface MessagesTable {
  id: Generated<string>;
  org_id: string;
  thread_id: string;
  phone_number_ref: string;
  direction: MessageDirection;
  type: string;
  content: Json<Record<string, unknown>>;
  provider_message_id: string | null;
  status: MessageStatus;
  error_code: number | null;
  error_title: string | null;
  sent_by_operator_id: string | null;
  idempotency_key: string | null;
  request_hash: string | null;
  provider_timestamp: NullableTimestamp;
  raw: Json<unknown> | null;
  created_at: Timestamp;
  status_updated_at: Timestamp;
  /** Inbound from a contact that was blocked at the time: stored, but raises no events. */
  from_blocked_contact: ColumnType<boolean, boolean | undefined, boolean>;
}

export type OutboxState = 'pending' | 'leased' | 'parked' | 'done' | 'failed';
export interface MessageOutboxTable {
  id: Generated<string>;
  org_id: string;
  message_id: string;
  thread_id: string;
  phone_number_ref: string;
  state: ColumnType<OutboxState, OutboxState | undefined, OutboxState>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  lease_owner: string | null;
  lease_token: string | null;
  lease_expires_at: NullableTimestamp;
  last_error: Json<unknown> | null;
  correlation_id: string | null;
  created_at: Timestamp;
  completed_at: NullableTimestamp;
}

export interface OutboxEventsTable {
  id: Generated<string>;
  org_id: string;
  aggregate_id: string;
  aggregate_type: string;
  event_type: string;
  event_version: ColumnType<number, number | undefined, number>;
  payload: Json<Record<string, unknown>>;
  metadata: Json<Record<string, unknown>>;
  correlation_id: string | null;
  created_at: Timestamp;
  published_at: NullableTimestamp;
  /** When the event's HTTP deliveries were created (migration 0011): the subscriptions' cursor, apart from NATS. */
  deliveries_created_at: NullableTimestamp;
  /** Commit-ordered position stamped by the relay when it publishes (migration 0005). */
  stream_position: ColumnType<string | null, string | null | undefined, string | null>;
  /** Insertion order (identity); the relay publishes one aggregate's events in this order. */
  seq: Generated<string>;
}

export interface EventSubscriptionsTable {
  id: Generated<string>;
  org_id: string;
  url: string;
  /** Event types delivered (`message.received`, …); `*` means all. */
  event_types: string[];
  secret_ciphertext: string;
  secret_key_id: string;
  description: string | null;
  created_at: Timestamp;
}

export type EventDeliveryState = 'pending' | 'delivered' | 'dead';
export interface EventDeliveriesTable {
  id: Generated<string>;
  org_id: string;
  subscription_id: string;
  event_id: string;
  aggregate_id: string;
  event_seq: string;
  state: ColumnType<EventDeliveryState, EventDeliveryState | undefined, EventDeliveryState>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  lease_token: string | null;
  lease_expires_at: NullableTimestamp;
  last_status: number | null;
  last_error: string | null;
  created_at: Timestamp;
  completed_at: NullableTimestamp;
}

export interface WebhookDeadLettersTable {
  id: Generated<string>;
  org_id: string | null;
  provider: 'meta' | 'twilio';
  reason: string;
  detail: string;
  waba_id: string | null;
  phone_number_id: string | null;
  field: string | null;
  payload: Json<unknown> | null;
  raw_body: string | null;
  dedupe_key: string;
  correlation_id: string | null;
  created_at: Timestamp;
}

export interface PendingStatusesTable {
  id: Generated<string>;
  org_id: string;
  phone_number_ref: string;
  provider_message_id: string;
  status: 'sent' | 'delivered' | 'read' | 'played' | 'failed';
  provider_timestamp: Timestamp;
  error_code: number | null;
  error_title: string | null;
  payload: Json<unknown>;
  received_at: Timestamp;
}

export interface SendGovernorsTable {
  phone_number_ref: string;
  org_id: string;
  tat: Timestamp;
  throttled_until: NullableTimestamp;
  updated_at: Timestamp;
}

export interface OAuthStatesTable {
  id: Generated<string>;
  org_id: string;
  operator_id: string;
  state_hash: string;
  created_at: Timestamp;
  expires_at: Timestamp;
  consumed_at: NullableTimestamp;
}

export interface AccountEventsTable {
  id: Generated<string>;
  org_id: string | null;
  waba_id: string | null;
  event: string;
  payload: Json<unknown>;
  dedupe_key: string;
  received_at: Timestamp;
}

export interface AuditLogTable {
  id: Generated<string>;
  org_id: string | null;
  actor: string;
  action: string;
  subject: string | null;
  details: Json<Record<string, unknown>>;
  created_at: Timestamp;
}

/** How often storing one signed webhook failed (migration 0011): keyed by provider and sha256 of the raw body. */
export interface WebhookStoreFailuresTable {
  provider: string;
  body_hash: string;
  attempts: Generated<number>;
  last_error: string;
  first_failed_at: Generated<Timestamp>;
  last_failed_at: Generated<Timestamp>;
}

export interface OperatorSessionsTable {
  id: Generated<string>;
  org_id: string;
  operator_id: string;
  /** sha256 (hex) of the session cookie's token. */
  token_hash: string;
  /** sha256 (hex) of the CSRF token the browser echoes in `X-CSRF-Token`. */
  csrf_token_hash: string;
  created_at: Timestamp;
  last_seen_at: Timestamp;
  expires_at: Timestamp;
}

export interface ThreadReadsTable {
  org_id: string;
  thread_id: string;
  operator_id: string;
  last_read_at: Timestamp;
}

export interface QuickRepliesTable {
  id: Generated<string>;
  org_id: string;
  title: string;
  body: string;
  created_at: Timestamp;
}

/** A message template of a WABA (migration 0010): Meta's fields as Meta names them. */
export interface TemplatesTable {
  org_id: string;
  id: Generated<string>;
  waba_ref: string;
  name: string;
  /** Meta language code, e.g. `en_US`. */
  language: string;
  meta_template_id: string | null;
  /** APPROVED, PENDING, REJECTED, PAUSED, DISABLED, IN_APPEAL, DELETED, … (Meta's values, kept as received). */
  status: string;
  category: string | null;
  previous_category: string | null;
  quality_score: string | null;
  rejection_reason: string | null;
  parameter_format: 'positional' | 'named' | null;
  /** `components[]` exactly as Graph returns them. */
  components: Json<unknown[]>;
  /** Null for a stub created by a webhook before any sync saw the template. */
  synced_at: NullableTimestamp;
  /** Set when Meta reports the template deleted; the row is kept. */
  deleted_at: NullableTimestamp;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** One row per WABA whose templates were synced at least once (migration 0010). */
export interface TemplateSyncsTable {
  org_id: string;
  waba_ref: string;
  synced_at: NullableTimestamp;
  template_count: Generated<number>;
  last_error: string | null;
  updated_at: Timestamp;
}

export interface Database {
  organizations: OrganizationsTable;
  operators: OperatorsTable;
  api_keys: ApiKeysTable;
  wabas: WabasTable;
  waba_access: WabaAccessTable;
  phone_numbers: PhoneNumbersTable;
  clients: ClientsTable;
  contacts: ContactsTable;
  contact_identities: ContactIdentitiesTable;
  threads: ThreadsTable;
  thread_collaborators: ThreadCollaboratorsTable;
  messages: MessagesTable;
  message_outbox: MessageOutboxTable;
  outbox_events: OutboxEventsTable;
  event_subscriptions: EventSubscriptionsTable;
  event_deliveries: EventDeliveriesTable;
  otp_challenges: OtpChallengesTable;
  client_preferences: ClientPreferencesTable;
  webhook_dead_letters: WebhookDeadLettersTable;
  pending_statuses: PendingStatusesTable;
  send_governors: SendGovernorsTable;
  oauth_states: OAuthStatesTable;
  account_events: AccountEventsTable;
  audit_log: AuditLogTable;
  webhook_store_failures: WebhookStoreFailuresTable;
  operator_sessions: OperatorSessionsTable;
  thread_reads: ThreadReadsTable;
  quick_replies: QuickRepliesTable;
  templates: TemplatesTable;
  template_syncs: TemplateSyncsTable;
}

export type PhoneNumberRow = Selectable<PhoneNumbersTable>;
export type MessageRow = Selectable<MessagesTable>;
export type ThreadRow = Selectable<ThreadsTable>;
export type ContactRow = Selectable<ContactsTable>;
export type NewMessage = Insertable<MessagesTable>;
export type MessageUpdate = Updateable<MessagesTable>;
export type TemplateRow = Selectable<TemplatesTable>;
