/**
 * The `/v1` route catalogue of the hostile-input tests: routes are discovered from the Fastify app
 * itself, and each must have a probe here — a well-formed request, and how organization A probing
 * organization B's ids must be answered. A route without a probe fails the fuzz and isolation
 * tests with "add a probe for METHOD /v1/…", so a new endpoint cannot skip them.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { sql } from 'kysely';
import { expect } from 'vitest';
import type { Db } from '../../src/db/database.js';
import { GraphApiClient } from '../../src/providers/meta/graph.client.js';
import { ERROR_STATUS } from '../../src/shared/errors.js';
import { bearer, deliverInbound } from '../helpers/api.js';
import { createTestApp, createTestNumber, createTestOrg, uniqueDigits, type TestNumber, type TestOrg } from '../helpers/factories.js';

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
}

/** A's request naming B's resources, and what it must answer. */
export type IsolationCase =
  | { what: string; request: ProbeRequest; status: number; /** Error code, for statuses ≥ 400. */ code?: string; why?: string }
  | { what: string; request: ProbeRequest; excludes: string[] };

export interface RouteProbe {
  /** A well-formed request by the tenant's owner and the status it answers. */
  base(t: Tenant): ProbeRequest & { status: number };
  /** True for lists with `limit` and `cursor`. */
  paginated?: boolean;
  /** Requests with A's key naming B's ids; every route has at least one. */
  isolation(a: Tenant, b: Tenant): IsolationCase[];
}

const text = (threadId: string) => ({ thread_id: threadId, type: 'text', text: { body: 'hostile probe' } });

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

/** The app with every `/v1` route mounted (Embedded Signup needs a Graph client: one that reaches nothing). */
export async function createProbedApp(db: Db): Promise<FastifyInstance> {
  const graph = new GraphApiClient({ baseUrl: 'http://127.0.0.1:9', version: 'v24.0', timeoutMs: 1_000 });
  const app = await createTestApp(db, { graph, rateLimit: { perMinute: 0 } });
  await app.ready();
  return app;
}

export async function createTenant(app: FastifyInstance, db: Db, name: string): Promise<Tenant> {
  const org = await createTestOrg(db, name);
  const number = await createTestNumber(db, org.orgId);
  const inbound = await deliverInbound(app, db, number, { name: `${name} customer` });
  const sent = await app.inject({ method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey), payload: text(inbound.threadId) });
  expect(sent.statusCode, sent.body).toBe(202);
  const signup = await app.inject({ method: 'POST', url: '/v1/whatsapp/signup/start', headers: bearer(org.apiKey) });
  expect(signup.statusCode, signup.body).toBe(201);
  return {
    org, number, threadId: inbound.threadId, from: inbound.from, inboundId: inbound.messageId, inboundWamid: inbound.wamid,
    outboundId: sent.json().id, signupState: signup.json().state,
  };
}

/** Sends a probe request with an API key (merged with the request's own headers). */
export function send(app: FastifyInstance, apiKey: string | null, request: ProbeRequest): Promise<LightMyRequestResponse> {
  const headers = { ...(apiKey ? bearer(apiKey) : {}), ...request.headers };
  return app.inject({ method: request.method as 'GET', url: request.url, headers, payload: request.payload as string | object | undefined });
}

/** Asserts `{"error":{"code","message"}}` with a known code whose status is the response's. */
export function expectErrorShape(response: LightMyRequestResponse, what: string): void {
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
