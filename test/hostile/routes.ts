/**
 * The `/v1` route catalogue of the hostile-input tests: routes are discovered from the Fastify app
 * itself, and each must have a probe here — a well-formed request, and how organization A probing
 * organization B's ids must be answered. A route without a probe fails the fuzz and isolation
 * tests with "add a probe for METHOD /v1/…", so a new endpoint cannot skip them.
 *
 * Routes whose effects would change what another probe expects (erasing a client, deleting a
 * subscription or quick reply, blocking a contact, OTP codes) act on rows of their own in
 * {@link Tenant}. Routes that take no tenant id (sessions, creations) say so in their isolation
 * case; `GET /v1/stream` never ends, so {@link send} reads an event stream until idle and aborts it.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { Db } from '../../src/db/database.js';
import { GraphApiClient } from '../../src/providers/meta/graph.client.js';
import { setOperatorPassword } from '../../src/sessions/sessions.service.js';
import { ERROR_STATUS } from '../../src/shared/errors.js';
import { findConnectedWabas, upsertCreatedTemplate } from '../../src/templates/templates.repository.js';
import { bearer, customerWaId, deliverInbound, inboundWamid } from '../helpers/api.js';
import { publishEvent } from '../helpers/events.js';
import { TEST_TEMPLATES, toGraphTemplate } from '../helpers/templates.js';
import {
  createTestApp, createTestNumber, createTestOperator, createTestOrg, signedHeaders, uniqueDigits, type TestNumber, type TestOrg,
} from '../helpers/factories.js';

export interface ProbeRequest {
  method: string;
  url: string;
  payload?: unknown;
  headers?: Record<string, string>;
}

/** An organization with one of everything the API can name. */
export interface Tenant {
  org: TestOrg;
  number: TestNumber;
  threadId: string;
  from: string;
  inboundId: string;
  inboundWamid: string;
  outboundId: string;
  /** An unused Embedded Signup state of this organization. */
  signupState: string;
  /** Contact and client of the first customer (`from`, `threadId`). */
  contactId: string;
  clientId: string;
  /** Customers of their own, so that one route's probe cannot change what another's expects. */
  otpContactId: string; // OTP requests (at most 3 codes per contact per 15 minutes)
  verifyContactId: string; // a live OTP challenge whose code is `verifyCode`
  verifyCode: string;
  blockContactId: string; // blocked and unblocked
  erasableClientId: string; // erased by DELETE /v1/clients/{id}
  /** An inbound image (its media is served by the stub Graph API of {@link createProbedApp}). */
  mediaMessageId: string;
  /** The owner's email and password, and a session of the owner (the `wahub_session` token). */
  email: string;
  password: string;
  sessionToken: string;
  /** An agent of the organization (assignee, co-writer). */
  agentId: string;
  /** A quick reply that stays, and one for DELETE. */
  quickReplyId: string;
  quickReplyTitle: string;
  spareQuickReplyId: string;
  /** An event subscription that stays, with a dead delivery, and one for DELETE. */
  subscriptionId: string;
  deadDeliveryId: string;
  spareSubscriptionId: string;
  /** A webhook dead letter of the organization. */
  deadLetterId: string;
  /** A template of the registry of the tenant's WABA. */
  templateId: string;
  /** A template no send names, for DELETE. */
  spareTemplateId: string;
  /** Stream position just before a published event of the organization naming `threadId`. */
  streamPositionBefore: string;
}

/** A's request naming B's resources, and what it must answer. */
export type IsolationCase =
  | {
    what: string; request: ProbeRequest; status: number; /** Error code, for statuses ≥ 400. */ code?: string; why?: string;
    /**
     * Why B's own key cannot make the request succeed either (it mixes A's and B's ids), so the
     * check that B's key finds the ids of a 404 is skipped for it.
     */
    mixed?: string;
  }
  | { what: string; request: ProbeRequest; excludes: string[] };

/** A request that must be refused, with the status and error code. */
export type Refusal = ProbeRequest & { what: string; status: number; code: string };

export interface RouteProbe {
  /** A well-formed request by the tenant's owner and the status it answers. */
  base(t: Tenant): ProbeRequest & { status: number };
  /** True for lists with `limit` and `cursor`. */
  paginated?: boolean;
  /**
   * For the one route outside the API-key scope (login): why, and a request that its own check
   * refuses (401) whatever key is sent, in place of the base request of the bad-key test.
   */
  unauthenticated?: { why: string; refused(t: Tenant): ProbeRequest };
  /**
   * Path parameters of an idempotent removal, with why: a well-formed id that names nothing there
   * answers the base status and writes nothing (instead of 404); malformed ids are still refused.
   */
  idempotentParams?: Record<string, string>;
  /** Why a JSON `null` body is accepted (the whole body is optional: null counts as absent). */
  nullBody?: string;
  /** Hostile requests the generic fuzzing cannot make (headers, ids of a known format), each refused as declared. */
  refusals?(t: Tenant): Refusal[];
  /** Requests with A's key naming B's ids; every route has at least one. */
  isolation(a: Tenant, b: Tenant): IsolationCase[];
}

/** Cookie header of an operator session. */
export const sessionCookie = (token: string): Record<string, string> => ({ cookie: `wahub_session=${token}` });

const text = (threadId: string) => ({ thread_id: threadId, type: 'text', text: { body: 'hostile probe' } });

/** A template Meta's rules admit, with a fresh name, for `POST /v1/templates`. */
const probeTemplate = (where: { waba_id: string } | { phone_number_id: string }) => ({
  ...where, name: `probe_${randomBytes(6).toString('hex')}`, language: 'en_US', category: 'UTILITY',
  components: [{ type: 'BODY', text: 'Order {{1}} is on its way.', example: { body_text: [['A-1']] } }],
});

/** One probe per `/v1` route, keyed `METHOD /path` as Fastify lists it. */
export const PROBES: Record<string, RouteProbe> = {
  'GET /v1/threads': {
    base: () => ({ method: 'GET', url: '/v1/threads', status: 200 }),
    paginated: true,
    isolation: (_a, b) => [{ what: 'list', request: { method: 'GET', url: '/v1/threads?limit=100' }, excludes: [b.threadId] }],
  },
  'POST /v1/threads': {
    base: (t) => ({ method: 'POST', url: '/v1/threads', payload: { phone: `+${t.from}`, from_phone_number_id: t.number.phoneNumberId }, status: 200 }),
    isolation: (_a, b) => [{
      what: "B's phone_number_id", status: 404, code: 'not_found',
      request: { method: 'POST', url: '/v1/threads', payload: { phone: `+${b.from}`, from_phone_number_id: b.number.phoneNumberId } },
    }],
  },
  'GET /v1/threads/:id': {
    base: (t) => ({ method: 'GET', url: `/v1/threads/${t.threadId}`, status: 200 }),
    isolation: (_a, b) => [{ what: "B's thread", request: { method: 'GET', url: `/v1/threads/${b.threadId}` }, status: 404, code: 'not_found' }],
  },
  'GET /v1/threads/:id/messages': {
    base: (t) => ({ method: 'GET', url: `/v1/threads/${t.threadId}/messages`, status: 200 }),
    paginated: true,
    isolation: (_a, b) => [{ what: "B's thread", request: { method: 'GET', url: `/v1/threads/${b.threadId}/messages` }, status: 404, code: 'not_found' }],
  },
  'POST /v1/messages': {
    base: (t) => ({ method: 'POST', url: '/v1/messages', payload: text(t.threadId), status: 202 }),
    isolation: (a, b) => [
      { what: "B's thread_id", request: { method: 'POST', url: '/v1/messages', payload: text(b.threadId) }, status: 404, code: 'not_found' },
      {
        what: "B's from_phone_number_id", status: 404, code: 'not_found',
        request: { method: 'POST', url: '/v1/messages', payload: { from_phone_number_id: b.number.phoneNumberId, to: `+${b.from}`, type: 'template', template: { name: 'hello', language: { code: 'en_US' } } } },
      },
      {
        what: "B's wamid in a reaction", status: 400, code: 'validation_failed', why: 'a wamid inside a message is checked against the thread: not in this thread',
        request: { method: 'POST', url: '/v1/messages', payload: { thread_id: a.threadId, type: 'reaction', reaction: { message_id: b.inboundWamid, emoji: '👍' } } },
      },
    ],
  },
  'GET /v1/messages/:id': {
    base: (t) => ({ method: 'GET', url: `/v1/messages/${t.inboundId}`, status: 200 }),
    isolation: (_a, b) => [
      { what: "B's inbound message", request: { method: 'GET', url: `/v1/messages/${b.inboundId}` }, status: 404, code: 'not_found' },
      { what: "B's outbound message", request: { method: 'GET', url: `/v1/messages/${b.outboundId}` }, status: 404, code: 'not_found' },
    ],
  },
  'GET /v1/phone-numbers': {
    base: () => ({ method: 'GET', url: '/v1/phone-numbers', status: 200 }),
    isolation: (_a, b) => [{ what: 'list', request: { method: 'GET', url: '/v1/phone-numbers' }, excludes: [b.number.id, b.number.phoneNumberId] }],
  },
  'POST /v1/phone-numbers': {
    base: () => ({
      method: 'POST', url: '/v1/phone-numbers', status: 201,
      payload: { waba_id: uniqueDigits(), phone_number_id: uniqueDigits(), display_phone_number: `1555${uniqueDigits(7)}`, access_token: 'probe-token' },
    }),
    isolation: (_a, b) => [{
      what: "B's connected WABA and number", status: 409, code: 'conflict',
      why: 'a WhatsApp number is connected to one organization at a time (partial unique index); the refusal changes nothing of B',
      request: { method: 'POST', url: '/v1/phone-numbers', payload: { waba_id: b.number.wabaId, phone_number_id: b.number.phoneNumberId, display_phone_number: b.number.displayPhoneNumber, access_token: 'stolen' } },
    }],
  },
  'POST /v1/whatsapp/signup/start': {
    base: () => ({ method: 'POST', url: '/v1/whatsapp/signup/start', status: 201 }),
    isolation: () => [{
      what: 'a new state', request: { method: 'POST', url: '/v1/whatsapp/signup/start' }, status: 201,
      why: 'takes no id: the state it makes is bound to the caller\'s organization (signup/complete checks that)',
    }],
  },
  'POST /v1/whatsapp/signup/complete': {
    base: () => ({ method: 'POST', url: '/v1/whatsapp/signup/complete', payload: { code: 'probe-code', state: 'not-a-state' }, status: 400 }),
    isolation: (_a, b) => [{
      what: "B's signup state", status: 400, code: 'invalid_oauth_state', why: 'documented: a state of another organization is refused like an unknown one, and stays usable by B',
      request: { method: 'POST', url: '/v1/whatsapp/signup/complete', payload: { code: 'probe-code', state: b.signupState } },
    }],
  },

  // Operator sessions. Login is public; the others take no id: they answer about the caller only.
  'POST /v1/session': {
    base: (t) => ({ method: 'POST', url: '/v1/session', payload: { email: t.email, password: t.password, org_id: t.org.orgId }, status: 201 }),
    unauthenticated: {
      why: 'login is registered outside the API-key scope (with its own per-IP limit): a key is neither needed nor read, the password decides',
      refused: (t) => ({ method: 'POST', url: '/v1/session', payload: { email: t.email, password: `${t.password}-wrong` } }),
    },
    isolation: (a, b) => [
      {
        what: "B's email and password with A's org_id", status: 401, code: 'unauthorized',
        why: 'no tenant id is read from the key: emails are unique per organization, B\'s operator is not one of A\'s, and every failure has one message',
        request: { method: 'POST', url: '/v1/session', payload: { email: b.email, password: b.password, org_id: a.org.orgId } },
      },
      {
        what: "A's email and password with B's org_id", status: 401, code: 'unauthorized',
        request: { method: 'POST', url: '/v1/session', payload: { email: a.email, password: a.password, org_id: b.org.orgId } },
      },
      {
        what: "B's email with A's password", status: 401, code: 'unauthorized',
        request: { method: 'POST', url: '/v1/session', payload: { email: b.email, password: a.password } },
      },
    ],
  },
  'GET /v1/session': {
    base: () => ({ method: 'GET', url: '/v1/session', status: 200 }),
    isolation: (_a, b) => [
      { what: 'no id (who am I)', request: { method: 'GET', url: '/v1/session' }, excludes: [b.org.orgId, b.org.operatorId] },
      // The Authorization header decides: a session cookie beside a key is not read.
      { what: "B's session cookie beside A's key", request: { method: 'GET', url: '/v1/session', headers: sessionCookie(b.sessionToken) }, excludes: [b.org.orgId, b.org.operatorId] },
    ],
  },
  'DELETE /v1/session': {
    base: () => ({ method: 'DELETE', url: '/v1/session', status: 204 }),
    isolation: (_a, b) => [{
      what: "B's session cookie beside A's key", status: 204, request: { method: 'DELETE', url: '/v1/session', headers: sessionCookie(b.sessionToken) },
      why: 'takes no id: ends the caller\'s own session (an API key has none); B\'s cookie is not read, and B\'s session stays valid (checked after the sweep)',
    }],
  },
  'GET /v1/operators': {
    base: () => ({ method: 'GET', url: '/v1/operators', status: 200 }),
    isolation: (_a, b) => [{ what: 'list', request: { method: 'GET', url: '/v1/operators' }, excludes: [b.org.operatorId, b.agentId] }],
  },

  // Live events. The harness reads an event stream until it is idle, then aborts it (see send()).
  'GET /v1/stream': {
    base: () => ({ method: 'GET', url: '/v1/stream', status: 200 }),
    refusals: () => [
      ...['abc', '-1', '1.5', '1e9', '0x10', '9'.repeat(19), '9'.repeat(400), "' OR 1=1 --", '<script>alert(1)</script>', '%00', '1,2', '${7*7}']
        .map((id): Refusal => ({ what: `Last-Event-ID ${id.slice(0, 20)}`, method: 'GET', url: '/v1/stream', headers: { 'last-event-id': id }, status: 400, code: 'validation_failed' })),
      ...['abc', '-1', '١٢٣', '9'.repeat(19), "' OR 1=1 --"]
        .map((id): Refusal => ({ what: `?last_event_id=${id.slice(0, 20)}`, method: 'GET', url: `/v1/stream?last_event_id=${encodeURIComponent(id)}`, status: 400, code: 'validation_failed' })),
      { what: '?last_event_id twice', method: 'GET', url: '/v1/stream?last_event_id=1&last_event_id=2', status: 400, code: 'validation_failed' },
    ],
    isolation: (_a, b) => [
      { what: 'the stream from its start', request: { method: 'GET', url: '/v1/stream?last_event_id=0' }, excludes: [b.threadId] },
      { what: "a Last-Event-ID just before B's event", request: { method: 'GET', url: '/v1/stream', headers: { 'last-event-id': b.streamPositionBefore } }, excludes: [b.threadId] },
    ],
  },

  // Inbox actions.
  'POST /v1/threads/:id/assign': {
    base: (t) => ({ method: 'POST', url: `/v1/threads/${t.threadId}/assign`, payload: { operator_id: t.org.operatorId }, status: 200 }),
    isolation: (a, b) => [
      { what: "B's thread", request: { method: 'POST', url: `/v1/threads/${b.threadId}/assign`, payload: { operator_id: b.agentId } }, status: 404, code: 'not_found' },
      { what: "B's thread, unassigning", request: { method: 'POST', url: `/v1/threads/${b.threadId}/assign`, payload: { operator_id: null } }, status: 404, code: 'not_found' },
      {
        what: "B's operator on A's thread", status: 400, code: 'validation_failed', why: 'documented: the assignee must be an operator of the organization; B\'s answers as an unknown one',
        request: { method: 'POST', url: `/v1/threads/${a.threadId}/assign`, payload: { operator_id: b.agentId } },
      },
    ],
  },
  'POST /v1/threads/:id/cowriters': {
    base: (t) => ({ method: 'POST', url: `/v1/threads/${t.threadId}/cowriters`, payload: { operator_id: t.agentId }, status: 204 }),
    isolation: (a, b) => [
      { what: "B's thread", request: { method: 'POST', url: `/v1/threads/${b.threadId}/cowriters`, payload: { operator_id: b.agentId } }, status: 404, code: 'not_found' },
      {
        what: "B's operator on A's thread", status: 400, code: 'validation_failed', why: 'a co-writer must be an operator of the organization; B\'s answers as an unknown one',
        request: { method: 'POST', url: `/v1/threads/${a.threadId}/cowriters`, payload: { operator_id: b.agentId } },
      },
    ],
  },
  'DELETE /v1/threads/:id/cowriters/:operatorId': {
    base: (t) => ({ method: 'DELETE', url: `/v1/threads/${t.threadId}/cowriters/${t.agentId}`, status: 204 }),
    idempotentParams: { operatorId: 'documented 204: removing an operator who is not a co-writer of the thread changes nothing (the thread id still answers 404)' },
    isolation: (a, b) => [
      { what: "B's thread", request: { method: 'DELETE', url: `/v1/threads/${b.threadId}/cowriters/${b.agentId}` }, status: 404, code: 'not_found' },
      {
        what: "B's operator on A's thread", status: 204, request: { method: 'DELETE', url: `/v1/threads/${a.threadId}/cowriters/${b.agentId}` },
        why: 'removal is idempotent on A\'s own thread: 204 for any operator id, so it confirms nothing about B and deletes only A\'s rows',
      },
    ],
  },
  'POST /v1/threads/:id/close': {
    base: (t) => ({ method: 'POST', url: `/v1/threads/${t.threadId}/close`, status: 200 }),
    isolation: (_a, b) => [{ what: "B's thread", request: { method: 'POST', url: `/v1/threads/${b.threadId}/close` }, status: 404, code: 'not_found' }],
  },
  'POST /v1/threads/:id/reopen': {
    base: (t) => ({ method: 'POST', url: `/v1/threads/${t.threadId}/reopen`, status: 200 }),
    isolation: (_a, b) => [{ what: "B's thread", request: { method: 'POST', url: `/v1/threads/${b.threadId}/reopen` }, status: 404, code: 'not_found' }],
  },
  'POST /v1/threads/:id/read': {
    base: (t) => ({ method: 'POST', url: `/v1/threads/${t.threadId}/read`, status: 204 }),
    isolation: (_a, b) => [{ what: "B's thread", request: { method: 'POST', url: `/v1/threads/${b.threadId}/read` }, status: 404, code: 'not_found' }],
  },

  // Quick replies (titles unique per organization).
  'GET /v1/quick-replies': {
    base: () => ({ method: 'GET', url: '/v1/quick-replies', status: 200 }),
    isolation: (_a, b) => [{ what: 'list', request: { method: 'GET', url: '/v1/quick-replies' }, excludes: [b.quickReplyId, b.quickReplyTitle] }],
  },
  'POST /v1/quick-replies': {
    base: () => ({ method: 'POST', url: '/v1/quick-replies', payload: { title: `Probe ${randomBytes(6).toString('hex')}`, body: 'Thanks for writing, we answer within the hour.' }, status: 201 }),
    isolation: (_a, b) => [{
      what: "B's title", status: 201, request: { method: 'POST', url: '/v1/quick-replies', payload: { title: b.quickReplyTitle, body: 'same title as B' } },
      why: 'takes no id: created in A\'s organization; titles are unique per organization, so B\'s title neither conflicts (a 409 would confirm it) nor is touched',
    }],
  },
  'DELETE /v1/quick-replies/:id': {
    base: (t) => ({ method: 'DELETE', url: `/v1/quick-replies/${t.spareQuickReplyId}`, status: 204 }),
    isolation: (_a, b) => [{ what: "B's quick reply", request: { method: 'DELETE', url: `/v1/quick-replies/${b.spareQuickReplyId}` }, status: 404, code: 'not_found' }],
  },

  // Message templates (the registry of the tenant's WABA, seeded by the factories).
  'GET /v1/templates': {
    base: () => ({ method: 'GET', url: '/v1/templates', status: 200 }),
    paginated: true,
    isolation: (_a, b) => [
      { what: 'list', request: { method: 'GET', url: '/v1/templates' }, excludes: [b.templateId] },
      { what: "filtered by B's WABA", request: { method: 'GET', url: `/v1/templates?waba_id=${b.number.wabaId}` }, excludes: [b.templateId] },
    ],
  },
  'GET /v1/templates/:id': {
    base: (t) => ({ method: 'GET', url: `/v1/templates/${t.templateId}`, status: 200 }),
    isolation: (_a, b) => [{ what: "B's template", request: { method: 'GET', url: `/v1/templates/${b.templateId}` }, status: 404, code: 'not_found' }],
  },
  'POST /v1/templates/sync': {
    base: (t) => ({ method: 'POST', url: '/v1/templates/sync', payload: { waba_id: t.number.wabaId }, status: 200 }),
    nullBody: 'the whole body is optional: without waba_id every connected WABA of the organization is synced',
    isolation: (_a, b) => [{ what: "B's WABA", request: { method: 'POST', url: '/v1/templates/sync', payload: { waba_id: b.number.wabaId } }, status: 404, code: 'not_found' }],
  },
  'POST /v1/templates': {
    base: (t) => ({ method: 'POST', url: '/v1/templates', payload: probeTemplate({ waba_id: t.number.wabaId }), status: 201 }),
    refusals: (t) => [
      { what: 'no BODY', method: 'POST', url: '/v1/templates', payload: { ...probeTemplate({ waba_id: t.number.wabaId }), components: [{ type: 'FOOTER', text: 'x' }] }, status: 400, code: 'validation_failed' },
      { what: 'an upper-case name', method: 'POST', url: '/v1/templates', payload: { ...probeTemplate({ waba_id: t.number.wabaId }), name: 'Probe' }, status: 400, code: 'validation_failed' },
    ],
    isolation: (_a, b) => [
      { what: "B's WABA", request: { method: 'POST', url: '/v1/templates', payload: probeTemplate({ waba_id: b.number.wabaId }) }, status: 404, code: 'not_found' },
      { what: "B's number", request: { method: 'POST', url: '/v1/templates', payload: probeTemplate({ phone_number_id: b.number.phoneNumberId }) }, status: 404, code: 'not_found' },
    ],
  },
  'DELETE /v1/templates/:id': {
    base: (t) => ({ method: 'DELETE', url: `/v1/templates/${t.spareTemplateId}`, status: 204 }),
    isolation: (_a, b) => [{ what: "B's template", request: { method: 'DELETE', url: `/v1/templates/${b.spareTemplateId}` }, status: 404, code: 'not_found' }],
  },

  // Webhook dead letters and inbound media.
  'GET /v1/dead-letters': {
    base: () => ({ method: 'GET', url: '/v1/dead-letters', status: 200 }),
    refusals: () => ['0', '201', 'abc', '1.5', '-1', '9'.repeat(400)]
      .map((limit): Refusal => ({ what: `limit ${limit.slice(0, 10)}`, method: 'GET', url: `/v1/dead-letters?limit=${limit}`, status: 400, code: 'validation_failed' })),
    isolation: (_a, b) => [{ what: 'list', request: { method: 'GET', url: '/v1/dead-letters?limit=200' }, excludes: [b.deadLetterId] }],
  },
  'GET /v1/messages/:id/media': {
    base: (t) => ({ method: 'GET', url: `/v1/messages/${t.mediaMessageId}/media`, status: 200 }),
    refusals: (t) => [{ what: 'a text message', method: 'GET', url: `/v1/messages/${t.inboundId}/media`, status: 404, code: 'not_found' }],
    isolation: (_a, b) => [
      { what: "B's image", request: { method: 'GET', url: `/v1/messages/${b.mediaMessageId}/media` }, status: 404, code: 'not_found' },
    ],
  },

  // Event subscriptions (owners and admins).
  'POST /v1/event-subscriptions': {
    base: () => ({ method: 'POST', url: '/v1/event-subscriptions', payload: { url: 'https://hooks.example.test/wahub', event_types: ['message.received', 'contact.blocked'], description: 'hostile probe' }, status: 201 }),
    isolation: () => [{
      what: 'a new subscription', status: 201, request: { method: 'POST', url: '/v1/event-subscriptions', payload: { url: 'https://hooks.example.test/a', event_types: ['*'] } },
      why: 'takes no id: the subscription belongs to the caller\'s organization and receives only its events',
    }],
  },
  'GET /v1/event-subscriptions': {
    base: () => ({ method: 'GET', url: '/v1/event-subscriptions', status: 200 }),
    isolation: (_a, b) => [{ what: 'list', request: { method: 'GET', url: '/v1/event-subscriptions' }, excludes: [b.subscriptionId] }],
  },
  'GET /v1/event-subscriptions/:id': {
    base: (t) => ({ method: 'GET', url: `/v1/event-subscriptions/${t.subscriptionId}`, status: 200 }),
    isolation: (_a, b) => [{ what: "B's subscription", request: { method: 'GET', url: `/v1/event-subscriptions/${b.subscriptionId}` }, status: 404, code: 'not_found' }],
  },
  'DELETE /v1/event-subscriptions/:id': {
    base: (t) => ({ method: 'DELETE', url: `/v1/event-subscriptions/${t.spareSubscriptionId}`, status: 204 }),
    isolation: (_a, b) => [{ what: "B's subscription", request: { method: 'DELETE', url: `/v1/event-subscriptions/${b.spareSubscriptionId}` }, status: 404, code: 'not_found' }],
  },
  'GET /v1/event-subscriptions/:id/deliveries': {
    base: (t) => ({ method: 'GET', url: `/v1/event-subscriptions/${t.subscriptionId}/deliveries`, status: 200 }),
    paginated: true,
    refusals: (t) => [
      ...['0', '9'.repeat(19), '9'.repeat(20), '-5', '1.5'].map((cursor): Refusal => ({
        what: `cursor ${cursor.slice(0, 20)}`, method: 'GET', url: `/v1/event-subscriptions/${t.subscriptionId}/deliveries?cursor=${cursor}`, status: 400, code: 'invalid_cursor',
      })),
      { what: 'unknown state', method: 'GET', url: `/v1/event-subscriptions/${t.subscriptionId}/deliveries?state=lost`, status: 400, code: 'validation_failed' },
    ],
    isolation: (_a, b) => [
      { what: "B's subscription", request: { method: 'GET', url: `/v1/event-subscriptions/${b.subscriptionId}/deliveries` }, status: 404, code: 'not_found' },
      { what: "B's dead letters", request: { method: 'GET', url: `/v1/event-subscriptions/${b.subscriptionId}/deliveries?state=dead` }, status: 404, code: 'not_found' },
    ],
  },
  'POST /v1/event-subscriptions/:id/deliveries/:deliveryId/retry': {
    base: (t) => ({ method: 'POST', url: `/v1/event-subscriptions/${t.subscriptionId}/deliveries/${t.deadDeliveryId}/retry`, status: 202 }),
    refusals: (t) => ['0', '-1', '9'.repeat(19), '9'.repeat(20), '1e3', ' 1'].map((id): Refusal => ({
      what: `delivery id ${id.slice(0, 20)}`, method: 'POST', url: `/v1/event-subscriptions/${t.subscriptionId}/deliveries/${encodeURIComponent(id)}/retry`, status: 404, code: 'not_found',
    })),
    isolation: (a, b) => [
      { what: "B's subscription and delivery", request: { method: 'POST', url: `/v1/event-subscriptions/${b.subscriptionId}/deliveries/${b.deadDeliveryId}/retry` }, status: 404, code: 'not_found' },
      {
        what: "B's delivery under A's subscription", status: 404, code: 'not_found',
        mixed: 'a delivery is found under its own subscription only, and B\'s key does not find A\'s subscription',
        request: { method: 'POST', url: `/v1/event-subscriptions/${a.subscriptionId}/deliveries/${b.deadDeliveryId}/retry` },
      },
    ],
  },

  // End users: contacts (OTP, terms, block) and clients (preferences, GDPR).
  'GET /v1/contacts/:id': {
    base: (t) => ({ method: 'GET', url: `/v1/contacts/${t.contactId}`, status: 200 }),
    isolation: (_a, b) => [{ what: "B's contact", request: { method: 'GET', url: `/v1/contacts/${b.contactId}` }, status: 404, code: 'not_found' }],
  },
  'POST /v1/contacts/:id/otp': {
    // A contact of its own: the base is its first code (202). Valid mutated bodies may queue two
    // more, then the 3-codes-in-15-minutes limit answers 429 rate_limited, which writes nothing:
    // every outcome keeps the invariants, whichever bodies fast-check draws.
    base: (t) => ({ method: 'POST', url: `/v1/contacts/${t.otpContactId}/otp`, payload: { from_phone_number_id: t.number.phoneNumberId }, status: 202 }),
    nullBody: 'the body is optional (from_phone_number_id defaults to the number of the contact\'s latest thread): null counts as absent',
    isolation: (a, b) => [
      { what: "B's contact", request: { method: 'POST', url: `/v1/contacts/${b.otpContactId}/otp`, payload: {} }, status: 404, code: 'not_found' },
      {
        what: "B's contact from B's number", status: 404, code: 'not_found',
        request: { method: 'POST', url: `/v1/contacts/${b.otpContactId}/otp`, payload: { from_phone_number_id: b.number.phoneNumberId } },
      },
      {
        what: "A's contact from B's number", status: 404, code: 'not_found', mixed: 'B\'s key does not find A\'s contact',
        request: { method: 'POST', url: `/v1/contacts/${a.otpContactId}/otp`, payload: { from_phone_number_id: b.number.phoneNumberId } },
      },
    ],
  },
  'POST /v1/contacts/:id/otp/verify': {
    // The base uses the live code (200); afterwards the challenge is consumed, so every attempt is
    // refused with otp_already_used, uncounted (a wrong attempt on a live code is counted: written).
    base: (t) => ({ method: 'POST', url: `/v1/contacts/${t.verifyContactId}/otp/verify`, payload: { code: t.verifyCode }, status: 200 }),
    isolation: (_a, b) => [
      { what: "B's contact and code", request: { method: 'POST', url: `/v1/contacts/${b.verifyContactId}/otp/verify`, payload: { code: b.verifyCode } }, status: 404, code: 'not_found' },
    ],
  },
  'POST /v1/contacts/:id/terms': {
    base: (t) => ({ method: 'POST', url: `/v1/contacts/${t.contactId}/terms`, payload: { version: '2026-11' }, status: 200 }),
    isolation: (_a, b) => [{ what: "B's contact", request: { method: 'POST', url: `/v1/contacts/${b.contactId}/terms`, payload: { version: '2026-11' } }, status: 404, code: 'not_found' }],
  },
  'POST /v1/contacts/:id/block': {
    base: (t) => ({ method: 'POST', url: `/v1/contacts/${t.blockContactId}/block`, payload: { reason: 'hostile probe' }, status: 200 }),
    nullBody: 'the body is optional (reason): null counts as absent',
    isolation: (_a, b) => [{ what: "B's contact", request: { method: 'POST', url: `/v1/contacts/${b.blockContactId}/block`, payload: { reason: 'A was here' } }, status: 404, code: 'not_found' }],
  },
  'POST /v1/contacts/:id/unblock': {
    base: (t) => ({ method: 'POST', url: `/v1/contacts/${t.blockContactId}/unblock`, status: 200 }),
    isolation: (_a, b) => [{ what: "B's contact", request: { method: 'POST', url: `/v1/contacts/${b.blockContactId}/unblock` }, status: 404, code: 'not_found' }],
  },
  'GET /v1/clients/:id/preferences': {
    base: (t) => ({ method: 'GET', url: `/v1/clients/${t.clientId}/preferences`, status: 200 }),
    isolation: (_a, b) => [{ what: "B's client", request: { method: 'GET', url: `/v1/clients/${b.clientId}/preferences` }, status: 404, code: 'not_found' }],
  },
  'PATCH /v1/clients/:id/preferences': {
    base: (t) => ({
      method: 'PATCH', url: `/v1/clients/${t.clientId}/preferences`, status: 200,
      payload: { notifications_enabled: false, language: 'pt-br', timezone: 'America/Sao_Paulo', custom: { tier: 'gold', tags: ['vip'] } },
    }),
    isolation: (_a, b) => [{
      what: "B's client", status: 404, code: 'not_found',
      request: { method: 'PATCH', url: `/v1/clients/${b.clientId}/preferences`, payload: { notifications_enabled: false } },
    }],
  },
  'GET /v1/clients/:id/export': {
    base: (t) => ({ method: 'GET', url: `/v1/clients/${t.clientId}/export`, status: 200 }),
    isolation: (_a, b) => [{ what: "B's client", request: { method: 'GET', url: `/v1/clients/${b.clientId}/export` }, status: 404, code: 'not_found' }],
  },
  'DELETE /v1/clients/:id': {
    base: (t) => ({ method: 'DELETE', url: `/v1/clients/${t.erasableClientId}`, status: 200 }),
    isolation: (_a, b) => [{ what: "B's client", request: { method: 'DELETE', url: `/v1/clients/${b.erasableClientId}` }, status: 404, code: 'not_found' }],
  },
};

/**
 * Every route of `app` as `METHOD /path` (HEAD routes Fastify adds for GET left out), read from
 * `printRoutes({ commonPrefix: false })`, whose tree lines look like `│   └── /:id (GET, HEAD)`.
 */
export function listRoutes(app: FastifyInstance): string[] {
  const routes: string[] = [];
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([^)]*)\))?$/.exec(line.trimEnd());
    if (!match) continue;
    const depth = match[1]!.length / 4;
    stack.length = depth;
    stack.push(match[2]!);
    const path = stack.join('');
    for (const method of (match[3] ?? '').split(',').map((m) => m.trim()).filter(Boolean)) {
      if (method !== 'HEAD') routes.push(`${method} ${path}`);
    }
  }
  return routes.sort();
}

/** The `/v1` routes of `app`, failing with a clear message when one has no probe. */
export function probedV1Routes(app: FastifyInstance): Array<[string, RouteProbe]> {
  const routes = listRoutes(app).filter((route) => route.split(' ')[1]!.startsWith('/v1/'));
  const missing = routes.filter((route) => !PROBES[route]);
  const missingMessage = missing.map((route) => `add a probe for ${route} to test/hostile/routes.ts`).join('; ');
  expect(missing, missingMessage).toEqual([]);
  const stale = Object.keys(PROBES).filter((route) => !routes.includes(route));
  expect(stale, stale.map((route) => `the probe for ${route} names no route of the app`).join('; ')).toEqual([]);
  return routes.map((route) => [route, PROBES[route]!]);
}

/**
 * The app with every `/v1` route mounted. Embedded Signup and media downloads need a Graph API: a
 * stub on a local port that serves media (`GET /{version}/{media_id}`, then the URL it names) and
 * refuses anything else, closed with the app.
 */
export async function createProbedApp(db: Db): Promise<FastifyInstance> {
  let base = '';
  const stub = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://stub').pathname;
    const media = /^\/graph\/v24\.0\/(\d+)$/.exec(path);
    if (request.method === 'GET' && media) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: media[1], url: `${base}/_media/${media[1]}`, mime_type: 'image/jpeg' }));
    } else if (request.method === 'GET' && /^\/graph\/v24\.0\/\d+\/message_templates$/.test(path)) {
      // Template sync: every WABA lists the templates the test factories seed, so a sync changes nothing.
      const data = TEST_TEMPLATES.map((template, index) => toGraphTemplate(template, String(700000000000000 + index)));
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ data, paging: { cursors: { before: 'MA', after: 'MQ' } } }));
    } else if (request.method === 'POST' && /^\/graph\/v24\.0\/\d+\/message_templates$/.test(path)) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id: uniqueDigits(), status: 'PENDING', category: 'UTILITY' }));
    } else if (request.method === 'DELETE' && /^\/graph\/v24\.0\/\d+\/message_templates$/.test(path)) {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ success: true }));
    } else if (request.method === 'GET' && path.startsWith('/graph/_media/')) {
      response.writeHead(200, { 'content-type': 'image/jpeg' }).end('probe media');
    } else {
      response.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: 'not served by the probe stub', type: 'OAuthException', code: 100 } }));
    }
  });
  await new Promise<void>((resolve) => stub.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(stub.address() as AddressInfo).port}/graph`;
  const graph = new GraphApiClient({ baseUrl: base, version: 'v24.0', timeoutMs: 1_000 });
  const app = await createTestApp(db, { graph, rateLimit: { perMinute: 0 } });
  app.addHook('onClose', async () => {
    stub.closeAllConnections();
    await new Promise((resolve) => stub.close(resolve));
  });
  await app.ready();
  return app;
}

/** A customer who wrote once, with its contact and client. */
async function createCustomer(app: FastifyInstance, db: Db, number: TestNumber, name: string) {
  const inbound = await deliverInbound(app, db, number, { name });
  const row = await db.selectFrom('threads').innerJoin('contacts', 'contacts.id', 'threads.contact_id')
    .select(['contacts.id as contactId', 'contacts.client_id as clientId']).where('threads.id', '=', inbound.threadId).executeTakeFirstOrThrow();
  return { ...inbound, ...row };
}

/** An inbound image from `from` (Meta's webhook shape). @returns its message id */
async function deliverImage(app: FastifyInstance, db: Db, number: TestNumber, from: string): Promise<string> {
  const wamid = inboundWamid();
  const payload = JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{ id: number.wabaId, changes: [{ field: 'messages', value: {
      messaging_product: 'whatsapp', metadata: { display_phone_number: number.displayPhoneNumber, phone_number_id: number.phoneNumberId },
      contacts: [{ profile: { name: 'Customer' }, wa_id: from }],
      messages: [{ from, id: wamid, timestamp: String(Math.floor(Date.now() / 1000)), type: 'image', image: { id: uniqueDigits(), mime_type: 'image/jpeg', sha256: 'probe' } }],
    } }] }],
  });
  const response = await app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(payload), payload });
  expect(response.statusCode, response.body).toBe(200);
  const row = await db.selectFrom('messages').select('id').where('org_id', '=', (await db.selectFrom('phone_numbers').select('org_id').where('id', '=', number.id).executeTakeFirstOrThrow()).org_id)
    .where('provider_message_id', '=', wamid).executeTakeFirstOrThrow();
  return row.id;
}

/** An organization with one of everything the API can name (see {@link Tenant}). */
export async function createTenant(app: FastifyInstance, db: Db, name: string): Promise<Tenant> {
  const org = await createTestOrg(db, name);
  const key = bearer(org.apiKey);
  const call = async (method: 'POST', url: string, payload: object | undefined, status: number) => {
    const response = await app.inject({ method, url, headers: key, payload });
    expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(status);
    return response.json();
  };
  const number = await createTestNumber(db, org.orgId);
  const main = await createCustomer(app, db, number, `${name} customer`);
  const sent = await call('POST', '/v1/messages', text(main.threadId), 202);
  const signup = await call('POST', '/v1/whatsapp/signup/start', undefined, 201);

  const [otpCustomer, verifyCustomer, blockCustomer, erasable] = [
    await createCustomer(app, db, number, `${name} OTP`), await createCustomer(app, db, number, `${name} verify`),
    await createCustomer(app, db, number, `${name} block`), await createCustomer(app, db, number, `${name} erasable`),
  ];
  const otp = await call('POST', `/v1/contacts/${verifyCustomer.contactId}/otp`, {}, 202);
  const otpMessage = await db.selectFrom('messages').select('content').where('id', '=', otp.message_id).executeTakeFirstOrThrow();
  const verifyCode = (otpMessage.content as { components: Array<{ parameters: Array<{ text: string }> }> }).components[0]!.parameters[0]!.text;
  const mediaMessageId = await deliverImage(app, db, number, customerWaId());

  const { email } = await db.selectFrom('operators').select('email').where('id', '=', org.operatorId).executeTakeFirstOrThrow();
  const password = `probe-${randomBytes(8).toString('hex')}`;
  await setOperatorPassword(db, org.orgId, org.operatorId, password);
  const login = await app.inject({ method: 'POST', url: '/v1/session', payload: { email, password } });
  expect(login.statusCode, login.body).toBe(201);
  const sessionToken = /wahub_session=([^;]+)/.exec(String(login.headers['set-cookie']))![1]!;
  const agent = await createTestOperator(db, org.orgId, 'agent');

  const quickReplyTitle = `${name} greeting ${randomBytes(4).toString('hex')}`;
  const quickReply = await call('POST', '/v1/quick-replies', { title: quickReplyTitle, body: 'Hello!' }, 201);
  const spareQuickReply = await call('POST', '/v1/quick-replies', { title: `${name} spare ${randomBytes(4).toString('hex')}`, body: 'Bye!' }, 201);
  const subscription = await call('POST', '/v1/event-subscriptions', { url: 'https://hooks.example.test/kept', event_types: ['*'] }, 201);
  const spareSubscription = await call('POST', '/v1/event-subscriptions', { url: 'https://hooks.example.test/spare', event_types: ['*'] }, 201);

  // A published event naming the thread (the stream shows it), dead-lettered for the subscription.
  const position = await publishEvent(db, { orgId: org.orgId, eventType: 'message.received', aggregateId: main.messageId, payload: { message_id: main.messageId, thread_id: main.threadId } });
  const event = await db.selectFrom('outbox_events').select(['id', 'seq']).where('org_id', '=', org.orgId).where('stream_position', '=', position).executeTakeFirstOrThrow();
  const { rows: [delivery] } = await sql<{ id: string }>`
    INSERT INTO event_deliveries (org_id, subscription_id, event_id, aggregate_id, event_seq, state, attempts, last_status, last_error, completed_at)
    VALUES (${org.orgId}, ${subscription.id}, ${event.id}, ${main.messageId}, ${event.seq}, 'dead', 12, 500, 'hostile probe', now())
    RETURNING id`.execute(db);
  const { rows: [deadLetter] } = await sql<{ id: string }>`
    INSERT INTO webhook_dead_letters (org_id, provider, reason, detail, payload, dedupe_key)
    VALUES (${org.orgId}, 'meta', 'hostile_probe', 'a dead letter of the probes', '{}'::jsonb, ${randomBytes(16).toString('hex')})
    RETURNING id`.execute(db);

  return {
    org, number, threadId: main.threadId, from: main.from, inboundId: main.messageId, inboundWamid: main.wamid,
    outboundId: sent.id, signupState: signup.state, contactId: main.contactId, clientId: main.clientId,
    otpContactId: otpCustomer.contactId, verifyContactId: verifyCustomer.contactId, verifyCode, blockContactId: blockCustomer.contactId,
    erasableClientId: erasable.clientId, mediaMessageId, email, password, sessionToken, agentId: agent.operatorId,
    quickReplyId: quickReply.id, quickReplyTitle, spareQuickReplyId: spareQuickReply.id,
    subscriptionId: subscription.id, deadDeliveryId: delivery!.id, spareSubscriptionId: spareSubscription.id,
    deadLetterId: deadLetter!.id, streamPositionBefore: String(BigInt(position) - 1n),
    templateId: (await db.selectFrom('templates').select('id').where('org_id', '=', org.orgId).where('name', '=', 'hello_world').executeTakeFirstOrThrow()).id,
    spareTemplateId: await insertSpareTemplate(db, org.orgId, number.wabaId),
  };
}

/** A registry row no send names (DELETE marks it and every row of its name deleted). @returns its id */
async function insertSpareTemplate(db: Db, orgId: string, wabaId: string): Promise<string> {
  const [waba] = await findConnectedWabas(db, orgId, { wabaId });
  return db.transaction().execute((tx) => upsertCreatedTemplate(tx, orgId, waba!.id, {
    metaTemplateId: uniqueDigits(), name: 'probe_spare', language: 'en_US', status: 'APPROVED', category: 'UTILITY', parameterFormat: 'positional',
    components: [{ type: 'BODY', text: 'A spare template.' }],
  }));
}

/** What the probes read of a response (a body read whole, or an event stream's first frames). */
export interface ProbeResponse {
  statusCode: number;
  headers: LightMyRequestResponse['headers'];
  body: string;
  json(): any;
}

/** An event stream is read until it has been silent this long (or for at most EVENT_STREAM_MAX_MS), then aborted. */
const EVENT_STREAM_IDLE_MS = 250;
const EVENT_STREAM_MAX_MS = 3_000;

/** Reads `stream` to its end; with `abort` (an endless event stream) until it is idle, then aborts it. */
function readBody(stream: Readable, abort?: () => void): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let idle: NodeJS.Timeout | undefined;
    let cap: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      clearTimeout(cap);
      if (error) reject(error);
      else resolve(Buffer.concat(chunks));
    };
    const stop = () => {
      finish();
      abort?.();
    };
    const rearm = () => {
      if (!abort) return;
      clearTimeout(idle);
      idle = setTimeout(stop, EVENT_STREAM_IDLE_MS);
    };
    if (abort) cap = setTimeout(stop, EVENT_STREAM_MAX_MS);
    stream.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      rearm();
    });
    stream.once('end', () => finish());
    stream.once('error', (error) => finish(settled ? undefined : error));
    rearm();
  });
}

/**
 * Sends a probe request with an API key (merged with the request's own headers). The response is
 * read as a stream: a `text/event-stream` answer (`GET /v1/stream`) never ends by itself, so it is
 * read until idle and then aborted like a client that disconnects (the route then unsubscribes).
 */
export async function send(app: FastifyInstance, apiKey: string | null, request: ProbeRequest): Promise<ProbeResponse> {
  const headers = { ...(apiKey ? bearer(apiKey) : {}), ...request.headers };
  const response = await app.inject({
    method: request.method as 'GET', url: request.url, headers, payload: request.payload as string | object | undefined, payloadAsStream: true,
  });
  const eventStream = String(response.headers['content-type'] ?? '').startsWith('text/event-stream');
  const body = (await readBody(response.stream(), eventStream ? () => (response.raw.res as ServerResponse).destroy() : undefined)).toString();
  return { statusCode: response.statusCode, headers: response.headers, body, json: () => JSON.parse(body) };
}

/** Asserts `{"error":{"code","message"}}` with a known code whose status is the response's. */
export function expectErrorShape(response: ProbeResponse, what: string): void {
  let body: { error?: { code?: unknown; message?: unknown } };
  try {
    body = response.json();
  } catch {
    throw new Error(`${what}: ${response.statusCode} answered a body that is not JSON: ${response.body.slice(0, 200)}`);
  }
  const code = body.error?.code;
  expect(typeof code === 'string' && Object.hasOwn(ERROR_STATUS, code), `${what}: unknown error code in ${response.body.slice(0, 200)}`).toBe(true);
  expect(ERROR_STATUS[code as keyof typeof ERROR_STATUS], `${what}: status of ${String(code)}`).toBe(response.statusCode);
  expect(typeof body.error?.message, `${what}: error message`).toBe('string');
}

/**
 * A fingerprint of every table (row count and a hash of the rows), to prove that a refused request
 * wrote nothing. api_keys is counted only: authentication updates last_used_at.
 */
export async function fingerprint(db: Db): Promise<Record<string, string>> {
  const { rows: tables } = await sql<{ name: string }>`
    SELECT table_name AS name FROM information_schema.tables
    WHERE table_schema = 'public' AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'schema_migrations%'
    ORDER BY table_name`.execute(db);
  const parts = tables.map(({ name }) => (name === 'api_keys'
    ? `SELECT '${name}' AS name, count(*)::text AS print FROM ${name}`
    : `SELECT '${name}' AS name, count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '') AS print FROM ${name} t`));
  const { rows } = await sql<{ name: string; print: string }>`${sql.raw(parts.join(' UNION ALL '))}`.execute(db);
  return Object.fromEntries(rows.map((row) => [row.name, row.print]));
}

/** Path parameter values that name nothing: malformed, injected, oversized, or well-formed but unknown. */
export const HOSTILE_IDS = [
  'not-a-uuid',
  "1' OR '1'='1",
  '1%27%20OR%20%271%27%3D%271',
  '%3Cscript%3Ealert(1)%3C%2Fscript%3E',
  '00000000-0000-0000-0000-000000000000',
  'FFFFFFFF-FFFF-4FFF-BFFF-FFFFFFFFFFFF',
  `${'a'.repeat(36)}`,
  'x'.repeat(5_000),
  '%00',
  '%E0%A4%A',
  '..%2F..%2Fetc%2Fpasswd',
  `${randomBytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5')}`,
];
