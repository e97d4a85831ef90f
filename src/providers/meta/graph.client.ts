/**
 * HTTP client of Meta's Graph API (Cloud API send endpoint) over undici, with a timeout on every
 * call and Meta's error body mapped to a classified error. Only the outbox dispatcher calls
 * `sendMessage` (SPEC §4: no other code path sends).
 *
 * Protocol: `POST {base}/{version}/{phone_number_id}/messages`, `Authorization: Bearer <token>`;
 * success `{messaging_product, contacts[{input, wa_id}], messages[{id}]}` or `{success:true}` for
 * mark-as-read; errors `{error:{message, type, code, error_data{details}, error_subcode?, fbtrace_id}}`
 * (PROTOCOL.md §3.2–3.3, Meta "Send messages" and "Error codes").
 */
import { Agent, request } from 'undici';
import { classifyMetaError, metaBackoff, type MetaErrorClass } from './errors.js';
import { parseJsonOrNull } from '../../shared/json-or-null.js';
import { transportFailure } from '../transport-failure.js';
import type { SendBackoff } from '../types.js';

export interface GraphApiError {
  class: MetaErrorClass;
  /** Meta error code, or null when there was no Meta error body (network error, plain 5xx). */
  code: number | null;
  /** Short, human-readable reason (Meta's message without the "(#code)" prefix, or the network error). */
  title: string;
  details: string | null;
  /** HTTP status, or null when no response arrived. */
  httpStatus: number | null;
  /** Meta's `error_subcode` (deprecated but still sent, e.g. 36007 expired code), when present. */
  subcode?: number | null;
  /** The backoff the code asks for (130429, 131056), see ProviderSendError. */
  backoff?: SendBackoff;
}

export type SendResult = { ok: true; wamid: string | null } | { ok: false; error: GraphApiError };

/** Result of a management call: the parsed JSON body, or a classified error. */
export type CallResult<T> = { ok: true; data: T } | { ok: false; error: GraphApiError };

export interface CallOptions {
  /** Bearer token (business token, or `app_id|app_secret` as app token). */
  token?: string;
  query?: Record<string, string>;
  body?: unknown;
}

export interface GraphApiClientOptions {
  baseUrl: string;
  /** Path segment such as `v24.0`. */
  version: string;
  /** Per-call timeout, ms. */
  timeoutMs: number;
  /** Keep-alive connections per origin. Default 64. */
  connections?: number;
}

function errorFromBody(status: number, body: unknown): GraphApiError {
  const error = (body as { error?: Record<string, unknown> } | null)?.error;
  const code = typeof error?.code === 'number' ? error.code : null;
  const message = typeof error?.message === 'string' ? error.message.replace(/^\(#\d+\)\s*/, '') : `HTTP ${status}`;
  const errorData = error?.error_data as { details?: unknown } | undefined;
  return {
    class: classifyMetaError(code, status),
    backoff: metaBackoff(code),
    code,
    title: message,
    details: typeof errorData?.details === 'string' ? errorData.details : null,
    httpStatus: status,
    subcode: typeof error?.error_subcode === 'number' ? error.error_subcode : null,
  };
}

export class GraphApiClient {
  private readonly agent: Agent;

  constructor(private readonly options: GraphApiClientOptions) {
    this.agent = new Agent({
      connections: options.connections ?? 64,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      connectTimeout: Math.min(options.timeoutMs, 5_000),
    });
  }

  /** The Graph API base URL this client calls (Meta's, or the simulator's). */
  get baseUrl(): string {
    return this.options.baseUrl;
  }

  /** The per-call timeout, ms. */
  get timeoutMs(): number {
    return this.options.timeoutMs;
  }

  /**
   * Sends one message (or mark-as-read) body as built by buildMetaSendRequest.
   * @returns the wamid (null for mark-as-read), or a classified error; never throws for HTTP or network failures
   */
  async sendMessage(phoneNumberId: string, accessToken: string, body: Record<string, unknown>): Promise<SendResult> {
    const url = `${this.options.baseUrl.replace(/\/$/, '')}/${this.options.version}/${encodeURIComponent(phoneNumberId)}/messages`;
    try {
      const response = await request(url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: { authorization: `Bearer ${accessToken}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      const text = await response.body.text();
      const json = parseJsonOrNull(text);
      if (response.statusCode >= 200 && response.statusCode < 300) {
        const messages = (json as { messages?: Array<{ id?: unknown }> } | null)?.messages;
        const wamid = typeof messages?.[0]?.id === 'string' ? messages[0].id : null;
        if (wamid || (json as { success?: unknown } | null)?.success === true) return { ok: true, wamid };
        // Meta accepted something: retrying could send it twice, so this is final.
        return { ok: false, error: { class: 'permanent', code: null, title: 'unexpected success body without a message id', details: text.slice(0, 500), httpStatus: response.statusCode } };
      }
      return { ok: false, error: errorFromBody(response.statusCode, json) };
    } catch (error) {
      return { ok: false, error: transportFailure(error) };
    }
  }

  /**
   * One Graph API management call (Embedded Signup, number management; not message sends).
   * @param path relative to the version, e.g. `/{waba_id}/phone_numbers`
   * @returns the JSON body on 2xx, else Meta's error classified; never throws for HTTP or network failures
   */
  async call<T>(method: 'GET' | 'POST' | 'DELETE', path: string, options: CallOptions = {}): Promise<CallResult<T>> {
    const url = new URL(`${this.options.baseUrl.replace(/\/$/, '')}/${this.options.version}${path}`);
    for (const [key, value] of Object.entries(options.query ?? {})) url.searchParams.set(key, value);
    try {
      const response = await request(url, {
        method,
        dispatcher: this.agent,
        headers: {
          ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: options.body === undefined ? undefined : JSON.stringify(options.body),
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      const text = await response.body.text();
      const json = parseJsonOrNull(text);
      if (response.statusCode >= 200 && response.statusCode < 300) return { ok: true, data: json as T };
      return { ok: false, error: errorFromBody(response.statusCode, json) };
    } catch (error) {
      return { ok: false, error: transportFailure(error) };
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
