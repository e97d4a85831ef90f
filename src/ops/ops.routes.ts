/**
 * `GET /healthz` (liveness), `GET /readyz` (readiness, 503 naming the failing check),
 * `GET /metrics` (Prometheus text format) and `GET /metrics-json`. Unauthenticated, like most
 * probes; put them behind the network boundary in production (see docs/RUNBOOK.md).
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { describeRoute } from '../http/openapi.js';
import { metrics, registry } from './metrics.js';
import { healthSchema, metricsJsonSchema, readinessSchema } from './ops.schema.js';
import { checkReadiness, type LoopProbe, metricsJson, refreshScrapeGauges } from './ops.service.js';

export interface OpsRoutesOptions {
  db: Db;
  isShuttingDown(): boolean;
  loops: LoopProbe[];
}

const tags = ['ops'];
/** Probes and scrapes come every few seconds: their request lines are logged at debug, not info. */
const config = { requestLogLevel: 'debug' } as const;

/** Registers the probes and metrics, unauthenticated. */
export async function opsRoutes(app: FastifyInstance, options: OpsRoutesOptions): Promise<void> {
  app.get('/healthz', {
    config,
    schema: describeRoute('GET', {
      summary: 'Liveness: the process answers (no dependency is checked)', tags, auth: 'none', responses: { 200: healthSchema },
    }),
  }, async () => ({ status: 'ok' }));

  app.get('/readyz', {
    config,
    schema: describeRoute('GET', {
      summary: 'Readiness: database, migrations, lifecycle and background loops', tags, auth: 'none',
      description: 'The database must answer within 1 s with every migration applied, the process must not be shutting down, and '
        + "(worker roles) each background loop must have ticked recently. 503 while any check fails (a load balancer's cue to drain).",
      responses: { 200: readinessSchema.describe('ready'), 503: readinessSchema.describe('not ready: `failing` names the failed checks') },
    }),
  }, async (_request, reply) => {
    const { ready, checks } = await checkReadiness(options);
    const failing = checks.filter((check) => !check.ok).map((check) => check.name);
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', failing, checks });
  });

  app.get('/metrics', {
    config,
    schema: describeRoute('GET', {
      summary: 'Prometheus metrics', tags, auth: 'none',
      description: "The process's series and the database gauges (outbox depth and lag, relay lag, pool); during a database outage, "
        + "the process's series alone.",
      responses: { 200: { description: 'Prometheus text exposition format 0.0.4', contentType: 'text/plain' } },
    }),
  }, async (_request, reply) => {
    try {
      await refreshScrapeGauges(options.db);
    } catch (error) {
      // A scrape during a database outage still returns the process's own series.
      app.log.warn({ err: error }, 'metrics: database gauges unavailable');
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  app.get('/metrics-json', {
    config,
    schema: describeRoute('GET', {
      summary: 'Queue and delivery figures at a glance (JSON)', tags, auth: 'none', responses: { 200: metricsJsonSchema },
    }),
  }, async () => metricsJson(options.db));
}

/** Records every request's duration by route template (not raw URL: bounded label values). */
export function observeHttpDurations(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}
