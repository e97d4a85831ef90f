/**
 * `GET /v1/stream`: the organization's domain events as Server-Sent Events (`text/event-stream`).
 * Each frame is `id: <stream_position>`, `event: <event_type>`, `data: <json>`; a client resumes
 * with `Last-Event-ID` (browsers send it on reconnect) or `?last_event_id=`. Without either it
 * starts at the newest event (only what happens from now on).
 */
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { principalOf } from '../http/auth.js';
import { describeRoute } from '../http/openapi.js';
import { AppError } from '../shared/errors.js';
import type { EventStreamHub } from './stream.hub.js';
import { streamHeadersSchema, streamPositionSchema, streamQuerySchema } from './stream.schema.js';
import { streamStartPosition } from './stream.service.js';

/** The position the client resumes after: `Last-Event-ID` (when not empty), else `?last_event_id=`. @throws AppError validation_failed */
function requestedCursor(header: unknown, query: unknown): string | undefined {
  const fromQuery = (query as { last_event_id?: unknown } | undefined)?.last_event_id;
  const value = typeof header === 'string' && header !== '' ? header : fromQuery;
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !streamPositionSchema.safeParse(value).success) {
    throw new AppError('validation_failed', 'Last-Event-ID must be a stream position (digits) from this stream');
  }
  return value;
}

/** Registers `GET /v1/stream`; open streams are ended when the server closes. */
export async function streamRoutes(app: FastifyInstance, options: { db: Db; hub: EventStreamHub }): Promise<void> {
  const open = new Set<() => void>();
  // SSE responses never finish on their own: end them before the server waits for connections.
  app.addHook('preClose', async () => {
    for (const end of open) end();
  });

  app.get('/v1/stream', {
    schema: describeRoute('GET', {
      summary: "The organization's domain events, live (Server-Sent Events)", tags: ['events'],
      description: 'Frames `id: <stream_position>`, `event: <event_type>`, `data: {"event_id","event_type","event_version","aggregate_type",'
        + '"aggregate_id","correlation_id","occurred_at","payload"}`, in commit order; a `: heartbeat` comment every 15 s. Resume with '
        + '`Last-Event-ID` (or `?last_event_id=`); without either the stream starts after the newest event. The answer never ends.',
      headers: streamHeadersSchema, querystring: streamQuerySchema,
      responses: { 200: { description: 'the event stream', contentType: 'text/event-stream', schema: { type: 'string', description: 'SSE frames (retry: 3000)' } } },
      errors: ['validation_failed'],
    }),
  }, async (request, reply) => {
    const { orgId } = principalOf(request);
    const cursor = await streamStartPosition(options.db, orgId, requestedCursor(request.headers['last-event-id'], request.query));
    reply.hijack();
    const raw = reply.raw;
    raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
      'x-request-id': request.id,
    });
    raw.write(`retry: 3000\n: stream from ${cursor}\n\n`);
    const unsubscribe = options.hub.subscribe(orgId, cursor, (chunk) => {
      if (!raw.destroyed) raw.write(chunk);
    });
    const end = () => {
      unsubscribe();
      open.delete(end);
      if (!raw.destroyed) raw.end();
    };
    open.add(end);
    raw.on('close', end);
  });
}
