/**
 * Prometheus metrics (prom-client), one registry per process as Prometheus expects. Counters and
 * histograms are incremented where things happen; gauges that need the database are refreshed
 * on scrape with cheap, index-backed queries (see ops.repository.ts) — never full-table scans.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry, prefix: 'wahub_' });

const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const metrics = {
  webhookRequests: new Counter({
    name: 'wahub_webhook_requests_total', help: 'Webhook POSTs by provider and result', labelNames: ['provider', 'result'] as const, registers: [registry],
  }),
  inboundMessages: new Counter({
    name: 'wahub_inbound_messages_total', help: 'Inbound messages stored, by type', labelNames: ['type'] as const, registers: [registry],
  }),
  inboundBatchSize: new Histogram({
    name: 'wahub_inbound_batch_webhooks', help: 'Webhooks committed together in one inbound transaction (group commit)',
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500], registers: [registry],
  }),
  statuses: new Counter({
    name: 'wahub_statuses_total', help: 'Delivery statuses by outcome (applied, ignored, pending)', labelNames: ['result'] as const, registers: [registry],
  }),
  deadLetters: new Counter({
    name: 'wahub_dead_letters_total', help: 'Webhook items kept as dead letters, by reason', labelNames: ['reason'] as const, registers: [registry],
  }),
  retentionDeletedRows: new Counter({
    name: 'wahub_retention_deleted_rows_total', help: 'Rows removed by the retention jobs, by table', labelNames: ['table'] as const, registers: [registry],
  }),
  webhookStoreFailures: new Counter({
    name: 'wahub_webhook_store_failures_total', help: 'Signed webhooks whose storing failed (not a database outage), by outcome (retry: answered 500; dead_lettered: kept as store_failed and answered 200)',
    labelNames: ['provider', 'outcome'] as const, registers: [registry],
  }),
  outboxRows: new Gauge({
    name: 'wahub_outbox_rows', help: 'Unfinished outbox rows by state (pending, leased, parked)', labelNames: ['state'] as const, registers: [registry],
  }),
  outboxLag: new Gauge({
    name: 'wahub_outbox_lag_seconds', help: 'Age of the oldest due pending outbox row', registers: [registry],
  }),
  claimDuration: new Histogram({
    name: 'wahub_outbox_claim_duration_seconds', help: 'Duration of one outbox claim statement', buckets: LATENCY_BUCKETS, registers: [registry],
  }),
  sendDuration: new Histogram({
    name: 'wahub_provider_send_duration_seconds', help: 'Duration of one provider send call', labelNames: ['outcome'] as const, buckets: LATENCY_BUCKETS, registers: [registry],
  }),
  providerErrors: new Counter({
    name: 'wahub_provider_errors_total', help: 'Provider send errors by Meta code and class', labelNames: ['code', 'class'] as const, registers: [registry],
  }),
  governorThrottles: new Counter({
    name: 'wahub_governor_throttles_total', help: 'Throughput-limit (130429) pauses per number', labelNames: ['phone_number_ref'] as const, registers: [registry],
  }),
  leaseExpiries: new Counter({
    name: 'wahub_lease_expiries_total', help: 'Outbox rows re-claimed after their lease expired', registers: [registry],
  }),
  relayLag: new Gauge({
    name: 'wahub_event_relay_lag_seconds', help: 'Age of the oldest unpublished domain event', registers: [registry],
  }),
  dbPool: new Gauge({
    name: 'wahub_db_pool_connections', help: 'Database pool connections by state (total, idle, waiting)', labelNames: ['state'] as const, registers: [registry],
  }),
  httpDuration: new Histogram({
    name: 'wahub_http_request_duration_seconds', help: 'HTTP request duration by method, route and status',
    labelNames: ['method', 'route', 'status'] as const, buckets: LATENCY_BUCKETS, registers: [registry],
  }),
};
