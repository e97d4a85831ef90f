/**
 * Group commit for inbound webhooks. A webhook route hands its parsed items to `submit`, which
 * resolves once they are committed, in a transaction that may also hold other webhooks that
 * arrived meanwhile (ingestWebhookBatch). A lone webhook starts its transaction at once (no added
 * delay); under load, webhooks queue while up to `maxConcurrentBatches` transactions run and the
 * next transaction takes up to `maxBatchSize` of them, so the cost per webhook of a statement and
 * of a commit falls as the load rises. Each webhook stays all-or-nothing: a batch that fails for
 * a reason other than an unavailable database is split, and every webhook of it is retried alone,
 * so a webhook the database refuses fails only its own request (and is redelivered by Meta).
 */
import type { Db } from '../db/database.js';
import { isDatabaseUnavailableError } from '../db/errors.js';
import { metrics } from '../ops/metrics.js';
import type { ParsedWebhookItem } from '../providers/types.js';
import { ingestWebhookBatch, type IngestSummary, type WebhookSubmission } from './inbound.service.js';

export interface InboundBatcherOptions {
  /** Most webhooks in one transaction. Default 100. */
  maxBatchSize?: number;
  /** Most batch transactions at once (each holds one pooled connection). Default 2. */
  maxConcurrentBatches?: number;
}

interface Pending extends WebhookSubmission {
  resolve(summary: IngestSummary): void;
  reject(error: unknown): void;
}

export class InboundBatcher {
  private readonly queue: Pending[] = [];
  private running = 0;
  private readonly idle: Array<() => void> = [];
  private readonly maxBatchSize: number;
  private readonly maxConcurrentBatches: number;

  constructor(private readonly db: Db, options: InboundBatcherOptions = {}) {
    this.maxBatchSize = options.maxBatchSize ?? 100;
    this.maxConcurrentBatches = options.maxConcurrentBatches ?? 2;
  }

  /**
   * Stores one webhook's items (all or nothing) and resolves after commit.
   * @throws the database error of this webhook's transaction (the route answers 503)
   */
  submit(items: ParsedWebhookItem[], correlationId: string | null): Promise<IngestSummary> {
    return new Promise((resolve, reject) => {
      this.queue.push({ items, correlationId, resolve, reject });
      this.startBatches();
    });
  }

  /** Resolves once every submitted webhook has been committed or refused (graceful shutdown). */
  async drain(): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private startBatches(): void {
    while (this.running < this.maxConcurrentBatches && this.queue.length > 0) {
      const batch = this.queue.splice(0, this.maxBatchSize);
      this.running++;
      void this.runBatch(batch).finally(() => {
        this.running--;
        this.startBatches();
        if (this.running === 0 && this.queue.length === 0) for (const resolve of this.idle.splice(0)) resolve();
      });
    }
  }

  private async runBatch(batch: Pending[]): Promise<void> {
    metrics.inboundBatchSize.observe(batch.length);
    try {
      const summaries = await ingestWebhookBatch(this.db, batch);
      batch.forEach((pending, index) => pending.resolve(summaries[index]!));
    } catch (error) {
      if (batch.length === 1 || isDatabaseUnavailableError(error)) {
        for (const pending of batch) pending.reject(error);
        return;
      }
      // One webhook the database refuses must not fail the others: each is retried on its own.
      for (const pending of batch) {
        try {
          const [summary] = await ingestWebhookBatch(this.db, [pending]);
          pending.resolve(summary!);
        } catch (single) {
          pending.reject(single);
        }
      }
    }
  }
}
