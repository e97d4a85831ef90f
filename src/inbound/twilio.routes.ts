/**
 * Twilio webhook endpoint (PROTOCOL.md §7): `POST /webhooks/twilio` receives inbound WhatsApp
 * messages and status callbacks as `application/x-www-form-urlencoded` bodies. The same handler
 * also answers `/webhooks/twilio/whatsapp` and `/webhooks/twilio/status` (the URL the dispatcher
 * gives Twilio as `StatusCallback`): the path is part of what Twilio signs, nothing else.
 *
 * Order: parse the form → find the business number it concerns (`To` of a message, `From` of a
 * status; for a sender that is not connected, another number of the same `AccountSid`) → verify
 * `X-Twilio-Signature` with that account's Auth Token over the public URL (`PUBLIC_BASE_URL` +
 * path and query; else the Host header and protocol as received), with or without the port →
 * store every item in one transaction → 200 with an empty TwiML `<Response/>`.
 *
 * Answers: 200 stored (or kept as a dead letter); 403 missing/invalid signature or no number to
 * verify it with (nothing written); 415 not form-encoded; 413 over 256 KB; 503 database unavailable.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Db } from '../db/database.js';
import { findTwilioWebhookToken } from '../numbers/credentials.service.js';
import { metrics } from '../ops/metrics.js';
import { TWILIO_SIGNATURE_HEADER, verifyTwilioSignature } from '../providers/twilio/signature.js';
import { param, parseTwilioForm, parseTwilioWebhook, twilioBusinessAddress } from '../providers/twilio/webhook.parser.js';
import { AppError } from '../shared/errors.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import type { InboundBatcher } from './ingest-batcher.js';
import { twilioWebhookSchema } from './webhooks.schema.js';
import { recordIngest } from './ingest.metrics.js';

/** Paths Twilio may be configured to call; the path is covered by the signature. */
export const TWILIO_WEBHOOK_PATHS = ['/webhooks/twilio', '/webhooks/twilio/whatsapp', '/webhooks/twilio/status'] as const;

/** A WhatsApp message's parameters are a few KB; 256 KB leaves room for new ones. */
export const TWILIO_WEBHOOK_BODY_LIMIT = 256 * 1024;

/** The reply Twilio expects from a messaging webhook: TwiML that does nothing. */
export const EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>';

const RESULT_BY_STATUS: Record<number, string> = {
  200: 'stored', 403: 'invalid_signature', 413: 'too_large', 415: 'unsupported_media_type', 503: 'database_unavailable',
};

export interface TwilioRoutesOptions {
  db: Db;
  /** Stores parsed webhooks (group commit); resolves after commit. */
  ingest: InboundBatcher;
  /** Decrypts the Auth Tokens stored on Twilio numbers. */
  cipher: TokenCipher;
  /**
   * `PUBLIC_BASE_URL`: scheme, host and optional path prefix under which Twilio reaches this
   * server (behind a proxy or tunnel). Undefined: the request's own protocol and Host header.
   */
  publicBaseUrl?: string;
}

/** The URL Twilio requested, as Twilio saw it: what the signature covers. */
export function publicRequestUrl(request: FastifyRequest, publicBaseUrl: string | undefined): string {
  if (publicBaseUrl) return `${publicBaseUrl.replace(/\/+$/, '')}${request.url}`;
  return `${request.protocol}://${request.host}${request.url}`;
}

export async function twilioRoutes(app: FastifyInstance, options: TwilioRoutesOptions): Promise<void> {
  // The form is parsed here, not by a generic parser, so the signature is checked over every
  // parameter exactly as received (Twilio adds parameters without notice [TW-REQ]).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: TWILIO_WEBHOOK_BODY_LIMIT }, (_request, body, done) => done(null, body));

  app.addHook('onResponse', async (request, reply) => {
    if (request.method === 'POST') metrics.webhookRequests.inc({ provider: 'twilio', result: RESULT_BY_STATUS[reply.statusCode] ?? 'error' });
  });

  const handler = async (request: FastifyRequest) => {
    const params = parseTwilioForm(typeof request.body === 'string' ? request.body : '');
    // PostgreSQL text refuses NUL (`%00`, a 500 on every retry): as U+FFFD, which no number's address or
    // account holds, such an address matches nothing and the AccountSid fallback still applies.
    const lookupKey = (value: string | undefined) => value?.replaceAll('\u0000', '\uFFFD');
    const address = lookupKey(twilioBusinessAddress(params));
    const number = address ? await findTwilioWebhookToken(options.db, options.cipher, { phoneNumberId: address, accountSid: lookupKey(param(params, 'AccountSid')) ?? null }) : undefined;
    const authToken = number?.authToken;
    const url = publicRequestUrl(request, options.publicBaseUrl);
    if (!authToken || !verifyTwilioSignature(authToken, request.headers[TWILIO_SIGNATURE_HEADER], url, params)) {
      request.log.warn({ url, address: address ?? null, known_number: Boolean(number) }, 'twilio webhook refused: missing or invalid signature');
      throw new AppError('forbidden', 'missing or invalid X-Twilio-Signature');
    }
    // A sender that is not connected (verified with its account's token) is dead-lettered by the service.
    const summary = await options.ingest.submit(parseTwilioWebhook(params, new Date()), request.id);
    recordIngest(summary);
    request.log.info({ webhook: summary }, 'twilio webhook stored');
    return EMPTY_TWIML;
  };

  for (const path of TWILIO_WEBHOOK_PATHS) {
    app.post(path, { schema: twilioWebhookSchema }, async (request, reply) => reply.status(200).type('text/xml').send(await handler(request)));
  }
}
