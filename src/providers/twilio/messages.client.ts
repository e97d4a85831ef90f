/**
 * HTTP client of Twilio's Messages API over undici: the Twilio implementation of
 * {@link MessageSender}. Only the outbox dispatcher calls it (SPEC §4).
 *
 * Protocol: `POST {base}/2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic auth with the
 * account SID and Auth Token, form-encoded body (see send.request.ts). Success: 201 with the
 * message resource `{sid: "SM…", status: "queued", …}`; errors: `{code, message, more_info,
 * status}` (twilio.com/docs/usage/twilios-response, /docs/messaging/api/message-resource).
 */
import { Agent, request } from 'undici';
import type { MessageSender, ProviderSendError, ProviderSendResult, SendRequest } from '../types.js';
import { classifyTwilioError } from './errors.js';
import { buildTwilioSendRequest } from './send.request.js';
import { parseJsonOrNull } from '../../shared/json-or-null.js';
import { transportFailure } from '../transport-failure.js';

export interface TwilioClientOptions {
  /** `https://api.twilio.com`, or the simulator. */
  baseUrl: string;
  /** Per-call timeout, ms. */
  timeoutMs: number;
  /** `StatusCallback` of every message (`{PUBLIC_BASE_URL}/webhooks/twilio/status`); undefined sends none. */
  statusCallbackUrl?: string;
  /** Keep-alive connections per origin. Default 64. */
  connections?: number;
}

function errorFromBody(status: number, body: unknown): ProviderSendError {
  const error = body as { code?: unknown; message?: unknown; more_info?: unknown } | null;
  const code = typeof error?.code === 'number' ? error.code : null;
  return {
    class: classifyTwilioError(code, status),
    code,
    title: typeof error?.message === 'string' ? error.message : `HTTP ${status}`,
    details: typeof error?.more_info === 'string' ? error.more_info : null,
    httpStatus: status,
  };
}

export class TwilioMessagesClient implements MessageSender {
  private readonly agent: Agent;

  constructor(private readonly options: TwilioClientOptions) {
    this.agent = new Agent({
      connections: options.connections ?? 64,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connectTimeout: Math.min(options.timeoutMs, 5_000),
    });
  }

  /**
   * Creates one Message resource.
   * @returns the MessageSid, or a classified error; never throws for HTTP or network failures
   */
  async sendMessage(input: SendRequest): Promise<ProviderSendResult> {
    if (!input.from.accountSid) {
      return { ok: false, error: { class: 'permanent', code: null, title: 'Twilio number without an account SID', details: null, httpStatus: null } };
    }
    if (!('e164' in input.to)) {
      // Twilio addresses WhatsApp users by phone number only (`whatsapp:+E164`).
      const title = 'Twilio cannot send to a business-scoped user ID: this customer has no known phone number';
      return { ok: false, error: { class: 'permanent', code: null, title, details: null, httpStatus: null } };
    }
    const built = buildTwilioSendRequest(input.from.e164, input.to.e164, input.message, this.options.statusCallbackUrl);
    if (!built.ok) return built;
    const url = `${this.options.baseUrl.replace(/\/$/, '')}/2010-04-01/Accounts/${encodeURIComponent(input.from.accountSid)}/Messages.json`;
    const body = new URLSearchParams(built.form).toString();
    try {
      const response = await request(url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          authorization: `Basic ${Buffer.from(`${input.from.accountSid}:${input.credential}`).toString('base64')}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body,
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      const text = await response.body.text();
      const json = parseJsonOrNull(text);
      if (response.statusCode >= 200 && response.statusCode < 300) {
        const sid = (json as { sid?: unknown } | null)?.sid;
        if (typeof sid === 'string' && sid !== '') return { ok: true, providerMessageId: sid };
        // Twilio accepted something: retrying could send it twice, so this is final.
        return { ok: false, error: { class: 'permanent', code: null, title: 'unexpected success body without a message sid', details: text.slice(0, 500), httpStatus: response.statusCode } };
      }
      return { ok: false, error: errorFromBody(response.statusCode, json) };
    } catch (error) {
      return { ok: false, error: transportFailure(error) };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
