/**
 * Metrics of one committed webhook ingest (any provider): stored messages by type, dead letters by
 * reason, statuses by result.
 */
import { metrics } from '../ops/metrics.js';
import type { IngestSummary } from './inbound.service.js';

/** Counts what one webhook ingest changed; call it once the transaction committed. */
export function recordIngest(summary: IngestSummary): void {
  for (const [type, count] of Object.entries(summary.messageTypes)) metrics.inboundMessages.inc({ type }, count);
  for (const [reason, count] of Object.entries(summary.deadLetterReasons)) metrics.deadLetters.inc({ reason }, count);
  if (summary.statusesApplied) metrics.statuses.inc({ result: 'applied' }, summary.statusesApplied);
  if (summary.statusesIgnored) metrics.statuses.inc({ result: 'ignored' }, summary.statusesIgnored);
  if (summary.statusesPending) metrics.statuses.inc({ result: 'pending' }, summary.statusesPending);
}
