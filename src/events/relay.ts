/**
 * The event relay (worker role): moves domain events from `outbox_events` to NATS JetStream and to
 * the organizations' HTTP event subscriptions.
 *
 * One round, in ONE transaction:
 * 1. lock up to `batchSize` unpublished events, oldest `seq` first, `FOR UPDATE SKIP LOCKED` (other
 *    relays take other rows);
 * 2. keep only events whose aggregate this relay can lock (`pg_try_advisory_xact_lock`) and that no
 *    unpublished, unclaimed event of the same aggregate precedes — so, with any number of relays,
 *    the events of one aggregate are published one relay at a time, in `seq` order;
 * 3. publish to JetStream (when NATS_URL is set): aggregates in parallel, each aggregate's events
 *    one after another; an aggregate whose publish fails stops there (its later events wait);
 * 4. create the HTTP deliveries (`event_deliveries`, delivered by deliverer.ts with retries) of the
 *    published events and of the events the HTTP cursor claimed, then stamp `published_at` and
 *    `stream_position` under the stream-position lock and NOTIFY `wahub_events`
 *    (events.repository.ts markPublished); commit.
 * `published_at` is therefore set only after the broker acknowledged. The HTTP subscriptions have a
 * cursor of their own (`deliveries_created_at`): each round also claims, in the same order and
 * under the same aggregate locks, the oldest events whose deliveries do not exist yet, and creates
 * them whatever NATS answered. In steady state both cursors claim the same rows and one UPDATE
 * stamps both; during a NATS outage the NATS cursor waits on its oldest events while HTTP
 * subscribers keep receiving, and NATS catches up in `seq` order when it returns. A relay killed mid-batch
 * leaves its events unpublished; the next round publishes them again with the same `Nats-Msg-Id`,
 * which JetStream drops as duplicates.
 */
import type { Logger } from 'pino';
import type { Db, Tx } from '../db/database.js';
import { toError } from '../shared/errors.js';
import { PollingLoop } from '../shared/polling-loop.js';
import * as repo from './events.repository.js';
import type { EventPublisher } from './nats.publisher.js';

export interface RelayOptions {
  db: Db;
  logger: Logger;
  /** JetStream publisher; undefined when NATS_URL is unset (HTTP subscriptions only). */
  publisher: EventPublisher | undefined;
  /** Events claimed per round. Default 100 (EVENT_RELAY_BATCH_SIZE). */
  batchSize: number;
  /** Sleep between rounds when idle or after a failure, ms. Default 250. */
  pollIntervalMs: number;
  /** Called after rounds that created HTTP deliveries (wakes an in-process deliverer). */
  onDeliveries?: () => void;
  /** Test hook: called after each broker acknowledgement, before anything is committed. */
  afterPublish?: (event: repo.OutboxEvent) => void;
}

/** Groups events by aggregate, each group in `seq` order (the claim returns rows in `seq` order). */
function byAggregate(events: repo.OutboxEvent[]): repo.OutboxEvent[][] {
  const groups = new Map<string, repo.OutboxEvent[]>();
  for (const event of events) {
    const group = groups.get(event.aggregate_id);
    if (group) group.push(event);
    else groups.set(event.aggregate_id, [event]);
  }
  return [...groups.values()];
}

export class EventRelay extends PollingLoop {
  constructor(private readonly options: RelayOptions) {
    super({ logger: options.logger, pollIntervalMs: options.pollIntervalMs, failureMessage: 'event relay round failed; retrying' });
  }

  /** Runs one round now. @returns events published */
  async runOnce(): Promise<number> {
    return this.options.db.transaction().execute((tx) => this.round(tx));
  }

  /** Runs rounds until no event is left (tests, CLI). @returns events published */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const published = await this.runOnce();
      total += published;
      if (published === 0) return total;
    }
  }

  /** @returns events published to NATS plus events fanned out to HTTP alone (0: nothing to do) */
  private async round(tx: Tx): Promise<number> {
    const claimed = await repo.claimUnpublishedEvents(tx, this.options.batchSize, 'published');
    if (claimed.length === 0) return 0;
    const ready = await this.inOrder(tx, claimed, 'published');
    // Without NATS the two cursors are one: publish() acknowledges everything.
    const awaitingDeliveries = this.options.publisher
      ? await this.inOrder(tx, await repo.claimUnpublishedEvents(tx, this.options.batchSize, 'deliveries'), 'deliveries')
      : [];
    const published = await this.publish(ready);
    const publishedIds = new Set(published);
    const fannedOutOnly = awaitingDeliveries.map((event) => event.id).filter((id) => !publishedIds.has(id));
    const unfannedPublished = ready.filter((event) => publishedIds.has(event.id) && event.deliveries_created_at === null).map((event) => event.id);
    const deliveries = await repo.insertDeliveriesFor(tx, [...new Set([...fannedOutOnly, ...unfannedPublished])]);
    await repo.markDeliveriesCreated(tx, fannedOutOnly);
    await repo.markPublished(tx, published);
    if (deliveries > 0) queueMicrotask(() => this.options.onDeliveries?.());
    return published.length + fannedOutOnly.length;
  }

  /** The claimed events this relay may handle now without breaking an aggregate's order on that cursor. */
  private async inOrder(tx: Tx, claimed: repo.OutboxEvent[], cursor: repo.RelayCursor): Promise<repo.OutboxEvent[]> {
    if (claimed.length === 0) return [];
    const locked = await repo.tryLockAggregates(tx, [...new Set(claimed.map((event) => event.aggregate_id))]);
    const mine = claimed.filter((event) => locked.has(event.aggregate_id));
    const blockedFrom = await repo.findUnclaimedEarliest(tx, [...locked], mine.map((event) => event.id), cursor);
    return mine.filter((event) => {
      const limit = blockedFrom.get(event.aggregate_id);
      return limit === undefined || BigInt(event.seq) < limit;
    });
  }

  /** Publishes to JetStream; returns the ids acknowledged, in `seq` order (all ids without NATS). */
  private async publish(events: repo.OutboxEvent[]): Promise<string[]> {
    const { publisher } = this.options;
    if (!publisher) return events.map((event) => event.id);
    const acknowledged = new Set<string>();
    await Promise.all(byAggregate(events).map(async (group) => {
      for (const event of group) {
        try {
          await publisher.publish(event);
        } catch (error) {
          this.options.logger.warn({ err: toError(error), event_id: event.id, event_type: event.event_type }, 'NATS publish failed; the aggregate waits for the next round');
          return;
        }
        acknowledged.add(event.id);
        this.options.afterPublish?.(event);
      }
    }));
    return events.filter((event) => acknowledged.has(event.id)).map((event) => event.id);
  }
}
