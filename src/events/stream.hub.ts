/**
 * In-process fan-out of domain events to Server-Sent Events clients.
 *
 * One dedicated PostgreSQL connection per API process LISTENs on `wahub_events`; the relay
 * NOTIFYs it with the organization id after publishing. A notification only wakes that
 * organization's clients: each client then reads its own events after its cursor from
 * `outbox_events` (ordered by `stream_position`), so nothing is lost when a notification is missed
 * or coalesced. A poll wakes every client periodically as a fallback (LISTEN connection down,
 * NOTIFY lost), and comment lines keep idle connections open through proxies.
 */
import pg from 'pg';
import type { Db } from '../db/database.js';
import { EVENTS_NOTIFY_CHANNEL, readEventStream, type StreamEvent } from './stream.js';

export interface StreamLogger {
  warn(object: object, message: string): void;
}

export interface EventStreamHubOptions {
  db: Db;
  /** Connection string for the LISTEN connection; without it the hub only polls. */
  listenUrl?: string | undefined;
  logger: StreamLogger;
  /** Fallback poll period, ms. Default 2000. */
  pollIntervalMs?: number;
  /** Heartbeat comment period, ms. Default 15000. */
  heartbeatMs?: number;
  /** Events read per query. Default 100. */
  batchSize?: number;
}

/** One connected client: where it is in the stream and how to write to it. */
interface Subscriber {
  orgId: string;
  cursor: string;
  write(chunk: string): void;
  busy: boolean;
  again: boolean;
}

/** Formats one event as an SSE frame: `id` = stream position, `event` = event type, `data` = JSON. */
export function formatEvent(event: StreamEvent): string {
  const data = {
    event_id: event.id,
    event_type: event.type,
    event_version: event.version,
    aggregate_type: event.aggregate_type,
    aggregate_id: event.aggregate_id,
    correlation_id: event.correlation_id,
    occurred_at: event.created_at,
    payload: event.data,
  };
  // A newline would end the field early; event types never contain one, but the column is text.
  const type = event.type.replace(/[\r\n]/g, ' ');
  return `id: ${event.position}\nevent: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
}

export class EventStreamHub {
  private readonly subscribers = new Set<Subscriber>();
  private listener: pg.Client | undefined;
  private listening = false;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly pollIntervalMs: number;
  private readonly heartbeatMs: number;
  private readonly batchSize: number;

  constructor(private readonly options: EventStreamHubOptions) {
    this.pollIntervalMs = options.pollIntervalMs ?? 2_000;
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
    this.batchSize = options.batchSize ?? 100;
  }

  /** Number of connected clients (tests, metrics). */
  get size(): number {
    return this.subscribers.size;
  }

  /**
   * Adds a client that has seen everything up to `cursor` (a stream position) and sends it what
   * follows at once. @returns the function that removes it
   */
  subscribe(orgId: string, cursor: string, write: (chunk: string) => void): () => void {
    const subscriber: Subscriber = { orgId, cursor, write, busy: false, again: false };
    this.subscribers.add(subscriber);
    this.start();
    void this.pump(subscriber);
    return () => {
      this.subscribers.delete(subscriber);
    };
  }

  /** Wakes the clients of one organization (or all) to read what is new. */
  wake(orgId?: string): void {
    for (const subscriber of this.subscribers) if (!orgId || subscriber.orgId === orgId) void this.pump(subscriber);
  }

  /** Stops the timers and the LISTEN connection; clients are closed by their HTTP layer. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.reconnectTimer);
    this.subscribers.clear();
    const listener = this.listener;
    this.listener = undefined;
    await listener?.end().catch(() => undefined);
  }

  private start(): void {
    if (this.closed || this.pollTimer) return;
    this.pollTimer = setInterval(() => this.wake(), this.pollIntervalMs).unref();
    this.heartbeatTimer = setInterval(() => {
      for (const subscriber of this.subscribers) subscriber.write(': heartbeat\n\n');
    }, this.heartbeatMs).unref();
    void this.listen();
  }

  private async listen(): Promise<void> {
    if (!this.options.listenUrl || this.closed || this.listening) return;
    this.listening = true;
    const client = new pg.Client({ connectionString: this.options.listenUrl });
    this.listener = client;
    const retry = (error: unknown) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      this.listening = false;
      void client.end().catch(() => undefined);
      if (this.closed) return;
      this.options.logger.warn({ err: error }, 'event stream: LISTEN connection lost; polling until it is back');
      this.reconnectTimer = setTimeout(() => void this.listen(), 1_000);
      this.reconnectTimer.unref();
    };
    client.on('error', retry);
    client.on('end', () => retry(new Error('connection ended')));
    client.on('notification', (message) => {
      if (message.channel === EVENTS_NOTIFY_CHANNEL) this.wake(message.payload || undefined);
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${EVENTS_NOTIFY_CHANNEL}`);
      // Notifications sent while we were not listening are lost: catch up once.
      this.wake();
    } catch (error) {
      retry(error);
    }
  }

  /** Sends a client everything after its cursor; one pump per client at a time, re-run when woken meanwhile. */
  private async pump(subscriber: Subscriber): Promise<void> {
    if (subscriber.busy) {
      subscriber.again = true;
      return;
    }
    subscriber.busy = true;
    try {
      for (;;) {
        subscriber.again = false;
        const rows = await readEventStream(this.options.db, subscriber.orgId, subscriber.cursor, this.batchSize);
        if (!this.subscribers.has(subscriber)) return;
        for (const row of rows) subscriber.write(formatEvent(row));
        if (rows.length > 0) subscriber.cursor = rows.at(-1)!.position;
        if (rows.length < this.batchSize && !subscriber.again) return;
      }
    } catch (error) {
      // The next wake or poll retries from the same cursor.
      this.options.logger.warn({ err: error }, 'event stream: reading events failed');
    } finally {
      subscriber.busy = false;
    }
  }
}
