/**
 * `wahub serve --role worker` runs the event relay and deliverer: events written by any process
 * reach JetStream (when NATS_URL is set) and the organization's subscriber, and SIGTERM stops it
 * cleanly. Uses the machine's NATS (127.0.0.1:4222); reports when it is not reachable.
 */
import { connect } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../src/db/database.js';
import { createSubscription } from '../../src/events/subscriptions.service.js';
import { insertEvents } from '../../src/events/events.repository.js';
import { verifyEventSignature } from '../../src/events/signature.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestOrg, testCipher, testEgress } from '../helpers/factories.js';
import { killWorkers, makeDataDir, pollUntil, startWorker, wahubEnv, type WorkerProcess } from '../outbound/dispatcher/helpers.js';
import { eventsOf, NATS_TEST_URL, natsReachable, startSubscriber, type Subscriber, uniqueNatsNames } from './helpers.js';

const reachable = await natsReachable();
if (!reachable) console.warn(`[test] NATS is not reachable at ${NATS_TEST_URL}: the worker-with-NATS test is SKIPPED`);

describe.skipIf(!reachable)('wahub serve --role worker (event relay and deliverer)', () => {
  const names = uniqueNatsNames();
  let t: TestDatabase;
  let dataDir: Awaited<ReturnType<typeof makeDataDir>>;
  let subscriber: Subscriber;
  const workers: WorkerProcess[] = [];

  beforeAll(async () => {
    t = await createTestDatabase(5);
    dataDir = await makeDataDir();
    subscriber = await startSubscriber();
  });
  afterAll(async () => {
    await killWorkers(workers);
    const nc = await connect({ servers: NATS_TEST_URL });
    await (await nc.jetstreamManager()).streams.delete(names.stream).catch(() => undefined);
    await nc.close();
    await subscriber?.close();
    await t?.drop();
    await dataDir?.remove();
  });

  it('publishes events to JetStream and delivers them, signed, to a subscription', async () => {
    const org = await createTestOrg(t.db);
    const subscription = await createSubscription(t.db, testCipher, testEgress, { orgId: org.orgId, url: subscriber.url, eventTypes: ['contact.created'], description: null });
    const env = wahubEnv({
      databaseUrl: t.url, dataDir: dataDir.dir, graphUrl: 'http://127.0.0.1:9',
      extra: { NATS_URL: NATS_TEST_URL, NATS_STREAM: names.stream, NATS_SUBJECT_PREFIX: names.prefix, EVENT_RELAY_POLL_INTERVAL_MS: '20' },
    });
    const worker = await startWorker(env, workers);
    const aggregateId = crypto.randomUUID();
    await withTransaction(t.db, (tx) => insertEvents(tx, [{
      orgId: org.orgId, aggregateType: 'contact', aggregateId, type: 'contact.created', payload: { contact_id: aggregateId }, correlationId: 'req-worker-1',
    }]));

    await pollUntil(async () => (await eventsOf(t.db, org.orgId)).every((e) => e.stream_position !== null), 'events published', 15_000, 50, () => worker.output());
    const nc = await connect({ servers: NATS_TEST_URL });
    const jsm = await nc.jetstreamManager();
    const info = await jsm.streams.info(names.stream);
    expect(info.state.messages).toBe(1);
    const stored = await jsm.streams.getMessage(names.stream, { seq: info.state.last_seq });
    expect(stored.subject).toBe(`${names.prefix}.${org.orgId}.contact.created`);
    expect(stored.json<{ correlation_id: string }>()).toMatchObject({ correlation_id: 'req-worker-1', aggregate_id: aggregateId });
    await nc.close();

    await pollUntil(() => subscriber.received.length > 0, 'delivery to the subscriber', 15_000, 50, () => worker.output());
    const delivery = subscriber.received[0]!;
    expect(verifyEventSignature(subscription.secret, delivery.body, delivery.headers['x-wahub-signature'] as string)).toBe(true);

    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
  });
});
