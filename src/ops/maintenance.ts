/**
 * The worker's scheduled jobs (event retention, client retention, OTP clean-up): each runs once at
 * start and then every `intervalMs`. Jobs are idempotent batched deletes, so several workers
 * running them at once only repeat work; a failing job is logged and tried again next period.
 */
import type { Logger } from 'pino';
import { toError } from '../shared/errors.js';

export interface MaintenanceJob {
  name: string;
  /** Does one run; returns a summary for the log. */
  run(): Promise<Record<string, unknown>>;
}

export class MaintenanceScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly options: { jobs: MaintenanceJob[]; intervalMs: number; logger: Logger }) {}

  start(): void {
    const tick = () => {
      this.running = this.runAll().finally(() => {
        this.running = undefined;
      });
    };
    tick();
    this.timer = setInterval(tick, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running;
  }

  /** Runs every job once, one after another. */
  async runAll(): Promise<void> {
    for (const job of this.options.jobs) {
      try {
        const summary = await job.run();
        this.options.logger.info({ job: job.name, ...summary }, 'maintenance job done');
      } catch (error) {
        this.options.logger.error({ job: job.name, err: toError(error) }, 'maintenance job failed');
      }
    }
  }
}
