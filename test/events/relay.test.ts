/**
 * The event relay and HTTP event subscriptions, without NATS (NATS_URL unset): claim order,
 * per-aggregate order with several relays, commit-ordered stream positions with NOTIFY, signed
 * deliveries retried with backoff, dead letters visible in the API, and event retention.
 */
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../src/db/database.js';
import { EventDeliverer } from '../../src/events/deliverer.js';
import type { NewEvent } from '../../src/events/event-types.js';
import { insertEvents, type OutboxEvent } from '../../src/events/events.repository.js';
import type { EventPublisher } from '../../src/events/nats.publisher.js';
import { EventRelay } from '../../src/events/relay.js';
import { purgePublishedEvents } from '../../src/events/retention.js';
import { verifyEventSignature } from '../../src/events/signature.js';
import { EVENTS_NOTIFY_CHANNEL, readEventStream } from '../../src/events/stream.js';
import { bearer, deliverInbound, waitFor } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { createTestNumber, createTestOrg, silentLogger, testCipher, testEgress, type TestOrg } from '../helpers/factories.js';
import { eventsOf, startSubscriber, type Subscriber } from './helpers.js';

const bed = useAppBed(20);
const subscribers: Subscriber[] = [];

afterAll(async () => {
  await Promise.all(subscribers.map((s) => s.close()));
});

function relay(options: Partial<ConstructorParameters<typeof EventRelay>[0]> = {}): EventRelay {
  return new EventRelay({ db: bed.t.db, logger: silentLogger, publisher: undefined, batchSize: 100, pollIntervalMs: 20, ...options });
}

function deliverer(options: Partial<ConstructorParameters<typeof EventDeliverer>[0]> = {}): EventDeliverer {
  return new EventDeliverer({
    db: bed.t.db, cipher: testCipher, egress: testEgress, logger: silentLogger, timeoutMs: 2_000, retryBaseMs: 1, retryMaxMs: 5, giveUpMs: 60_000, pollIntervalMs: 20, ...options,
  });
}

async function subscribe(org: TestOrg, eventTypes: string[], script: number[] = []): Promise<{ id: string; secret: string; subscriber: Subscriber }> {
  const subscriber = await startSubscriber(script);
  subscribers.push(subscriber);
  const response = await bed.app.inject({ method: 'POST', url: '/v1/event-subscriptions', headers: bearer(org.apiKey), payload: { url: subscriber.url, event_types: eventTypes } });
  expect(response.statusCode).toBe(201);
  const body = response.json<{ id: string; secret: string }>();
  expect(body.secret).toMatch(/^whsec_/);
  return { id: body.id, secret: body.secret, subscriber };
}

/** Runs the deliverer until `done` holds. */
async function deliverUntil(d: EventDeliverer, done: () => Promise<boolean> | boolean, what: string): Promise<void> {
  await waitFor(async () => {
    await d.runOnce();
    return done();
  }, what, 10_000);
}

async function deliveryStates(subscriptionId: string): Promise<string[]> {
  const rows = await bed.t.db.selectFrom('event_deliveries').select('state').where('subscription_id', '=', subscriptionId).orderBy('event_seq').execute();
  return rows.map((row) => row.state);
}

describe('EventRelay without NATS', () => {
  it('marks every event published, with stream positions in publish order, and NOTIFYs the organization', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    await deliverInbound(bed.app, bed.t.db, number);
    const listener = new pg.Client({ connectionString: bed.t.url });
    await listener.connect();
    const notified: string[] = [];
    listener.on('notification', (message) => notified.push(message.payload ?? ''));
    await listener.query(`LISTEN ${EVENTS_NOTIFY_CHANNEL}`);
    try {
      await relay().drain();
      await waitFor(() => notified.includes(org.orgId), 'NOTIFY wahub_events');
    } finally {
      await listener.end();
    }
    const events = await eventsOf(bed.t.db, org.orgId);
    expect(events.length).toBe(4);
    expect(events.every((e) => e.published_at !== null && e.stream_position !== null)).toBe(true);
    const positions = events.map((e) => BigInt(e.stream_position!));
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);

    const stream = await readEventStream(bed.t.db, org.orgId, '0');
    expect(stream.map((e) => e.id)).toEqual(events.map((e) => e.id));
    const resumed = await readEventStream(bed.t.db, org.orgId, stream[1]!.position);
    expect(resumed.map((e) => e.id)).toEqual(events.slice(2).map((e) => e.id));
  });

  it('publishes the events of one aggregate in order, each once, with four relays at once', async () => {
    const org = await createTestOrg(bed.t.db);
    const aggregates = Array.from({ length: 6 }, () => crypto.randomUUID());
    const events: NewEvent[] = [];
    for (let i = 0; i < 40; i++) {
      for (const aggregateId of aggregates) {
        events.push({ orgId: org.orgId, aggregateType: 'message', aggregateId, type: 'message.status_changed', payload: { n: i }, correlationId: null });
      }
    }
    await withTransaction(bed.t.db, (tx) => insertEvents(tx, events));
    const published: OutboxEvent[] = [];
    const publisher: EventPublisher = {
      publish: async (event) => {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
        published.push(event);
        return { duplicate: false };
      },
      close: async () => undefined,
    };
    const relays = Array.from({ length: 4 }, () => relay({ publisher, batchSize: 7 }));
    await Promise.all(relays.map((r) => r.drain()));
    // A relay stops when its round finds nothing it may take; finish what others left (none normally).
    await relay({ publisher }).drain();

    const mine = published.filter((e) => e.org_id === org.orgId);
    expect(mine.length).toBe(events.length);
    expect(new Set(mine.map((e) => e.id)).size).toBe(events.length);
    for (const aggregateId of aggregates) {
      const order = mine.filter((e) => e.aggregate_id === aggregateId).map((e) => (e.payload as { n: number }).n);
      expect(order).toEqual(Array.from({ length: 40 }, (_, i) => i));
    }
    const rows = await eventsOf(bed.t.db, org.orgId);
    for (const aggregateId of aggregates) {
      const positions = rows.filter((e) => e.aggregate_id === aggregateId).map((e) => BigInt(e.stream_position!));
      expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
    }
  });

  it('never lets a reader resuming from its last stream position miss an event, while four relays publish concurrently', async () => {
    const org = await createTestOrg(bed.t.db);
    const total = 300;
    const events: NewEvent[] = Array.from({ length: total }, (_, n) => ({
      orgId: org.orgId, aggregateType: 'contact' as const, aggregateId: crypto.randomUUID(), type: 'contact.created' as const, payload: { n }, correlationId: null,
    }));
    await withTransaction(bed.t.db, (tx) => insertEvents(tx, events));
    // A slow publisher keeps relay transactions open and overlapping, so commits interleave.
    const publisher: EventPublisher = {
      publish: async () => {
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 2));
        return { duplicate: false };
      },
      close: async () => undefined,
    };
    const seen: string[] = [];
    let last = '0';
    let publishing = true;
    const reader = (async () => {
      while (publishing || seen.length < total) {
        const batch = await readEventStream(bed.t.db, org.orgId, last, 50);
        for (const event of batch) seen.push(event.id);
        if (batch.length > 0) last = batch.at(-1)!.position;
        else if (!publishing) break;
      }
    })();
    await Promise.all(Array.from({ length: 4 }, () => relay({ publisher, batchSize: 10 }).drain()));
    await relay({ publisher }).drain();
    publishing = false;
    await reader;
    expect(seen.length).toBe(total);
    expect(new Set(seen).size).toBe(total);
  });

  it('publishes nothing of an aggregate whose publish failed, and resumes in order on the next round', async () => {
    const org = await createTestOrg(bed.t.db);
    const aggregateId = crypto.randomUUID();
    await withTransaction(bed.t.db, (tx) => insertEvents(tx, [0, 1, 2].map((n) => ({
      orgId: org.orgId, aggregateType: 'message' as const, aggregateId, type: 'message.status_changed' as const, payload: { n }, correlationId: null,
    }))));
    const seen: number[] = [];
    let failOn: number | undefined = 1;
    const publisher: EventPublisher = {
      publish: async (event) => {
        const n = (event.payload as { n: number }).n;
        if (n === failOn) {
          failOn = undefined;
          throw new Error('broker unavailable');
        }
        seen.push(n);
        return { duplicate: false };
      },
      close: async () => undefined,
    };
    await relay({ publisher }).runOnce();
    expect((await eventsOf(bed.t.db, org.orgId)).map((e) => e.published_at !== null)).toEqual([true, false, false]);
    await relay({ publisher }).drain();
    expect(seen).toEqual([0, 1, 2]);
  });
});

describe('HTTP event subscriptions', () => {
  it('retries a subscriber that answers 500, then delivers a validly signed event when it answers 200', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const { id, secret, subscriber } = await subscribe(org, ['message.received'], [500]);
    const inbound = await deliverInbound(bed.app, bed.t.db, number);
    await relay().drain();
    await deliverUntil(deliverer(), async () => (await deliveryStates(id)).every((s) => s === 'delivered'), 'delivery');

    expect(subscriber.received.map((r) => r.status)).toEqual([500, 200]);
    const last = subscriber.received[1]!;
    expect(verifyEventSignature(secret, last.body, last.headers['x-wahub-signature'] as string)).toBe(true);
    expect(verifyEventSignature('whsec_wrong', last.body, last.headers['x-wahub-signature'] as string)).toBe(false);
    const body = JSON.parse(last.body) as { type: string; data: Record<string, unknown>; delivery: { attempt: number; timestamp: number } };
    expect(body.type).toBe('message.received');
    expect(body.data).toMatchObject({ message_id: inbound.messageId, thread_id: inbound.threadId });
    expect(body.delivery.attempt).toBe(2);
    expect(String(body.delivery.timestamp)).toBe(last.headers['x-wahub-timestamp']);
    expect(last.headers['x-wahub-event-type']).toBe('message.received');

    const listed = await bed.app.inject({ method: 'GET', url: `/v1/event-subscriptions/${id}/deliveries`, headers: bearer(org.apiKey) });
    expect(listed.json()).toMatchObject({ data: [{ state: 'delivered', attempts: 2, last_status: 200, event_type: 'message.received' }], next_cursor: null });
  });

  it('delivers one aggregate\'s events to a subscriber in order while the first is being retried', async () => {
    const org = await createTestOrg(bed.t.db);
    const { id, subscriber } = await subscribe(org, ['*'], [500, 503]);
    const aggregateId = crypto.randomUUID();
    await withTransaction(bed.t.db, (tx) => insertEvents(tx, [0, 1, 2].map((n) => ({
      orgId: org.orgId, aggregateType: 'contact' as const, aggregateId, type: 'contact.blocked' as const, payload: { n }, correlationId: null,
    }))));
    await relay().drain();
    await deliverUntil(deliverer(), async () => (await deliveryStates(id)).every((s) => s === 'delivered'), 'deliveries');
    const order = subscriber.received.map((r) => [(JSON.parse(r.body) as { data: { n: number } }).data.n, r.status]);
    expect(order).toEqual([[0, 500], [0, 503], [0, 200], [1, 200], [2, 200]]);
  });

  it('dead-letters a delivery still failing after its retry window, lists it, and re-drives it on request', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const { id, subscriber } = await subscribe(org, ['conversation.started'], [500]);
    await deliverInbound(bed.app, bed.t.db, number);
    await relay().drain();
    await deliverer({ giveUpMs: 0 }).runOnce();
    expect(await deliveryStates(id)).toEqual(['dead']);

    const dead = await bed.app.inject({ method: 'GET', url: `/v1/event-subscriptions/${id}/deliveries?state=dead`, headers: bearer(org.apiKey) });
    const [letter] = dead.json<{ data: Array<{ id: string; last_status: number; last_error: string; completed_at: string }> }>().data;
    expect(letter).toMatchObject({ last_status: 500, last_error: 'HTTP 500' });
    const retry = await bed.app.inject({ method: 'POST', url: `/v1/event-subscriptions/${id}/deliveries/${letter!.id}/retry`, headers: bearer(org.apiKey) });
    expect(retry.statusCode).toBe(202);
    await deliverUntil(deliverer(), async () => (await deliveryStates(id))[0] === 'delivered', 're-driven delivery');
    expect(subscriber.received.map((r) => r.status)).toEqual([500, 200]);
    const again = await bed.app.inject({ method: 'POST', url: `/v1/event-subscriptions/${id}/deliveries/${letter!.id}/retry`, headers: bearer(org.apiKey) });
    expect(again.json()).toMatchObject({ error: { code: 'not_found' } });
  });

  it('lists each subscription with its delivery health: waiting, retrying, dead and the newest error', async () => {
    const org = await createTestOrg(bed.t.db);
    const failing = await subscribe(org, ['contact.blocked'], [500]);
    const healthy = await subscribe(org, ['contact.blocked']);
    const doomed = await subscribe(org, ['contact.unblocked'], [503]);
    const emit = (type: 'contact.blocked' | 'contact.unblocked') => withTransaction(bed.t.db, (tx) => insertEvents(tx, [0, 1].map(() => ({
      orgId: org.orgId, aggregateType: 'contact' as const, aggregateId: crypto.randomUUID(), type, payload: {}, correlationId: null,
    }))));
    const health = async () => {
      const list = await bed.app.inject({ method: 'GET', url: '/v1/event-subscriptions', headers: bearer(org.apiKey) });
      expect(list.statusCode).toBe(200);
      const data = list.json<{ data: Array<{ id: string; deliveries: Record<string, unknown> }> }>().data;
      return Object.fromEntries(data.map((s) => [s.id, s.deliveries]));
    };
    const none = { waiting: 0, retrying: 0, dead: 0, last_error: null, oldest_pending_at: null };

    await emit('contact.blocked');
    await relay().drain();
    expect((await health())[failing.id]).toMatchObject({ waiting: 2, retrying: 0, dead: 0, oldest_pending_at: expect.any(String) });

    // The first attempt to `failing` answers 500 (retried in 10 s), every other one 200.
    await deliverer({ retryBaseMs: 10_000, retryMaxMs: 10_000 }).runOnce();
    let now = await health();
    expect(now[failing.id]).toMatchObject({ waiting: 0, retrying: 1, dead: 0, last_error: 'HTTP 500' });
    expect(now[healthy.id]).toEqual(none);

    await emit('contact.unblocked');
    await relay().drain();
    await deliverer({ giveUpMs: 0 }).runOnce();
    now = await health();
    expect(now[doomed.id]).toMatchObject({ waiting: 0, retrying: 0, dead: 1, last_error: 'HTTP 503', oldest_pending_at: null });
  });

  it('manages subscriptions: validation, listing without secrets, isolation between organizations, deletion', async () => {
    const org = await createTestOrg(bed.t.db);
    const other = await createTestOrg(bed.t.db);
    const bad = await bed.app.inject({ method: 'POST', url: '/v1/event-subscriptions', headers: bearer(org.apiKey), payload: { url: 'ftp://x', event_types: ['nope'] } });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toMatchObject({ error: { code: 'validation_failed' } });
    const { id } = await subscribe(org, ['message.received', 'message.failed']);
    const list = await bed.app.inject({ method: 'GET', url: '/v1/event-subscriptions', headers: bearer(org.apiKey) });
    expect(list.json()).toMatchObject({ data: [{ id, event_types: ['message.failed', 'message.received'] }] });
    expect(list.body).not.toContain('whsec_');
    const foreign = await bed.app.inject({ method: 'GET', url: `/v1/event-subscriptions/${id}`, headers: bearer(other.apiKey) });
    expect(foreign.statusCode).toBe(404);
    expect((await bed.app.inject({ method: 'DELETE', url: `/v1/event-subscriptions/${id}`, headers: bearer(org.apiKey) })).statusCode).toBe(204);
    expect((await bed.app.inject({ method: 'GET', url: `/v1/event-subscriptions/${id}`, headers: bearer(org.apiKey) })).statusCode).toBe(404);
    const stored = await sql<{ n: string }>`SELECT count(*) AS n FROM event_subscriptions WHERE secret_ciphertext LIKE 'whsec_%'`.execute(bed.t.db);
    expect(stored.rows[0]!.n).toBe('0');
  });
});

describe('event retention', () => {
  it('deletes published events older than the retention, keeping unpublished ones and those a delivery waits for', async () => {
    const org = await createTestOrg(bed.t.db);
    const { id } = await subscribe(org, ['contact.blocked'], [500]);
    await withTransaction(bed.t.db, (tx) => insertEvents(tx, ['contact.created', 'contact.blocked', 'contact.unblocked'].map((type) => ({
      orgId: org.orgId, aggregateType: 'contact' as const, aggregateId: crypto.randomUUID(), type: type as NewEvent['type'], payload: {}, correlationId: null,
    }))));
    await relay().drain();
    // The next attempt is due in ~10 s, well inside the 60 s window of this deliverer: it stays pending.
    await deliverer({ retryBaseMs: 10_000, retryMaxMs: 10_000 }).runOnce();
    expect(await deliveryStates(id)).toEqual(['pending']);
    await withTransaction(bed.t.db, (tx) => insertEvents(tx, [{
      orgId: org.orgId, aggregateType: 'contact', aggregateId: crypto.randomUUID(), type: 'contact.created', payload: {}, correlationId: null,
    }]));
    await sql`UPDATE outbox_events SET published_at = now() - interval '8 days', created_at = now() - interval '8 days'
              WHERE org_id = ${org.orgId} AND published_at IS NOT NULL`.execute(bed.t.db);
    await purgePublishedEvents(bed.t.db, 7);
    const left = await eventsOf(bed.t.db, org.orgId);
    expect(left.map((e) => [e.event_type, e.published_at === null])).toEqual([['contact.blocked', false], ['contact.created', true]]);
  });
});
