/**
 * A relay process for the crash test: runs one relay round against DATABASE_URL and NATS, and
 * SIGKILLs itself after KILL_AFTER broker acknowledgements — mid-batch, before anything commits.
 */
import pino from 'pino';
import { createDb } from '../../src/db/database.js';
import { NatsEventPublisher } from '../../src/events/nats.publisher.js';
import { EventRelay } from '../../src/events/relay.js';

const env = process.env;
const logger = pino({ level: 'warn' });
const db = createDb(env.DATABASE_URL!, 2);
const publisher = await NatsEventPublisher.connect({ url: env.NATS_URL!, stream: env.NATS_STREAM!, subjectPrefix: env.NATS_SUBJECT_PREFIX!, logger });
const killAfter = Number(env.KILL_AFTER);
let acknowledged = 0;
const relay = new EventRelay({
  db, logger, publisher, batchSize: Number(env.EVENT_RELAY_BATCH_SIZE), pollIntervalMs: 50,
  afterPublish: () => {
    acknowledged++;
    if (acknowledged >= killAfter) process.kill(process.pid, 'SIGKILL');
  },
});
await relay.runOnce();
process.stdout.write('round completed without being killed\n');
process.exit(0);
