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
import { randomBytes } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { Agent, request } from 'undici';
import { z } from 'zod';
import { TWILIO_ERROR_CODES } from '../providers/twilio/errors.js';
import { CONTENT_SID_PATTERN } from '../providers/twilio/send.request.js';
import { computeTwilioSignature } from '../providers/twilio/signature.js';
import { parseTwilioForm, param } from '../providers/twilio/webhook.parser.js';
import type { SimulatorDelays } from './simulator.js';
import { silentLogger, Timers, type SimulatorLogger, type WebhookRetry } from './simulator.webhooks.js';

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

const ADDRESS = /^whatsapp:\+[1-9][0-9]{6,14}$/;
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

/** One accepted Messages API call. `at` is epoch ms. */
export interface TwilioSimulatedSend {
  account_sid: string;
  sid: string;
  /** `whatsapp:+E164` as sent. */
  from: string;
  to: string;
  /** Every form parameter received (`MediaUrl` repeated as an array). */
  params: Record<string, string | string[]>;
  at: number;
}

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
type Reply = { statusCode: number; body: unknown };

function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) {
    throw new TwilioSimulatorInputError(result.error.issues.map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ` : '') + i.message).join('; '));
  }
  return result.data;
}

/** A Twilio REST error body [Twilio "Twilio's response"]. */
export function twilioError(code: number, message?: string, httpStatus?: number): Reply {
  const status = httpStatus ?? TWILIO_ERROR_CODES[code]?.httpStatus ?? 400;
  return { statusCode: status, body: { code, message: message ?? TWILIO_ERROR_CODES[code]?.title ?? 'Error', more_info: `https://www.twilio.com/docs/errors/${code}`, status } };
}

function sid(prefix: 'SM' | 'MM'): string {
  return `${prefix}${randomBytes(16).toString('hex')}`;
}

export function createTwilioSimulator(options: TwilioSimulatorOptions): TwilioSimulator {
  const logger = options.logger ?? silentLogger;
  const delays = { sentMs: 100, deliveredMs: 200, readMs: 300, ...options.delays };
  const attempts = Math.max(1, options.webhookRetry?.attempts ?? 5);
  const baseDelayMs = options.webhookRetry?.baseDelayMs ?? 100;
  const timers = new Timers();
  const agent = new Agent({ headersTimeout: 10_000, bodyTimeout: 10_000 });
  /** `whatsapp:+E164` → account. */
  const senders = new Map<string, { accountSid: string; authToken: string }>();
  let failures: Failure[] = [];
  let sent: TwilioSimulatedSend[] = [];
  const tasks = new Set<Promise<unknown>>();
  let epoch = 0;
  let closed = false;

  function track<T>(task: Promise<T>): Promise<T> {
    tasks.add(task);
    void task.finally(() => tasks.delete(task)).catch(() => {});
    return task;
  }

  /** POSTs a form signed with the account's token over `url`, retrying until a 200. */
  async function postSigned(url: string, params: Array<[string, string]>, authToken: string): Promise<number | null> {
    const body = new URLSearchParams(params).toString();
    const signature = computeTwilioSignature(authToken, url, Object.fromEntries(params));
    const headers = { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature, 'user-agent': 'TwilioProxy/1.1' };
    let lastStatus: number | null = null;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0 && !(await timers.sleep(baseDelayMs * 2 ** (attempt - 1)))) return lastStatus;
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

  /** Status callback parameters in the order Twilio sends them (PROTOCOL.md §8.2). */
  function callbackParams(send: TwilioSimulatedSend, status: string, errorCode?: number): Array<[string, string]> {
    return [
      ...(errorCode === undefined ? [] : [['ErrorCode', String(errorCode)] as [string, string]]),
      ['SmsSid', send.sid], ['SmsStatus', status], ['MessageStatus', status], ['ChannelToAddress', send.to.replace(/^whatsapp:/, '')],
      ['To', send.to], ['ChannelPrefix', 'whatsapp'], ['MessageSid', send.sid], ['AccountSid', send.account_sid], ['StructuredMessage', 'false'],
      ['From', send.from], ['ApiVersion', '2010-04-01'], ['ChannelInstallSid', `XE${randomBytes(16).toString('hex')}`],
    ];
  }

  function runLifecycle(send: TwilioSimulatedSend, callbackUrl: string, authToken: string, failure: Failure | undefined): void {
    if (options.statusCallbacks === false) return;
    const steps: Array<{ delayMs: number; status: string; errorCode?: number }> = failure
      ? [{ delayMs: delays.sentMs, status: failure.status, errorCode: failure.code }]
      : [{ delayMs: delays.sentMs, status: 'sent' }, { delayMs: delays.deliveredMs, status: 'delivered' }, { delayMs: delays.readMs, status: 'read' }];
    const started = epoch;
    void track((async () => {
      for (const step of steps) {
        if (!(await timers.sleep(send.at + step.delayMs - Date.now())) || epoch !== started) return;
        const answer = await postSigned(callbackUrl, callbackParams(send, step.status, step.errorCode), authToken);
        if (answer !== 200) logger.warn({ sid: send.sid, status: step.status, answer }, 'twilio simulator: status callback not acknowledged');
        if (epoch !== started) return;
      }
    })());
  }

  function authorise(accountSid: string, authorization: string | undefined): { authToken: string } | Reply {
    const match = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
    const [user, password] = match ? Buffer.from(match[1]!, 'base64').toString('utf8').split(':', 2) : [];
    const account = [...senders.values()].find((s) => s.accountSid === accountSid);
    if (!account || user !== accountSid || password !== account.authToken) return twilioError(20003, 'Authenticate', 401);
    return { authToken: account.authToken };
  }

  /** Validates a Messages API form like Twilio; returns the error reply, or null when acceptable. */
  function validate(accountSid: string, params: Record<string, string | string[]>): Reply | null {
    const from = param(params, 'From') ?? '';
    const to = param(params, 'To') ?? '';
    if (!ADDRESS.test(to)) return twilioError(21211, `Invalid 'To' Phone Number: ${to.slice(0, 40)}`);
    if (senders.get(from)?.accountSid !== accountSid) return twilioError(63007, `Twilio could not find a Channel with the specified From address: ${from.slice(0, 40)}`);
    const contentSid = param(params, 'ContentSid');
    if (contentSid !== undefined && !CONTENT_SID_PATTERN.test(contentSid)) return twilioError(21655);
    const variables = param(params, 'ContentVariables');
    if (variables !== undefined) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(variables);
      } catch {
        parsed = null;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed) || !Object.values(parsed).every((v) => typeof v === 'string')) return twilioError(21656);
    }
    if (!param(params, 'Body') && !param(params, 'MediaUrl') && !contentSid) return twilioError(21619);
    const callback = param(params, 'StatusCallback');
    if (callback !== undefined && !/^https?:\/\//.test(callback)) return twilioError(21609, 'Invalid StatusCallback URL');
    return null;
  }

  function handleCreate(accountSid: string, authorization: string | undefined, body: string): Reply {
    const auth = authorise(accountSid, authorization);
    if ('statusCode' in auth) return auth;
    const params = parseTwilioForm(body);
    const invalid = validate(accountSid, params);
    if (invalid) return invalid;
    const from = param(params, 'From')!;
    const to = param(params, 'To')!;
    const failure = takeFailure(from, to);
    if (failure?.mode === 'sync') {
      if (failure.code === undefined) return { statusCode: failure.http_status!, body: 'Service Unavailable' };
      return twilioError(failure.code, undefined, failure.http_status);
    }
    const media = params.MediaUrl;
    const send: TwilioSimulatedSend = { account_sid: accountSid, sid: sid(media ? 'MM' : 'SM'), from, to, params, at: Date.now() };
    sent.push(send);
    const callback = param(params, 'StatusCallback');
    if (callback) runLifecycle(send, callback, auth.authToken, failure);
    const now = new Date().toUTCString();
    return {
      statusCode: 201,
      body: {
        sid: send.sid, account_sid: accountSid, from, to, body: param(params, 'Body') ?? '', status: 'queued', direction: 'outbound-api',
        api_version: '2010-04-01', num_segments: '1', num_media: String(Array.isArray(media) ? media.length : media ? 1 : 0), price: null, price_unit: null,
        error_code: null, error_message: null, messaging_service_sid: null, date_created: now, date_updated: now, date_sent: null,
        uri: `/2010-04-01/Accounts/${accountSid}/Messages/${send.sid}.json`, subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${send.sid}/Media.json` },
      },
    };
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
      const messageSid = sid(i.params?.MediaUrl0 ? 'MM' : 'SM');
      // Parameter order as Twilio sends it (PROTOCOL.md §8.2, fixtures/twilio/inbound_text.txt).
      const base: Record<string, string> = {
        SmsMessageSid: messageSid, NumMedia: '0', ProfileName: i.profile_name ?? 'Simulated Customer', MessageType: 'text', SmsSid: messageSid,
        WaId: i.from, SmsStatus: 'received', Body: i.text ?? '', To: to, NumSegments: '1', ReferralNumMedia: '0', MessageSid: messageSid,
        AccountSid: account.accountSid, From: `whatsapp:+${i.from}`, ApiVersion: '2010-04-01',
      };
      const params = Object.entries({ ...base, ...i.params });
      const status = await track(postSigned(options.inboundWebhookUrl, params, account.authToken));
      return { sid: params.find(([k]) => k === 'MessageSid')![1], status };
    },
    sends: () => [...sent],
    clearSends() {
      sent = [];
    },
    reset() {
      epoch++;
      timers.cancelAll();
      senders.clear();
      failures = [];
      sent = [];
    },
    async whenIdle() {
      while (tasks.size > 0) await Promise.allSettled([...tasks]);
    },
    async close() {
      if (closed) return;
      closed = true;
      epoch++;
      timers.cancelAll();
      await simulator.whenIdle();
      await agent.close();
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
