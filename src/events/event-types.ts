/**
 * The domain events wahub publishes (docs/API.md "Domain events" lists their payloads). An event is
 * about one aggregate (`aggregate_type` + `aggregate_id`); the events of one aggregate are published
 * in the order they were written.
 */

export const EVENT_TYPES = [
  'message.received',
  'message.queued',
  'message.status_changed',
  'message.failed',
  'conversation.started',
  'contact.created',
  'contact.merged',
  'contact.identity_changed',
  'contact.blocked',
  'contact.unblocked',
  'user.verified',
  'user.terms_accepted',
  'user.registered',
  'client.erased',
  'phone_number.connected',
  'phone_number.reauth_required',
  'template.status_changed',
  'template.category_changed',
  'template.quality_changed',
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export type AggregateType = 'message' | 'thread' | 'contact' | 'client' | 'phone_number' | 'template';

/** Version of every payload shape in EVENT_TYPES; bumped when a payload changes incompatibly. */
export const EVENT_VERSION = 1;

/** An event to append to the outbox inside the caller's transaction. */
export interface NewEvent {
  orgId: string;
  aggregateType: AggregateType;
  aggregateId: string;
  type: EventType;
  payload: Record<string, unknown>;
  /** Request id (`X-Request-Id`) of the HTTP request or webhook that caused the change, if any. */
  correlationId: string | null;
  /** Free-form context (`{ source: 'api' | 'webhook' | 'worker' | 'cli' }`). */
  metadata?: Record<string, unknown>;
}

/** Where a change came from (event metadata `source`). */
export type EventSource = 'api' | 'webhook' | 'worker' | 'cli';
