/**
 * A worker loop that runs rounds back to back while they find work, and sleeps `pollIntervalMs`
 * (or until `notify()`) after a round that found none or failed. Subclasses implement `runOnce`
 * (one round, returning how many items it handled). `lastTickAt` (epoch ms) is the readiness
 * signal: a stuck loop stops ticking.
 */
import type { Logger } from 'pino';
import { toError } from './errors.js';

export abstract class PollingLoop {
  /** Epoch ms of the last finished round. */
  lastTickAt = Date.now();
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;

  /**
   * @param pollIntervalMs sleep after an idle or failed round, ms
   * @param failureMessage logged (with the error) when a round throws; the loop goes on
   */
  protected constructor(
    private readonly loopOptions: { logger: Logger; pollIntervalMs: number; failureMessage: string; logContext?: Record<string, unknown> },
  ) {}

  /** Runs one round now. @returns items handled (0 = nothing to do) */
  abstract runOnce(): Promise<number>;

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stops after the round in progress. */
  async stop(): Promise<void> {
    this.running = false;
    clearTimeout(this.timer);
    this.wake?.();
    await this.loop;
  }

  /** Wakes an idle loop at once. */
  notify(): void {
    this.wake?.();
  }

  private async run(): Promise<void> {
    while (this.running) {
      let handled = 0;
      try {
        handled = await this.runOnce();
      } catch (error) {
        this.loopOptions.logger.error({ err: toError(error), ...this.loopOptions.logContext }, this.loopOptions.failureMessage);
      }
      this.lastTickAt = Date.now();
      if (handled === 0 && this.running) {
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          this.timer = setTimeout(resolve, this.loopOptions.pollIntervalMs);
        });
      }
    }
  }
}
