/**
 * Machinery both simulators share (Meta in `../meta/`, Twilio in `../twilio/`): a minimal logger,
 * cancellable sleeps, tracked background tasks that reset and close interrupt, and the webhook
 * retry policy.
 */

/** Delays of the simulated status lifecycle after an accepted send, ms. */
export interface SimulatorDelays { sentMs?: number; deliveredMs?: number; readMs?: number }

/** Minimal pino-compatible logger. */
export interface SimulatorLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}
export const silentLogger: SimulatorLogger = { debug: () => {}, warn: () => {} };

/** Cancellable sleeps: `close()`/`reset()` must not leave timers firing webhooks later. */
export class Timers {
  private readonly pending = new Map<NodeJS.Timeout, (completed: boolean) => void>();

  /** Resolves true after `ms`, or false as soon as `cancelAll()` runs. */
  sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        resolve(true);
      }, Math.max(0, ms));
      this.pending.set(timer, resolve);
    });
  }

  cancelAll(): void {
    for (const [timer, resolve] of this.pending) {
      clearTimeout(timer);
      resolve(false);
    }
    this.pending.clear();
  }
}

/**
 * A simulator's background work: tracked tasks (status lifecycles, webhook deliveries),
 * cancellable sleeps, and an epoch that `interrupt()` (reset) and `close()` bump, so a lifecycle
 * started before stops at its next step instead of posting into a newer test.
 */
export class SimulatorBackground {
  readonly timers = new Timers();
  private readonly tasks = new Set<Promise<unknown>>();
  private epoch = 0;
  private closed = false;

  /** Keeps `task` until it settles, so `whenIdle()` can wait for it. @returns the task */
  track<T>(task: Promise<T>): Promise<T> {
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task)).catch(() => {});
    return task;
  }

  /**
   * Runs `run(step)` for each step at `startAt + step.delayMs` (epoch ms), one after another; stops
   * when interrupted or closed meanwhile.
   */
  runSteps<S extends { delayMs: number }>(startAt: number, steps: S[], run: (step: S) => Promise<void>): void {
    const started = this.epoch;
    void this.track((async () => {
      for (const step of steps) {
        if (!(await this.timers.sleep(startAt + step.delayMs - Date.now())) || this.epoch !== started) return;
        await run(step);
        if (this.epoch !== started) return;
      }
    })());
  }

  /** Stops every lifecycle in progress at its next step and cancels pending sleeps. */
  interrupt(): void {
    this.epoch++;
    this.timers.cancelAll();
  }

  /** Resolves once no tracked task is left. */
  async whenIdle(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  /** Interrupts and waits for the tasks in flight. @returns false when already closed */
  async close(): Promise<boolean> {
    if (this.closed) return false;
    this.closed = true;
    this.interrupt();
    await this.whenIdle();
    return true;
  }
}

/** Retry policy for webhook POSTs; Meta retries non-200s with exponential backoff [M-TP]. */
export interface WebhookRetry {
  /** Total tries including the first. Default 5. */
  attempts?: number;
  /** Wait before the second try, doubled each time after, in ms. Default 100. */
  baseDelayMs?: number;
}
