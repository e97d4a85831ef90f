/**
 * Helpers of the end-user tests: an app whose logs are captured (to prove no code or hash is
 * logged), a customer with a thread, and the OTP code read back from the queued template message.
 */
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import type { Db } from '../../src/db/database.js';
import { buildApp } from '../../src/app.js';
import { deliverInbound } from '../helpers/api.js';
import { TEST_APP_SECRET, testCipher, type TestNumber } from '../helpers/factories.js';

export interface CapturingApp {
  app: FastifyInstance;
  /** Every log line written so far (level trace and up). */
  logs(): string;
}

export async function createCapturingApp(db: Db, onMessageQueued?: () => void): Promise<CapturingApp> {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = pino({ level: 'trace' }, stream);
  const app = await buildApp({ db, logger, cipher: testCipher, meta: { appSecret: TEST_APP_SECRET, verifyToken: 'v' }, onMessageQueued });
  return { app, logs: () => lines.join('') };
}

/** A customer who wrote once: its contact, client and thread. */
export async function createCustomer(app: FastifyInstance, db: Db, number: TestNumber) {
  const inbound = await deliverInbound(app, db, number);
  const thread = await db.selectFrom('threads').innerJoin('contacts', 'contacts.id', 'threads.contact_id')
    .select(['threads.id as thread_id', 'contacts.id as contact_id', 'contacts.client_id', 'contacts.e164'])
    .where('threads.id', '=', inbound.threadId).executeTakeFirstOrThrow();
  return { ...inbound, contactId: thread.contact_id, clientId: thread.client_id, e164: thread.e164 };
}

/** The code inside a queued OTP message (what the dispatcher will send). */
export async function codeOf(db: Db, messageId: string): Promise<string> {
  const row = await db.selectFrom('messages').select('content').where('id', '=', messageId).executeTakeFirstOrThrow();
  const components = (row.content as { components: Array<{ parameters: Array<{ text: string }> }> }).components;
  return components[0]!.parameters[0]!.text;
}
