/**
 * Meta webhook endpoint (PROTOCOL.md §1): `GET /webhooks/whatsapp` answers the verify handshake,
 * `POST /webhooks/whatsapp` verifies `X-Hub-Signature-256` over the raw bytes, then stores every
 * item in one transaction and answers 200 only after commit.
 *
 * Answers: 200 stored (or kept as dead letters); 401 missing/invalid signature (nothing written);
 * 400 signed but not JSON (kept as a dead letter); 413 over 3 MB; 503 database unavailable (Meta
 * retries for up to 7 days).
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { Db } from '../db/database.js';
import { META_SIGNATURE_HEADER, verifyMetaSignature } from '../providers/meta/signature.js';
import { parseMetaWebhook } from '../providers/meta/webhook.parser.js';
import { recordDeadLetter } from '../ops/dead-letters.service.js';
import { metrics } from '../ops/metrics.js';
import { AppError, toError } from '../shared/errors.js';
import { isDatabaseUnavailableError } from '../db/errors.js';
import { noteStoreFailure } from '../ops/store-failures.service.js';
import { exceedsJsonDepth, MAX_JSON_DEPTH } from '../shared/json-depth.js';
import type { InboundBatcher } from './ingest-batcher.js';
import { metaWebhookSchemas } from './webhooks.schema.js';
import { recordIngest } from './ingest.metrics.js';

const RESULT_BY_STATUS: Record<number, string> = {
  200: 'stored', 400: 'invalid_json', 401: 'invalid_signature', 413: 'too_large', 503: 'database_unavailable',
};

/** Meta payloads are at most 3 MB (PROTOCOL.md §1.2, [M-OVR]). */
export const META_WEBHOOK_BODY_LIMIT = 3 * 1024 * 1024;

export interface InboundRoutesOptions {
  db: Db;
  /** Stores parsed webhooks (group commit); resolves after commit. */
  ingest: InboundBatcher;
  appSecret: string;
  /** The verify token of the App Dashboard; undefined disables the handshake (403). */
  verifyToken: string | undefined;
  /** Failed stores of one body (not a database outage) before it is kept as `store_failed` and answered 200. Default 5. */
  storeMaxAttempts?: number;
}

/**
 * JSON.parse for webhook bodies. JSON allows `\u0000`, but PostgreSQL text and jsonb refuse NUL, so
 * one such character (in a profile name, a message, anything) made the whole webhook fail with 500
 * on every redelivery. NUL in string values becomes U+FFFD; bodies without it take the fast path.
 */
function parseWebhookJson(text: string): unknown {
  const body: unknown = text.includes('\\u0000')
    ? JSON.parse(text, (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('\u0000', '\uFFFD') : value))
    : JSON.parse(text);
  // Thousands of levels pass JSON.parse but overflow JSON.stringify and jsonb: kept as raw text instead.
  if (exceedsJsonDepth(body)) throw new SyntaxError(`signed webhook body nests deeper than ${MAX_JSON_DEPTH} levels`);
  return body;
}

function sameString(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

export async function inboundRoutes(app: FastifyInstance, options: InboundRoutesOptions): Promise<void> {
  // The signature covers the exact bytes, so bodies stay raw Buffers until verified.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: META_WEBHOOK_BODY_LIMIT }, (_request, body, done) => done(null, body));

  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'POST') metrics.webhookRequests.inc({ provider: 'meta', result: RESULT_BY_STATUS[reply.statusCode] ?? 'error' });
  });

  app.get('/webhooks/whatsapp', { schema: metaWebhookSchemas.verify }, async (request, reply) => {
    const query = request.query as Record<string, unknown>;
    const mode = query['hub.mode'];
    const token = query['hub.verify_token'];
    const challenge = query['hub.challenge'];
    if (mode !== 'subscribe' || typeof token !== 'string' || typeof challenge !== 'string' || !options.verifyToken || !sameString(token, options.verifyToken)) {
      throw new AppError('forbidden', 'webhook verification failed');
    }
    return reply.type('text/plain').send(challenge);
  });

  app.post('/webhooks/whatsapp', { schema: metaWebhookSchemas.notify }, async (request, reply) => {
    const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
    if (!verifyMetaSignature(options.appSecret, raw, request.headers[META_SIGNATURE_HEADER])) {
      throw new AppError('invalid_signature', 'missing or invalid X-Hub-Signature-256');
    }
    let body: unknown;
    const text = raw.toString('utf8');
    try {
      body = parseWebhookJson(text);
    } catch (error) {
      const detail = error instanceof SyntaxError && error.message.includes('nests deeper') ? error.message : 'signed webhook body is not JSON';
      await recordDeadLetter(options.db, {
        orgId: null, provider: 'meta', reason: 'invalid_json', detail,
        // A text column refuses NUL bytes too (see parseWebhookJson).
        wabaId: null, phoneNumberId: null, field: null, payload: null, rawBody: text.replaceAll('\u0000', '\uFFFD'), correlationId: request.id,
      });
      throw new AppError('invalid_json', 'webhook body is not valid JSON');
    }
    let summary;
    try {
      summary = await options.ingest.submit(parseMetaWebhook(body), request.id);
    } catch (thrown) {
      const error = toError(thrown);
      // An outage answers 503 (Meta retries); anything else is counted and, repeated, kept.
      if (isDatabaseUnavailableError(error)) throw error;
      const kept = await noteStoreFailure(options.db, { provider: 'meta', rawBody: text, error, correlationId: request.id, maxAttempts: options.storeMaxAttempts ?? 5 })
        .catch(() => false);
      if (!kept) throw error;
      request.log.error({ err: error }, 'meta webhook kept as dead letter store_failed after repeated failures');
      return reply.status(200).send({ ok: true });
    }
    recordIngest(summary);
    request.log.info({ webhook: summary }, 'meta webhook stored');
    return reply.status(200).send({ ok: true });
  });
}
