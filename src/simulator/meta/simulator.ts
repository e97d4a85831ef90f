/**
 * A WhatsApp Cloud API simulator: stands in for graph.facebook.com over real HTTP in tests and
 * sandbox mode. It accepts sends like Meta (PROTOCOL.md §3), then POSTs signed status webhooks
 * (§2.3) to the hub; control endpoints under `/_simulator` register numbers, inject failures and
 * inbound messages, and list what was sent.
 */
import { silentLogger, SimulatorBackground, type SimulatorDelays, type SimulatorLogger, type WebhookRetry } from '../shared/background.js';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import { metaMessageRequestSchema, metaReadRequestSchema } from '../../providers/meta/send.schema.js';
import { createSignupSimulator, type SignupCodeInput } from './signup.js';
import { createTemplateSimulator, type TemplateSimulator } from './templates.js';
import { mediaRoutes } from './media.js';
import { buildMetaError, buildStatusError, invalidAccessToken, invalidParameter, unknownObject, type MetaErrorResponse } from './errors.js';
import { bsuidForWaId, buildMessagesWebhook, buildStatusWebhook, generateWamid, unixSecondsNow, WebhookDeliverer, type SimulatedNumber, type StatusItem } from './webhooks.js';
import { failureInput, type FailureInput, inboundInput, type InboundInput, numberInput, type NumberInput } from './inputs.js';

export type { FailureInput, InboundInput, NumberInput };

/** Status webhook delays, in ms after the send was accepted. Defaults: sent 100, delivered 200, read 300. */
export type { SimulatorDelays };

export interface SimulatorOptions {
  /** The hub's Meta webhook URL, e.g. `http://127.0.0.1:3000/webhooks/meta`. */
  webhookUrl: string;
  /** App secret used to sign `X-Hub-Signature-256`. */
  appSecret: string;
  delays?: SimulatorDelays;
  /** Meta app id expected by the Embedded Signup endpoints. Default `sandbox-app`. */
  appId?: string;
  /** Post status webhooks after sends. Default true; benchmarks of the send path turn them off. */
  statusWebhooks?: boolean;
  /** Webhook retry policy. Default 5 attempts, 100 ms doubling. */
  webhookRetry?: WebhookRetry;
  logger?: SimulatorLogger;
  /** Delay before a template created through the API is approved, ms (null: stays PENDING). Default 200. */
  templateApproveAfterMs?: number | null;
}

/** One accepted `POST /{version}/{phone_number_id}/messages`; `at` is epoch ms. */
export interface SimulatedSend {
  phone_number_id: string;
  /** As sent (`+` included); null for mark-as-read and for a send by `recipient`. */
  to: string | null;
  /** The BSUID a send addressed with `recipient` instead of `to`, else null. */
  recipient: string | null;
  /** Meta `type`, or `mark_as_read` for a read receipt. */
  type: string;
  body: Record<string, unknown>;
  /** null for mark-as-read. */
  wamid: string | null;
  at: number;
}

export interface Simulator {
  /** Mount with `app.register(sim.plugin, { prefix: '/simulator' })`; uses the default JSON parser. */
  plugin: FastifyPluginAsync;
  registerNumber(phoneNumberId: string, input: NumberInput): void;
  injectFailure(input: FailureInput): void;
  /** Posts a signed `messages` webhook; `status` is the hub's last HTTP status (null if unreachable). */
  injectInbound(input: InboundInput): Promise<{ wamid: string; status: number | null }>;
  sends(): SimulatedSend[];
  clearSends(): void;
  /** Issues an Embedded Signup code for a WABA and its numbers (`POST /_simulator/signup/codes`). */
  issueSignupCode(input: SignupCodeInput): { code: string };
  /** Template management per WABA (list, create, delete; templates.ts). */
  templates: TemplateSimulator;
  /** WABAs whose app subscription (`subscribed_apps`) was requested. */
  subscribedWabas(): string[];
  /** Forgets numbers, failures and sends, and cancels pending status webhooks. */
  reset(): void;
  /** Resolves once every scheduled webhook has been delivered (or given up). */
  whenIdle(): Promise<void>;
  /** Cancels pending timers, waits for in-flight webhook POSTs, releases connections. */
  close(): Promise<void>;
}

/** Thrown by control methods on bad input; routes turn it into `{ error }` with `statusCode`. */
export class SimulatorInputError extends Error {
  constructor(message: string, readonly statusCode = 400) {
    super(message);
  }
}

type Failure = z.output<typeof failureInput>;
type Reply = { statusCode: number; body: unknown };

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => (i.path.length ? `${i.path.map(String).join('.')}: ` : '') + i.message).join('; ');
}
function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const result = schema.safeParse(input);
  if (!result.success) throw new SimulatorInputError(describeIssues(result.error));
  return result.data;
}
const digits = (phone: string) => phone.replace(/\D/g, '');
const metaReply = (e: MetaErrorResponse): Reply => ({ statusCode: e.statusCode, body: e.body });

/**
 * Creates a simulator. Routes (relative to the mount prefix):
 * `POST /:version/:phone_number_id/messages` (Graph send, [M-SEND]), `PUT /_simulator/numbers/:id`,
 * `POST /_simulator/failures`, `POST /_simulator/inbound`, `GET|DELETE /_simulator/sends`,
 * `POST /_simulator/reset`.
 */
export function createSimulator(options: SimulatorOptions): Simulator {
  const logger = options.logger ?? silentLogger;
  const delays = { sentMs: 100, deliveredMs: 200, readMs: 300, ...options.delays };
  const background = new SimulatorBackground();
  const deliverer = new WebhookDeliverer({ url: options.webhookUrl, appSecret: options.appSecret, timers: background.timers, logger, retry: options.webhookRetry });
  const numbers = new Map<string, SimulatedNumber>();
  const signup = createSignupSimulator({
    appId: options.appId ?? 'sandbox-app',
    appSecret: options.appSecret,
    onRegistered: (n) => numbers.set(n.phoneNumberId, { phoneNumberId: n.phoneNumberId, wabaId: n.wabaId, displayPhoneNumber: n.displayPhoneNumber, accessToken: n.accessToken }),
  });
  let failures: Failure[] = [];
  let sent: SimulatedSend[] = [];
  const templates = createTemplateSimulator({ deliverer, background, approveAfterMs: options.templateApproveAfterMs });

  function takeFailure(phoneNumberId: string, to: string | null): Failure | undefined {
    const index = failures.findIndex((f) =>
      (f.phone_number_id === undefined || f.phone_number_id === phoneNumberId) &&
      (f.to === undefined || (to !== null && digits(f.to) === digits(to))) &&
      (f.mode === 'sync' || to !== null)); // a read receipt has no status webhook to fail
    const failure = failures[index];
    if (!failure) return undefined;
    if (--failure.count === 0) failures.splice(index, 1);
    return failure;
  }

  /** Posts the status webhooks of one message strictly in order, each acknowledged before the next. */
  function runLifecycle(number: SimulatedNumber, send: SimulatedSend, failure: Failure | undefined): void {
    if (options.statusWebhooks === false) return;
    const recipient = send.to !== null ? { recipient_id: digits(send.to), recipient_user_id: bsuidForWaId(digits(send.to)) } : { recipient_user_id: send.recipient! };
    const isTemplate = send.type === 'template';
    // PMP pricing appears on sent and one of delivered/read [M-STATUS].
    const pricing = { billable: isTemplate, pricing_model: 'PMP', type: isTemplate ? 'regular' : 'free_customer_service', category: isTemplate ? 'utility' : 'service' };
    type Step = { delayMs: number; status: StatusItem['status']; extra: Partial<StatusItem> };
    const steps: Step[] = failure
      ? [{ delayMs: delays.sentMs, status: 'failed', extra: { errors: [buildStatusError(failure.code ?? 131000)] } }]
      : [
          { delayMs: delays.sentMs, status: 'sent', extra: { pricing } },
          { delayMs: delays.deliveredMs, status: 'delivered', extra: { pricing } },
          { delayMs: delays.readMs, status: 'read', extra: {} },
        ].slice(0, send.type === 'reaction' ? 1 : 3) as Step[]; // reactions only get `sent` [M-REACT]
    background.runSteps(send.at, steps, async (step) => {
      const status = { id: send.wamid!, status: step.status, timestamp: unixSecondsNow(), ...recipient, ...step.extra };
      const answer = await deliverer.deliver(buildStatusWebhook(number, status));
      if (answer !== 200) logger.warn({ wamid: send.wamid, status: step.status, answer }, 'simulator: status webhook not acknowledged');
    });
  }

  function authorise(number: SimulatedNumber | undefined, phoneNumberId: string, authorization: string | undefined): Reply | null {
    const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
    if (!token) return metaReply(invalidAccessToken());
    if (!number) return metaReply(unknownObject(phoneNumberId));
    if (number.accessToken !== undefined && number.accessToken !== token) return metaReply(invalidAccessToken());
    return null;
  }

  function failSync(failure: Failure): Reply {
    if (failure.code === undefined) return { statusCode: failure.http_status!, body: 'Service Unavailable' };
    return metaReply(buildMetaError(failure.code, { httpStatus: failure.http_status }));
  }

  /** `POST /{version}/{phone_number_id}/messages` [M-SEND][M-READ]. */
  function handleSend(version: string, phoneNumberId: string, authorization: string | undefined, body: unknown): Reply {
    const number = numbers.get(phoneNumberId);
    const denied = authorise(number, phoneNumberId, authorization);
    if (denied || !number) return denied!;
    if (!/^v\d+\.\d+$/.test(version)) return metaReply(invalidParameter(`unknown API version '${version}'`));
    const isRead = typeof body === 'object' && body !== null && 'status' in body;
    const parsed = (isRead ? metaReadRequestSchema : metaMessageRequestSchema).safeParse(body);
    if (!parsed.success) return metaReply(invalidParameter(describeIssues(parsed.error)));
    const request = parsed.data as Record<string, unknown>;
    // `to` wins when a send carries both (docs/PROTOCOL-NOTES.md).
    const to = isRead || request.to === undefined ? null : String(request.to);
    const recipient = isRead || to !== null ? null : String(request.recipient);
    const refused = request.type === 'template' ? templates.refuseSend(number.wabaId, request.template) : null;
    if (refused) return metaReply(refused);
    const failure = takeFailure(phoneNumberId, to ?? recipient);
    if (failure?.mode === 'sync') return failSync(failure);
    const send: SimulatedSend = {
      phone_number_id: phoneNumberId, to, recipient, type: isRead ? 'mark_as_read' : String(request.type), body: request,
      wamid: isRead ? null : generateWamid(to ?? recipient!, 'outbound'), at: Date.now(),
    };
    sent.push(send);
    if (isRead) return { statusCode: 200, body: { success: true } };
    runLifecycle(number, send, failure);
    return {
      statusCode: 200,
      body: {
        messaging_product: 'whatsapp',
        contacts: [to !== null ? { input: to, wa_id: digits(to) } : { input: recipient }],
        messages: [{ id: send.wamid, ...(send.type === 'template' ? { message_status: 'accepted' } : {}) }],
      },
    };
  }

  const simulator: Simulator = {
    registerNumber(phoneNumberId, input) {
      const n = parseInput(numberInput, input);
      numbers.set(phoneNumberId, { phoneNumberId, wabaId: n.waba_id, displayPhoneNumber: n.display_phone_number, accessToken: n.access_token });
    },
    injectFailure(input) {
      failures.push(parseInput(failureInput, input));
    },
    async injectInbound(input) {
      const i = parseInput(inboundInput, input);
      const number = numbers.get(i.phone_number_id);
      if (!number) throw new SimulatorInputError(`unknown phone_number_id '${i.phone_number_id}'`, 404);
      const userId = i.user_id ?? bsuidForWaId(i.from!);
      const message = {
        // `from_user_id` replaces `from` when the number is withheld (docs/PROTOCOL-NOTES.md).
        ...(i.from ? { from: i.from } : { from_user_id: userId }), id: generateWamid(i.from ?? userId, 'inbound'), timestamp: unixSecondsNow(),
        ...(i.text === undefined ? {} : { type: 'text', text: { body: i.text } }),
        ...i.message,
      };
      const contact = { waId: i.from ?? null, userId, username: i.username ?? null, profileName: i.profile_name ?? 'Simulated Customer' };
      const status = await background.track(deliverer.deliver(buildMessagesWebhook(number, contact, message)));
      return { wamid: String(message.id), status };
    },
    sends: () => [...sent],
    templates,
    issueSignupCode: (input) => signup.issueCode(input),
    subscribedWabas: () => signup.subscribedWabas(),
    clearSends() {
      sent = [];
    },
    reset() {
      background.interrupt();
      numbers.clear();
      signup.reset();
      templates.reset();
      failures = [];
      sent = [];
    },
    whenIdle: () => background.whenIdle(),
    async close() {
      if (await background.close()) await deliverer.close();
    },
    plugin: async (app) => {
      signup.routes(app);
      templates.routes(app);
      app.setErrorHandler((err: { statusCode?: number; message: string }, _req, reply: FastifyReply) => {
        // Body parser errors (bad JSON, empty body) look like Graph's invalid-parameter error.
        const status = err.statusCode ?? 500;
        if (status >= 500) return reply.code(500).send(buildMetaError(131000).body);
        return reply.code(status === 415 ? 400 : status).send(invalidParameter(err.message).body);
      });
      const control = async <T>(reply: FastifyReply, run: () => T | Promise<T>) => {
        try {
          return reply.send(await run());
        } catch (err) {
          if (err instanceof SimulatorInputError) return reply.code(err.statusCode).send({ error: err.message });
          throw err;
        }
      };
      app.post<{ Params: { version: string; phone_number_id: string } }>('/:version/:phone_number_id/messages', async (req, reply) => {
        const answer = handleSend(req.params.version, req.params.phone_number_id, req.headers.authorization, req.body);
        if (typeof answer.body === 'string') reply.type('text/plain');
        return reply.code(answer.statusCode).send(answer.body);
      });
      mediaRoutes(app);
      app.put<{ Params: { phone_number_id: string } }>('/_simulator/numbers/:phone_number_id', (req, reply) =>
        control(reply, () => (simulator.registerNumber(req.params.phone_number_id, req.body as NumberInput), { ok: true })));
      app.post('/_simulator/failures', (req, reply) => control(reply, () => (simulator.injectFailure(req.body as FailureInput), { ok: true })));
      app.post('/_simulator/inbound', (req, reply) => control(reply, () => simulator.injectInbound(req.body as InboundInput)));
      app.get('/_simulator/sends', async () => ({ sends: simulator.sends() }));
      app.delete('/_simulator/sends', async () => (simulator.clearSends(), { ok: true }));
      app.post('/_simulator/reset', async () => (simulator.reset(), { ok: true }));
    },
  };
  return simulator;
}
