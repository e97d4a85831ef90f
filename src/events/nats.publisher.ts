/**
 * Publishing domain events to NATS JetStream (official nats.js client, package `nats`).
 *
 * - Stream `NATS_STREAM` (default `WAHUB_EVENTS`) over subjects `<prefix>.>`; created when missing.
 * - Subject `<prefix>.<org_id>.<event_type>`, e.g. `wahub.0b6…e1.message.received`.
 * - `Nats-Msg-Id` = the event id: JetStream drops a second publish of the same id within the
 *   stream's duplicate window, so a relay that crashed after publishing but before committing
 *   `published_at` causes no duplicate in the stream when the next relay publishes again.
 * - A publish counts only once JetStream acknowledged it (the PubAck says it was stored).
 */
import { connect, type JetStreamClient, type NatsConnection, nanos, StorageType } from 'nats';
import type { Logger } from 'pino';
import type { OutboxEvent } from './events.repository.js';

/** Window within which JetStream drops a repeated `Nats-Msg-Id`: longer than any relay crash-and-retry. */
export const DUPLICATE_WINDOW_MS = 10 * 60_000;

export interface EventPublisher {
  /** Publishes one event and resolves once the broker acknowledged it. @throws on timeout or broker error */
  publish(event: OutboxEvent): Promise<{ duplicate: boolean }>;
  close(): Promise<void>;
}

/** The message body of an event on NATS (also the `data`-carrying body of HTTP deliveries). */
export function eventEnvelope(event: OutboxEvent): Record<string, unknown> {
  return {
    id: event.id,
    type: event.event_type,
    version: event.event_version,
    org_id: event.org_id,
    aggregate_type: event.aggregate_type,
    aggregate_id: event.aggregate_id,
    correlation_id: event.correlation_id,
    created_at: event.created_at.toISOString(),
    data: event.payload,
  };
}

/** The NATS subject of an event. */
export function eventSubject(prefix: string, event: Pick<OutboxEvent, 'org_id' | 'event_type'>): string {
  return `${prefix}.${event.org_id}.${event.event_type}`;
}

export class NatsEventPublisher implements EventPublisher {
  private constructor(
    private readonly connection: NatsConnection,
    private readonly jetstream: JetStreamClient,
    private readonly subjectPrefix: string,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Connects and makes sure the stream exists (its subjects must be `<prefix>.>`).
   * @param options.url NATS server URL(s), comma-separated (`nats://127.0.0.1:4222`)
   * @throws when the server is unreachable or the stream cannot be created
   */
  static async connect(options: { url: string; stream: string; subjectPrefix: string; logger: Logger; timeoutMs?: number }): Promise<NatsEventPublisher> {
    const connection = await connect({
      servers: options.url.split(','),
      name: 'wahub-relay',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 1_000,
    });
    void (async () => {
      for await (const status of connection.status()) options.logger.info({ nats_status: status.type }, 'NATS connection status');
    })();
    const manager = await connection.jetstreamManager();
    const subjects = [`${options.subjectPrefix}.>`];
    try {
      await manager.streams.info(options.stream);
    } catch {
      await manager.streams.add({ name: options.stream, subjects, storage: StorageType.File, duplicate_window: nanos(DUPLICATE_WINDOW_MS) });
      options.logger.info({ stream: options.stream, subjects }, 'created JetStream stream');
    }
    return new NatsEventPublisher(connection, connection.jetstream(), options.subjectPrefix, options.timeoutMs ?? 5_000);
  }

  async publish(event: OutboxEvent): Promise<{ duplicate: boolean }> {
    const data = Buffer.from(JSON.stringify(eventEnvelope(event)));
    const ack = await this.jetstream.publish(eventSubject(this.subjectPrefix, event), data, { msgID: event.id, timeout: this.timeoutMs });
    return { duplicate: ack.duplicate };
  }

  async close(): Promise<void> {
    await this.connection.drain().catch(() => this.connection.close());
  }
}
