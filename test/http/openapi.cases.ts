/**
 * Real requests whose answers are checked against the OpenAPI document, route by route.
 *
 * `/v1` routes take theirs from the hostile-input probes (test/hostile/routes.ts), so a new route
 * gets them with its probe: the well-formed request, the same without credentials (401), with a
 * session cookie but no CSRF token on writes (403), a wrong-typed, unknown-media-type and oversized
 * body (400, 415, 413), `limit=0` on lists (400), the isolation cases (another organization's ids:
 * 404, 400, 409) and the probe's own refusals. Routes outside `/v1` (probes, metrics, webhooks) have
 * theirs in {@link OTHER_CASES}.
 */
import { randomBytes } from 'node:crypto';
import { computeTwilioSignature } from '../../src/providers/twilio/signature.js';
import { customerWaId, inboundWamid } from '../helpers/api.js';
import { signedHeaders, TEST_VERIFY_TOKEN, textWebhook } from '../helpers/factories.js';
import { encodeForm, inboundParams, statusParams, type TestTwilioNumber } from '../helpers/twilio.js';
import { PROBES, sessionCookie, type ProbeRequest, type RouteProbe, type Tenant } from '../hostile/routes.js';
import type { AnswerCase } from './openapi.helpers.js';

/** What the cases act on: two organizations (A calls, B owns the ids A must not reach) and A's Twilio sender. */
export interface AnswerWorld {
  a: Tenant;
  b: Tenant;
  twilio: TestTwilioNumber;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** A body one byte over the 1 MB limit (`bodyLimit` of the app). */
const OVERSIZED_BODY = JSON.stringify({ pad: 'x'.repeat(1024 * 1024) });

/** The cases of a `/v1` route, derived from its probe. */
function probeCases(route: string, probe: RouteProbe, { a, b }: AnswerWorld): AnswerCase[] {
  const key = a.org.apiKey;
  const { status, ...base } = probe.base(a);
  const cases: AnswerCase[] = [{ what: 'well-formed request', request: base, apiKey: key, status }];
  cases.push({ what: 'no credentials', request: probe.unauthenticated?.refused(a) ?? base, apiKey: null, status: 401, code: 'unauthorized' });
  const write = !/^(GET|HEAD) /.test(route);
  if (write && !probe.unauthenticated) {
    cases.push({
      what: 'session cookie without CSRF token', request: { ...base, headers: { ...base.headers, ...sessionCookie(a.sessionToken) } },
      apiKey: null, status: 403, code: 'invalid_csrf_token',
    });
  }
  if (base.payload !== undefined) {
    const withBody = (what: string, payload: string, headers: Record<string, string>, status: number, code: string): AnswerCase =>
      ({ what, request: { ...base, payload, headers: { ...base.headers, ...headers } }, apiKey: key, status, code });
    cases.push(
      withBody('a JSON number for a body', '42', JSON_TYPE, 400, 'validation_failed'),
      withBody('an XML body', '<a/>', { 'content-type': 'application/xml' }, 415, 'unsupported_media_type'),
      withBody('a body over 1 MB', OVERSIZED_BODY, JSON_TYPE, 413, 'payload_too_large'),
    );
  }
  if (probe.paginated) {
    const url = `${base.url}${base.url.includes('?') ? '&' : '?'}limit=0`;
    cases.push({ what: 'limit=0', request: { ...base, url }, apiKey: key, status: 400, code: 'validation_failed' });
  }
  for (const isolation of probe.isolation(a, b)) {
    if ('status' in isolation) {
      cases.push({ what: `isolation: ${isolation.what}`, request: isolation.request, apiKey: key, status: isolation.status, code: isolation.code });
    }
  }
  for (const { what, status: refusedStatus, code, ...request } of probe.refusals?.(a) ?? []) {
    cases.push({ what: `refusal: ${what}`, request, apiKey: key, status: refusedStatus, code });
  }
  return cases;
}

/** A form POST to a Twilio webhook path, signed with `authToken` (over the URL the app sees under `inject`). */
function twilioRequest(url: string, params: Record<string, string>, authToken: string): ProbeRequest {
  const signature = computeTwilioSignature(authToken, `http://localhost${url}`, params);
  return { method: 'POST', url, payload: encodeForm(params), headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature } };
}

/** A signed Meta `messages` webhook of a new inbound text to A's number. */
function metaWebhook(a: Tenant): ProbeRequest {
  const payload = textWebhook({ wabaId: a.number.wabaId, phoneNumberId: a.number.phoneNumberId, from: customerWaId(), wamid: inboundWamid() });
  return { method: 'POST', url: '/webhooks/whatsapp', payload, headers: signedHeaders(payload) };
}

const get = (url: string): ProbeRequest => ({ method: 'GET', url });

/** Twilio's three webhook paths take the same form (inbound messages and status callbacks). */
const twilioCases = (url: string) => ({ twilio }: AnswerWorld): AnswerCase[] => {
  const params = url.endsWith('/status')
    ? statusParams(twilio, { sid: `SM${randomBytes(16).toString('hex')}`, status: 'delivered', to: customerWaId() })
    : inboundParams(twilio, { from: customerWaId() });
  const signed = twilioRequest(url, params, twilio.authToken);
  return [
    { what: 'signed webhook', request: signed, apiKey: null, status: 200 },
    { what: 'wrong signature', request: twilioRequest(url, params, 'not-the-token'), apiKey: null, status: 403, code: 'forbidden' },
  ];
};

/** Routes outside `/v1`, keyed `METHOD /path` as Fastify registers them. */
export const OTHER_CASES: Record<string, (world: AnswerWorld) => AnswerCase[]> = {
  'GET /healthz': () => [{ what: 'liveness', request: get('/healthz'), apiKey: null, status: 200 }],
  'GET /readyz': () => [{ what: 'readiness', request: get('/readyz'), apiKey: null, status: 200 }],
  'GET /metrics': () => [{ what: 'Prometheus scrape', request: get('/metrics'), apiKey: null, status: 200 }],
  'GET /metrics-json': () => [{ what: 'metrics as JSON', request: get('/metrics-json'), apiKey: null, status: 200 }],
  'GET /webhooks/whatsapp': () => [
    {
      what: 'verification handshake', apiKey: null, status: 200,
      request: get(`/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=${TEST_VERIFY_TOKEN}&hub.challenge=1158201444`),
    },
    { what: 'wrong verify token', request: get('/webhooks/whatsapp?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1'), apiKey: null, status: 403, code: 'forbidden' },
  ],
  'POST /webhooks/whatsapp': ({ a }) => {
    const signed = metaWebhook(a);
    return [
      { what: 'signed webhook', request: signed, apiKey: null, status: 200 },
      { what: 'no signature', request: { ...signed, headers: JSON_TYPE }, apiKey: null, status: 401, code: 'invalid_signature' },
      { what: 'signed body that is not JSON', request: { ...signed, payload: '{"object":', headers: signedHeaders('{"object":') }, apiKey: null, status: 400, code: 'invalid_json' },
    ];
  },
  'POST /webhooks/twilio': twilioCases('/webhooks/twilio'),
  'POST /webhooks/twilio/whatsapp': twilioCases('/webhooks/twilio/whatsapp'),
  'POST /webhooks/twilio/status': twilioCases('/webhooks/twilio/status'),
};

/** Every route with cases, sorted: the `/v1` probes' and {@link OTHER_CASES}. */
export const ROUTES_WITH_CASES: string[] = [...Object.keys(PROBES), ...Object.keys(OTHER_CASES)].sort();

/** The cases of `route` (none when it has neither a probe nor an entry in {@link OTHER_CASES}). */
export function answerCases(route: string, world: AnswerWorld): AnswerCase[] {
  const probe = PROBES[route];
  if (probe) return probeCases(route, probe, world);
  return OTHER_CASES[route]?.(world) ?? [];
}
