/**
 * The relay against the real NATS JetStream server of the machine (127.0.0.1:4222, or
 * NATS_TEST_URL). Each run uses a stream and subject prefix of its own and deletes it afterwards.
 * When no server answers, the suite is reported as skipped with the reason in its name.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect, type JetStreamManager, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../src/db/database.js';
import type { NewEvent } from '../../src/events/event-types.js';
import { insertEvents } from '../../src/events/events.repository.js';
import { NatsEventPublisher } from '../../src/events/nats.publisher.js';
import { EventRelay } from '../../src/events/relay.js';
import { deliverInbound } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestApp, createTestNumber, createTestOrg, silentLogger } from '../helpers/factories.js';
import { eventsOf, NATS_TEST_URL, natsReachable, uniqueNatsNames } from './helpers.js';

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'relay-child.ts');
const reachable = await natsReachable();
if (!reachable) console.warn(`[test] NATS is not reachable at ${NATS_TEST_URL}: the JetStream relay tests are SKIPPED`);

interface StoredMessage {
  subject: string;
  msgId: string;
  data: { id: string; type: string; org_id: string; aggregate_id: string; data: Record<string, unknown> };
}

describe.skipIf(!reachable)(`EventRelay to NATS JetStream (${NATS_TEST_URL})`, () => {
  const names = uniqueNatsNames();
  let t: TestDatabase;
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let publisher: NatsEventPublisher;

  beforeAll(async () => {
    t = await createTestDatabase(5);
    publisher = await NatsEventPublisher.connect({ url: NATS_TEST_URL, stream: names.stream, subjectPrefix: names.prefix, logger: silentLogger });
    nc = await connect({ servers: NATS_TEST_URL });
    jsm = await nc.jetstreamManager();
  });
  afterAll(async () => {
    await jsm?.streams.delete(names.stream).catch(() => undefined);
    await nc?.close();
    await publisher?.close();
    await t?.drop();
  });

  /** Every message of the test stream, in stream order. */
  async function streamMessages(): Promise<StoredMessage[]> {
    const info = await jsm.streams.info(names.stream);
    const messages: StoredMessage[] = [];
    for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
      const message = await jsm.streams.getMessage(names.stream, { seq });
      messages.push({ subject: message.subject, msgId: message.header.get('Nats-Msg-Id'), data: message.json() });
    }
    return messages;
  }

  it('publishes each event to <prefix>.<org_id>.<event_type> with Nats-Msg-Id = event id, then marks it published', async () => {
    const app = await createTestApp(t.db);
    const org = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, org.orgId);
    const inbound = await deliverInbound(app, t.db, number);
    await app.close();
    await new EventRelay({ db: t.db, logger: silentLogger, publisher, batchSize: 50, pollIntervalMs: 20 }).drain();

    const events = await eventsOf(t.db, org.orgId);
    expect(events.every((e) => e.published_at !== null)).toBe(true);
    const stored = (await streamMessages()).filter((m) => m.data.org_id === org.orgId);
    expect(stored.map((m) => m.subject)).toEqual(events.map((e) => `${names.prefix}.${org.orgId}.${e.event_type}`));
    expect(stored.map((m) => m.msgId)).toEqual(events.map((e) => e.id));
    const received = stored.find((m) => m.data.type === 'message.received')!;
    expect(received.data.data).toMatchObject({ message_id: inbound.messageId, thread_id: inbound.threadId });
  });

  it('gets every event into JetStream exactly once, in order per aggregate, after a relay is SIGKILLed mid-batch', async () => {
    const org = await createTestOrg(t.db);
    const aggregates = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
    const events: NewEvent[] = [];
    for (let n = 0; n < 10; n++) {
      for (const aggregateId of aggregates) {
        events.push({ orgId: org.orgId, aggregateType: 'message', aggregateId, type: 'message.status_changed', payload: { n }, correlationId: null });
      }
    }
    await withTransaction(t.db, (tx) => insertEvents(tx, events));
    const before = (await streamMessages()).length;

    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      env: {
        ...process.env, DATABASE_URL: t.url, NATS_URL: NATS_TEST_URL, NATS_STREAM: names.stream, NATS_SUBJECT_PREFIX: names.prefix,
        KILL_AFTER: '12', EVENT_RELAY_BATCH_SIZE: '30',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    expect(exit.signal, output).toBe('SIGKILL');

    // The killed relay's transaction rolled back: nothing is marked, but part of the batch reached the stream.
    expect((await eventsOf(t.db, org.orgId)).filter((e) => e.published_at !== null)).toEqual([]);
    const afterKill = (await streamMessages()).length - before;
    expect(afterKill).toBeGreaterThanOrEqual(12);
    expect(afterKill).toBeLessThan(30);

    await new EventRelay({ db: t.db, logger: silentLogger, publisher, batchSize: 30, pollIntervalMs: 20 }).drain();
    const rows = await eventsOf(t.db, org.orgId);
    expect(rows.every((e) => e.published_at !== null)).toBe(true);
    const stored = (await streamMessages()).filter((m) => m.data.org_id === org.orgId);
    expect(stored.length).toBe(30);
    expect(new Set(stored.map((m) => m.msgId))).toEqual(new Set(rows.map((e) => e.id)));
    for (const aggregateId of aggregates) {
      const order = stored.filter((m) => m.data.aggregate_id === aggregateId).map((m) => m.data.data.n);
      expect(order).toEqual(Array.from({ length: 10 }, (_, n) => n));
    }
  });
});
