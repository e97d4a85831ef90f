/**
 * `GET /healthz` (liveness), `GET /readyz` (readiness, 503 naming the failing check),
 * `GET /metrics` (Prometheus text format) and `GET /metrics-json`. Unauthenticated, like most
 * probes; put them behind the network boundary in production (see docs/RUNBOOK.md).
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { metrics, registry } from './metrics.js';
import { checkReadiness, type LoopProbe, metricsJson, refreshScrapeGauges } from './ops.service.js';

export interface OpsRoutesOptions {
  db: Db;
  isShuttingDown(): boolean;
  loops: LoopProbe[];
}

export async function opsRoutes(app: FastifyInstance, options: OpsRoutesOptions): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_request, reply) => {
    const { ready, checks } = await checkReadiness(options);
    const failing = checks.filter((check) => !check.ok).map((check) => check.name);
    return reply.status(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not_ready', failing, checks });
  });

  app.get('/metrics', async (_request, reply) => {
    try {
      await refreshScrapeGauges(options.db);
    } catch (error) {
      // A scrape during a database outage still returns the process's own series.
      app.log.warn({ err: error }, 'metrics: database gauges unavailable');
    }
    return reply.type(registry.contentType).send(await registry.metrics());
  });

  app.get('/metrics-json', async () => metricsJson(options.db));

}

/** Records every request's duration by route template (not raw URL: bounded label values). */
export function observeHttpDurations(app: FastifyInstance): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
  });
}
