/**
 * The OpenAPI document (`GET /docs/openapi.json`) against the app that serves it: valid OpenAPI
 * 3.1; every registered route documented (routes are collected from the app as it is built, so a
 * new route without a schema fails here by name) with its error responses; and real answers —
 * successes and errors, for two seeded organizations — valid against the response the document
 * declares for their status, so a schema cannot drift from what its handler returns.
 */
import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestApp } from '../helpers/factories.js';
import { createTwilioNumber } from '../helpers/twilio.js';
import { createProbedApp, createTenant, listRoutes, send } from '../hostile/routes.js';
import { answerCases, ROUTES_WITH_CASES, type AnswerWorld } from './openapi.cases.js';
import {
  answerProblems, collectRoutes, documentedRoutes, operationOf, routeKey, whyUndocumented, type RegisteredRoute,
} from './openapi.helpers.js';

let t: TestDatabase;
let app: FastifyInstance;
let routes: RegisteredRoute[];
let document: any;
let world: AnswerWorld;

beforeAll(async () => {
  t = await createTestDatabase(6);
  ({ app, routes } = await collectRoutes(() => createProbedApp(t.db)));
  const response = await app.inject({ method: 'GET', url: '/docs/openapi.json' });
  expect(response.statusCode, response.body.slice(0, 300)).toBe(200);
  document = response.json();
  const a = await createTenant(app, t.db, 'Documented');
  const b = await createTenant(app, t.db, 'Elsewhere');
  world = { a, b, twilio: await createTwilioNumber(t.db, a.org.orgId) };
});

afterAll(async () => {
  await app?.close();
  await t?.drop();
});

/** The routes the document must show, as `METHOD /path`. */
const apiRoutes = (): RegisteredRoute[] => routes.filter((route) => !whyUndocumented(route));

/** Fails with every problem, one per line. */
function expectNoProblems(problems: string[]): void {
  expect(problems, `\n${problems.join('\n')}\n`).toEqual([]);
}

describe('GET /docs/openapi.json', () => {
  it('answers a valid OpenAPI 3.1 document', async () => {
    expect(document.openapi).toMatch(/^3\.1\./);
    const result = await new Validator().validate(document);
    expect(result.errors ?? [], JSON.stringify(result.errors, null, 2)?.slice(0, 3_000)).toEqual([]);
    expect(result.valid).toBe(true);
  });

  it('sees every route the app registered', () => {
    // The onRoute collection and Fastify's own route tree must agree, or the checks below would miss routes.
    const collected = routes.filter((route) => route.method !== 'HEAD' && !route.url.startsWith('/docs')).map(routeKey).sort();
    expect(collected).toEqual(listRoutes(app).filter((route) => !route.split(' ')[1]!.startsWith('/docs')));
    expect(collected).toContain('POST /v1/messages');
  });

  it('documents every registered route with its schema, and nothing that is not API', () => {
    const problems: string[] = [];
    const expected = new Set<string>();
    for (const route of apiRoutes()) {
      const key = routeKey(route);
      expected.add(key);
      if (typeof route.schema?.summary !== 'string' || !route.schema?.response) {
        problems.push(`add a schema to ${key} (describeRoute, src/http/openapi.ts)`);
      } else if (!operationOf(document, key)) {
        problems.push(`${key} declares a schema but is missing from the document`);
      }
    }
    for (const key of documentedRoutes(document).filter((documented) => !expected.has(documented))) {
      const route = routes.find((candidate) => routeKey(candidate) === key);
      problems.push(`${key} is in the document but ${route ? `is not API (${whyUndocumented(route)}): hide it (schema.hide)` : 'is no route of the app'}`);
    }
    expect(expected.size).toBeGreaterThan(0);
    expectNoProblems(problems);
  });

  it('declares a success, 500 and 503 on every operation, and 401 and 429 on every /v1 operation', () => {
    const problems: string[] = [];
    for (const route of apiRoutes()) {
      const key = routeKey(route);
      const operation = operationOf(document, key);
      if (!operation) continue; // reported by the test above
      const statuses = Object.keys(operation.responses ?? {});
      const missing = [
        ...(statuses.some((status) => /^2\d\d$/.test(status)) ? [] : ['a 2xx']),
        ...['500', '503', ...(route.url.startsWith('/v1/') ? ['401', '429'] : [])].filter((status) => !statuses.includes(status)),
      ];
      if (missing.length > 0) problems.push(`${key} declares no ${missing.join(', ')} response (declared: ${statuses.join(', ')})`);
      for (const status of statuses.filter((candidate) => Number(candidate) >= 400)) {
        // A status with a body of its own besides the error (503 of /readyz) declares them as anyOf.
        const schema = operation.responses[status].content?.['application/json']?.schema;
        const codes = [schema, ...(schema?.anyOf ?? [])].map((branch) => branch?.properties?.error?.properties?.code?.enum).find(Array.isArray);
        if (!Array.isArray(codes) || codes.length === 0) problems.push(`${key} ${status} does not declare its error codes ({"error":{"code","message"}})`);
      }
    }
    expectNoProblems(problems);
  });
});

describe('answers of every route against the document', () => {
  it('has real requests for every documented route', () => {
    const withCases = new Set(ROUTES_WITH_CASES);
    const registered = new Set(routes.map(routeKey));
    expectNoProblems([
      ...apiRoutes().map(routeKey).filter((key) => !withCases.has(key))
        .map((key) => `add real requests for ${key}: a probe in test/hostile/routes.ts (/v1) or OTHER_CASES in test/http/openapi.cases.ts`),
      ...ROUTES_WITH_CASES.filter((key) => !registered.has(key)).map((key) => `the requests for ${key} name no route of the app`),
    ]);
  });

  it.each(ROUTES_WITH_CASES)('%s answers what its schema documents, successes and errors', async (route) => {
    const cases = answerCases(route, world);
    expect(cases.length).toBeGreaterThan(0);
    const problems: string[] = [];
    for (const answerCase of cases) {
      const response = await send(app, answerCase.apiKey, answerCase.request);
      problems.push(...answerProblems(document, route, answerCase, response));
    }
    expectNoProblems(problems);
  });

  it('answers 429 rate_limited as documented once a key spends its limit', async () => {
    const limited = await createTestApp(t.db, { rateLimit: { perMinute: 1 } });
    try {
      const request = { method: 'GET' as const, url: '/v1/threads', headers: bearer(world.a.org.apiKey) };
      expect((await limited.inject(request)).statusCode).toBe(200);
      const refused = await send(limited, world.a.org.apiKey, { method: 'GET', url: '/v1/threads' });
      expectNoProblems(answerProblems(document, 'GET /v1/threads', { what: 'over the limit', request, apiKey: world.a.org.apiKey, status: 429, code: 'rate_limited' }, refused));
    } finally {
      await limited.close();
    }
  });
});
