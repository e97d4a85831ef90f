/**
 * Wake-ups of an idle dispatcher: a dedicated connection LISTENs on `wahub_outbox`, which inserts
 * into the outbox NOTIFY, so idle workers claim new rows at once; the poll interval is the
 * fallback (no listen URL, or the connection lost and reconnecting every second).
 */
import pg from 'pg';
import type { Logger } from 'pino';

export interface OutboxWakeupOptions {
  /** Connection string for LISTEN; without it the dispatcher only polls. */
  listenUrl?: string;
  /** Longest idle wait, ms. */
  pollIntervalMs: number;
  logger: Logger;
}

export class OutboxWakeup {
  private waker: (() => void) | undefined;
  private listener: pg.Client | undefined;
  private listening = false;

  constructor(private readonly options: OutboxWakeupOptions) {}

  /** Starts listening (reconnects on its own until `stop()`). */
  start(): void {
    this.listening = true;
    void this.listen();
  }

  /** Ends an idle wait at once. */
  wake(): void {
    this.waker?.();
  }

  /** Stops listening and closes the connection. */
  async stop(): Promise<void> {
    this.listening = false;
    await this.listener?.end().catch(() => undefined);
    this.listener = undefined;
  }

  /** Resolves after the poll interval, or at once when woken (NOTIFY, `wake()`). */
  idle(): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(done, this.options.pollIntervalMs);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.waker = () => {
        this.waker = undefined;
        done();
      };
    });
  }
  private async listen(): Promise<void> {
    if (!this.options.listenUrl) return;
    try {
      const client = new pg.Client({ connectionString: this.options.listenUrl });
      client.on('error', (error) => {
        this.options.logger.warn({ err: error }, 'outbox LISTEN connection lost; polling until it is back');
        this.listener = undefined;
        if (this.listening) setTimeout(() => void this.listen(), 1_000);
      });
      client.on('notification', () => this.waker?.());
      await client.connect();
      await client.query('LISTEN wahub_outbox');
      if (!this.listening) await client.end();
      else this.listener = client;
    } catch (error) {
      this.options.logger.warn({ err: error }, 'outbox LISTEN failed; polling only');
    }
  }
}
