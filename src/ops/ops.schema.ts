/**
 * Response shapes of the probes and metrics (`ops.routes.ts`).
 */
import { z } from 'zod';

/** `GET /healthz`: the process answers. */
export const healthSchema = z.object({ status: z.literal('ok') });

/** `GET /readyz`, 200 (ready) or 503 (not ready: `failing` names the failed checks). */
export const readinessSchema = z.object({
  status: z.enum(['ready', 'not_ready']),
  failing: z.array(z.string()).describe('names of the failed checks; empty when ready'),
  checks: z.array(z.object({
    name: z.string().describe('lifecycle, database, migrations, or a background loop of this process (worker roles)'),
    ok: z.boolean(),
    detail: z.string().optional().describe('why a check failed'),
  })),
});

/** `GET /metrics-json`: the figures a person or a simple monitor wants at a glance. */
export const metricsJsonSchema = z.object({
  activeAccounts: z.number().int().describe('phone numbers with status active'),
  queuedCount: z.number().int().describe('outbox rows pending'),
  processingCount: z.number().int().describe('outbox rows leased by a dispatcher'),
  parkedCount: z.number().int().describe('outbox rows parked (their number awaits re-authorisation)'),
  sentLast5m: z.number().int().describe('outbox rows done in the last 5 minutes'),
  failedLast5m: z.number().int().describe('outbox rows failed in the last 5 minutes'),
  reconnectCount: z.number().int().describe('phone numbers with status reauth_required'),
  outboxLagSeconds: z.number().describe('age of the oldest due pending outbox row, seconds (3 decimals)'),
  relayLagSeconds: z.number().describe('age of the oldest unpublished domain event, seconds (3 decimals)'),
  generatedAt: z.string().describe('ISO-8601 UTC'),
});
