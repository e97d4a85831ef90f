/**
 * The two fan-outs of domain events are independent (issue 19): with NATS unavailable, HTTP event
 * subscriptions still receive every event (their own cursor, `deliveries_created_at`), in order per
 * aggregate; when NATS returns it catches up in `seq` order, and no delivery is created twice.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../src/db/database.js';
import { EventDeliverer } from '../../src/events/deliverer.js';
import type { NewEvent } from '../../src/events/event-types.js';
import { insertEvents, type OutboxEvent } from '../../src/events/events.repository.js';
import type { EventPublisher } from '../../src/events/nats.publisher.js';
import { EventRelay } from '../../src/events/relay.js';
import { createSubscription } from '../../src/events/subscriptions.service.js';
import { waitFor } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { createTestOrg, silentLogger, testCipher, testEgress } from '../helpers/factories.js';
import { eventsOf, startSubscriber, type Subscriber } from './helpers.js';

const bed = useAppBed(10);
const subscribers: Subscriber[] = [];
afterAll(async () => {
  await Promise.all(subscribers.map((s) => s.close()));
});

/** A JetStream publisher that fails like an unreachable NATS while `down` is true. */
function flakyPublisher() {
  const published: OutboxEvent[] = [];
  const state = { down: true };
  const publisher: EventPublisher = {
    publish: async (event) => {
      if (state.down) throw new Error('CONNECTION_REFUSED: NATS is unavailable');
      published.push(event);
      return { duplicate: false };
    },
    close: async () => undefined,
  };
  return { publisher, published, state };
}

describe('EventRelay while NATS is unavailable', () => {
  it('keeps delivering to HTTP subscribers in order, and lets NATS catch up in seq order when it returns, with no duplicate delivery', async () => {
    const org = await createTestOrg(bed.t.db);
    const subscriber = await startSubscriber();
    subscribers.push(subscriber);
    const subscription = await createSubscription(bed.t.db, testCipher, testEgress, { orgId: org.orgId, url: subscriber.url, eventTypes: ['*'], description: null });
    const aggregates = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const events: NewEvent[] = [];
    for (let n = 0; n < 5; n++) {
      for (const aggregateId of aggregates) events.push({ orgId: org.orgId, aggregateType: 'contact', aggregateId, type: 'contact.created', payload: { n }, correlationId: null });
    }
    await withTransaction(bed.t.db, (tx) => insertEvents(tx, events));
    const nats = flakyPublisher();
    // A batch smaller than the backlog: the HTTP cursor must move past the events NATS is stuck on.
    const relay = new EventRelay({ db: bed.t.db, logger: silentLogger, publisher: nats.publisher, batchSize: 4, pollIntervalMs: 20 });
    const deliverer = new EventDeliverer({
      db: bed.t.db, cipher: testCipher, egress: testEgress, logger: silentLogger, timeoutMs: 2_000, retryBaseMs: 1, retryMaxMs: 5, giveUpMs: 60_000, pollIntervalMs: 20,
    });

    await relay.drain();
    await waitFor(async () => {
      await deliverer.runOnce();
      return subscriber.received.length >= events.length;
    }, 'every event delivered over HTTP', 10_000);

    expect(nats.published).toEqual([]);
    expect((await eventsOf(bed.t.db, org.orgId)).every((e) => e.published_at === null)).toBe(true);
    const bodies = subscriber.received.map((r) => JSON.parse(r.body) as { aggregate_id: string; data: { n: number } });
    expect(bodies).toHaveLength(events.length);
    for (const aggregateId of aggregates) {
      expect(bodies.filter((b) => b.aggregate_id === aggregateId).map((b) => b.data.n)).toEqual([0, 1, 2, 3, 4]);
    }

    nats.state.down = false;
    await relay.drain();

    const rows = await eventsOf(bed.t.db, org.orgId);
    expect(rows.every((e) => e.published_at !== null && e.deliveries_created_at !== null)).toBe(true);
    const mine = nats.published.filter((e) => e.org_id === org.orgId);
    expect(mine.map((e) => e.id)).toEqual(rows.map((e) => e.id));
    const deliveries = await bed.t.db.selectFrom('event_deliveries').select('event_id').where('subscription_id', '=', subscription.id).execute();
    expect(deliveries).toHaveLength(events.length);
    await deliverer.runOnce();
    expect(subscriber.received).toHaveLength(events.length);
  });
});
