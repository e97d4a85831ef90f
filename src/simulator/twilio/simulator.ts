/**
 * Twilio mode of the simulator: stands in for api.twilio.com's Messages API over real HTTP, so
 * Twilio numbers run end to end in tests and sandbox mode like Meta's do.
 *
 * - `POST /2010-04-01/Accounts/{AccountSid}/Messages.json` (HTTP Basic: account SID + Auth Token,
 *   form body `From`, `To`, `Body` | `MediaUrl` | `ContentSid` + `ContentVariables`,
 *   `StatusCallback`) answers 201 with a message resource (`sid: SM…`, `status: queued`) or a
 *   Twilio error `{code, message, more_info, status}`;
 * - then POSTs status callbacks to `StatusCallback`, form-encoded and signed with
 *   `X-Twilio-Signature` (sent → delivered → read in order, each acknowledged before the next; no
 *   callback for the initial `queued` [TW-STATUS]), or `failed`/`undelivered` with `ErrorCode` when
 *   a failure was injected;
 * - control endpoints under `/_simulator` register senders, inject failures and inbound messages
 *   (signed form posts to the hub's Twilio webhook), and list what was sent.
 * Callbacks are retried on non-200 (5 tries, 100 ms doubling), like a Twilio webhook with a retry
 * connection override (`#rc=5` [TW-CONN]).
 */
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Agent, request } from 'undici';
import { z } from 'zod';
import { computeTwilioSignature } from '../../providers/twilio/signature.js';
import { parseTwilioForm, param } from '../../providers/twilio/webhook.parser.js';
import {
  callbackParams, inboundMessageParams, messageResource, messageSid, twilioError, validateMessageForm, type Reply, type TwilioSimulatedSend,
} from './protocol.js';
import { silentLogger, SimulatorBackground, type SimulatorDelays, type SimulatorLogger, type WebhookRetry } from '../shared/background.js';

export interface TwilioSimulatorOptions {
  /** The hub's Twilio webhook URL for inbound messages, e.g. `http://127.0.0.1:3000/webhooks/twilio`. */
  inboundWebhookUrl: string;
  /** Status callback delays after the message was accepted. Defaults: sent 100, delivered 200, read 300 ms. */
  delays?: SimulatorDelays;
  /** Post status callbacks. Default true. */
  statusCallbacks?: boolean;
  webhookRetry?: WebhookRetry;
  logger?: SimulatorLogger;
}

export type { TwilioSimulatedSend } from './protocol.js';

const e164 = z.string().regex(/^\+[1-9][0-9]{6,14}$/, 'must be E.164 (+ and digits)');

const senderInput = z.strictObject({
  account_sid: z.string().regex(/^AC[0-9a-f]{32}$/, 'account_sid must be AC + 32 hex'),
  auth_token: z.string().min(1),
});
/** Body of `PUT /_simulator/senders/:phone` (phone E.164). */
export type TwilioSenderInput = z.infer<typeof senderInput>;

const failureInput = z.strictObject({
  /** Sender (E.164) the failure applies to; any when absent. */
  from: e164.optional(),
  /** Customer (E.164); any when absent. */
  to: e164.optional(),
  code: z.number().int().optional(),
  http_status: z.number().int().min(400).max(599).optional(),
  /** `sync`: the API call fails; `callback`: it is accepted, then a failure status callback follows. */
  mode: z.enum(['sync', 'callback']).default('sync'),
  /** Final status of a callback failure. */
  status: z.enum(['failed', 'undelivered']).default('undelivered'),
  count: z.number().int().min(1).default(1),
}).refine((f) => f.code !== undefined || (f.http_status !== undefined && f.mode === 'sync'), 'code is required (http_status alone only in sync mode)');
/** Body of `POST /_simulator/failures`. */
export type TwilioFailureInput = z.input<typeof failureInput>;

const inboundInput = z.strictObject({
  /** The business sender, E.164. */
  to: e164,
  /** The customer's wa_id (digits). */
  from: z.string().regex(/^[1-9]\d{6,14}$/, 'from must be the customer wa_id (digits)'),
  profile_name: z.string().optional(),
  text: z.string().optional(),
  /** Extra or overriding Twilio parameters (media, location, buttons, …). */
  params: z.record(z.string(), z.string()).optional(),
});
/** Body of `POST /_simulator/inbound`. */
export type TwilioInboundInput = z.infer<typeof inboundInput>;

export interface TwilioSimulator {
  /** Mount with `app.register(sim.plugin, { prefix: '/simulator/twilio' })`; that prefix is then the Twilio API base URL. */
  plugin: FastifyPluginAsync;
  registerSender(phone: string, input: TwilioSenderInput): void;
  injectFailure(input: TwilioFailureInput): void;
  /** Posts a signed inbound message; `status` is the hub's last HTTP status (null if unreachable). */
  injectInbound(input: TwilioInboundInput): Promise<{ sid: string; status: number | null }>;
  sends(): TwilioSimulatedSend[];
  clearSends(): void;
  reset(): void;
  whenIdle(): Promise<void>;
  close(): Promise<void>;
}

/** Thrown by control methods on bad input. */
export class TwilioSimulatorInputError extends Error {
  constructor(message: string, readonly statusCode = 400) {
    super(message);
  }
}

type Failure = z.output<typeof failureInput>;

function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new TwilioSimulatorInputError(result.error.issues.map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ` : '') + i.message).join('; '));
  }
  return result.data;
}

export function createTwilioSimulator(options: TwilioSimulatorOptions): TwilioSimulator {
  const logger = options.logger ?? silentLogger;
  const delays = { sentMs: 100, deliveredMs: 200, readMs: 300, ...options.delays };
  const attempts = Math.max(1, options.webhookRetry?.attempts ?? 5);
  const baseDelayMs = options.webhookRetry?.baseDelayMs ?? 100;
  const background = new SimulatorBackground();
  const agent = new Agent({ headersTimeout: 10_000, bodyTimeout: 10_000 });
  /** `whatsapp:+E164` → account. */
  const senders = new Map<string, { accountSid: string; authToken: string }>();
  let failures: Failure[] = [];
  let sent: TwilioSimulatedSend[] = [];

  /** POSTs a form signed with the account's token over `url`, retrying until a 200. */
  async function postSigned(url: string, params: Array<[string, string]>, authToken: string): Promise<number | null> {
    const body = new URLSearchParams(params).toString();
    const signature = computeTwilioSignature(authToken, url, Object.fromEntries(params));
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature, 'user-agent': 'TwilioProxy/1.1' };
    let lastStatus: number | null = null;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0 && !(await background.timers.sleep(baseDelayMs * 2 ** (attempt - 1)))) return lastStatus;
      try {
        const response = await request(url, { method: 'POST', headers, body, dispatcher: agent });
        await response.body.dump();
        lastStatus = response.statusCode;
        if (response.statusCode === 200) return 200;
        logger.warn({ status: response.statusCode, attempt }, 'twilio simulator: webhook refused, will retry');
      } catch (err) {
        logger.warn({ err, attempt }, 'twilio simulator: webhook unreachable, will retry');
      }
    }
    return lastStatus;
  }

  function takeFailure(from: string, to: string): Failure | undefined {
    const index = failures.findIndex((f) => (f.from === undefined || `whatsapp:${f.from}` === from) && (f.to === undefined || `whatsapp:${f.to}` === to));
    const failure = failures[index];
    if (!failure) return undefined;
    if (--failure.count === 0) failures.splice(index, 1);
    return failure;
  }

  function runLifecycle(send: TwilioSimulatedSend, callbackUrl: string, authToken: string, failure: Failure | undefined): void {
    if (options.statusCallbacks === false) return;
    const steps: Array<{ delayMs: number; status: string; errorCode?: number }> = failure
      ? [{ delayMs: delays.sentMs, status: failure.status, errorCode: failure.code }]
      : [{ delayMs: delays.sentMs, status: 'sent' }, { delayMs: delays.deliveredMs, status: 'delivered' }, { delayMs: delays.readMs, status: 'read' }];
    background.runSteps(send.at, steps, async (step) => {
      const answer = await postSigned(callbackUrl, callbackParams(send, step.status, step.errorCode), authToken);
      if (answer !== 200) logger.warn({ sid: send.sid, status: step.status, answer }, 'twilio simulator: status callback not acknowledged');
    });
  }

  function authorise(accountSid: string, authorization: string | undefined): { authToken: string } | Reply {
    const match = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
    const [user, password] = match ? Buffer.from(match[1]!, 'base64').toString('utf8').split(':', 2) : [];
    const account = [...senders.values()].find((s) => s.accountSid === accountSid);
    if (!account || user !== accountSid || password !== account.authToken) return twilioError(20003, 'Authenticate', 401);
    return { authToken: account.authToken };
  }

  function handleCreate(accountSid: string, authorization: string | undefined, body: string): Reply {
    const auth = authorise(accountSid, authorization);
    if ('statusCode' in auth) return auth;
    const params = parseTwilioForm(body);
    const invalid = validateMessageForm(accountSid, params, (from) => senders.get(from)?.accountSid);
    if (invalid) return invalid;
    const from = param(params, 'From')!;
    const to = param(params, 'To')!;
    const failure = takeFailure(from, to);
    if (failure?.mode === 'sync') {
      if (failure.code === undefined) return { statusCode: failure.http_status!, body: 'Service Unavailable' };
      return twilioError(failure.code, undefined, failure.http_status);
    }
    const media = params.MediaUrl;
    const send: TwilioSimulatedSend = { account_sid: accountSid, sid: messageSid(media ? 'MM' : 'SM'), from, to, params, at: Date.now() };
    sent.push(send);
    const callback = param(params, 'StatusCallback');
    if (callback) runLifecycle(send, callback, auth.authToken, failure);
    return { statusCode: 201, body: messageResource(send) };
  }

  const simulator: TwilioSimulator = {
    registerSender(phone, input) {
      const number = parseInput(e164, phone);
      const account = parseInput(senderInput, input);
      senders.set(`whatsapp:${number}`, { accountSid: account.account_sid, authToken: account.auth_token });
    },
    injectFailure(input) {
      failures.push(parseInput(failureInput, input));
    },
    async injectInbound(input) {
      const i = parseInput(inboundInput, input);
      const to = `whatsapp:${i.to}`;
      const account = senders.get(to);
      if (!account) throw new TwilioSimulatorInputError(`unknown sender '${i.to}'`, 404);
      const params = inboundMessageParams({
        sid: messageSid(i.params?.MediaUrl0 ? 'MM' : 'SM'), to, from: i.from, accountSid: account.accountSid,
        profileName: i.profile_name ?? 'Simulated Customer', text: i.text ?? '', extra: i.params,
      });
      const status = await background.track(postSigned(options.inboundWebhookUrl, params, account.authToken));
      return { sid: params.find(([k]) => k === 'MessageSid')![1], status };
    },
    sends: () => [...sent],
    clearSends() {
      sent = [];
    },
    reset() {
      background.interrupt();
      senders.clear();
      failures = [];
      sent = [];
    },
    whenIdle: () => background.whenIdle(),
    async close() {
      if (await background.close()) await agent.close();
    },
    plugin: async (app) => {
      app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (_request, body, done) => done(null, body));
      app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply: FastifyReply) => {
        const status = err.statusCode ?? 500;
        if (status >= 500) return reply.code(500).send(twilioError(20500, 'Internal Server Error', 500).body);
        return reply.code(status).send({ code: 20001, message: err.message, more_info: 'https://www.twilio.com/docs/errors/20001', status });
      });
      const control = async <T>(reply: FastifyReply, run: () => T | Promise<T>) => {
        try {
          return reply.send(await run());
        } catch (err) {
          if (err instanceof TwilioSimulatorInputError) return reply.code(err.statusCode).send({ error: err.message });
          throw err;
        }
      };
      app.post<{ Params: { account_sid: string } }>('/2010-04-01/Accounts/:account_sid/Messages.json', async (req, reply) => {
        const answer = handleCreate(req.params.account_sid, req.headers.authorization, typeof req.body === 'string' ? req.body : '');
        if (typeof answer.body === 'string') reply.type('text/plain');
        return reply.code(answer.statusCode).send(answer.body);
      });
      app.put<{ Params: { phone: string } }>('/_simulator/senders/:phone', (req, reply) =>
        control(reply, () => (simulator.registerSender(req.params.phone, req.body as TwilioSenderInput), { ok: true })));
      app.post('/_simulator/failures', (req, reply) => control(reply, () => (simulator.injectFailure(req.body as TwilioFailureInput), { ok: true })));
      app.post('/_simulator/inbound', (req, reply) => control(reply, () => simulator.injectInbound(req.body as TwilioInboundInput)));
      app.get('/_simulator/sends', async () => ({ sends: simulator.sends() }));
      app.delete('/_simulator/sends', async () => (simulator.clearSends(), { ok: true }));
      app.post('/_simulator/reset', async () => (simulator.reset(), { ok: true }));
    },
  };
  return simulator;
}
