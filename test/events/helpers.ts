/**
 * Helpers of the domain-event tests: a real HTTP subscriber (records raw bodies and headers, answers
 * with scripted statuses), the outbox's rows, and the NATS server of the machine (127.0.0.1:4222).
 */
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import type { Db } from '../../src/db/database.js';

export const NATS_TEST_URL = process.env.NATS_TEST_URL ?? 'nats://127.0.0.1:4222';

/** True when a NATS server answers at NATS_TEST_URL (tests that need it report when it does not). */
export async function natsReachable(): Promise<boolean> {
  const url = new URL(NATS_TEST_URL);
  return new Promise((resolve) => {
    const socket = tcpConnect({ host: url.hostname, port: Number(url.port || 4222) });
    socket.setTimeout(1_000);
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('INFO'));
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** A stream name and subject prefix of their own, so parallel test files never share a stream. */
export function uniqueNatsNames(): { stream: string; prefix: string } {
  const suffix = randomBytes(5).toString('hex');
  return { stream: `WAHUB_TEST_${suffix}`, prefix: `wahubtest${suffix}` };
}

export interface ReceivedRequest {
  headers: IncomingHttpHeaders;
  body: string;
  status: number;
}

export interface Subscriber {
  url: string;
  received: ReceivedRequest[];
  /** Statuses to answer with, in order; once used up, 200. */
  script: number[];
  close(): Promise<void>;
}

/** A real HTTP server playing an organization's webhook endpoint. */
export async function startSubscriber(script: number[] = []): Promise<Subscriber> {
  const received: ReceivedRequest[] = [];
  const subscriber: Partial<Subscriber> = { received, script };
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const status = subscriber.script!.shift() ?? 200;
      received.push({ headers: request.headers, body: Buffer.concat(chunks).toString('utf8'), status });
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : 'nope');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('no address');
  subscriber.url = `http://127.0.0.1:${address.port}/hooks/wahub`;
  subscriber.close = () => new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return subscriber as Subscriber;
}

/** Every event of an organization, in insertion order. */
export async function eventsOf(db: Db, orgId: string) {
  return db.selectFrom('outbox_events').selectAll().where('org_id', '=', orgId).orderBy('seq').execute();
}
