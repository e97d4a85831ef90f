/**
 * Webhooks the Meta simulator sends: payload builders in Meta's exact shape (PROTOCOL.md §2), wamids,
 * and signed delivery with Meta-like retries (§1.2, §1.3).
 */
import { createHash, randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { signMetaPayload } from '../../providers/meta/signature.js';
import type { SimulatorLogger, Timers, WebhookRetry } from '../shared/background.js';

/** A business number the simulator knows (registered with `PUT /_simulator/numbers/:id`). */
export interface SimulatedNumber {
  phoneNumberId: string;
  wabaId: string;
  /** Digits only, no `+` (as in `metadata.display_phone_number`). */
  displayPhoneNumber: string;
  /** When set, sends must carry exactly this bearer token. */
  accessToken?: string;
}

/** Unix seconds as a string, as in `messages[].timestamp` and `statuses[].timestamp` [M-STATUS]. */
export function unixSecondsNow(): string {
  return String(Math.floor(Date.now() / 1000));
}

/**
 * An opaque wamid mimicking Meta's: base64 of an envelope holding the wa_id, a direction byte
 * (0x12 inbound, 0x11 outbound) and a random hex id (PROTOCOL.md §8).
 */
export function generateWamid(waId: string, direction: 'inbound' | 'outbound'): string {
  const wa = Buffer.from(waId.replace(/\D/g, ''), 'ascii');
  const hex = Buffer.from(randomBytes(10).toString('hex').toUpperCase(), 'ascii');
  const envelope = Buffer.concat([
    Buffer.from([0x1c, 0x18, wa.length]), wa,
    Buffer.from([0x15, 0x02, 0x00, direction === 'inbound' ? 0x12 : 0x11, 0x18, hex.length]), hex,
    Buffer.from([0x00]),
  ]);
  return `wamid.${envelope.toString('base64')}`;
}

/**
 * Serialises like Meta: non-ASCII escaped as lowercase `\uXXXX` [G-WH], so receivers that
 * re-serialise before hashing fail signature checks here as they would in production.
 */
export function encodeMetaJson(payload: unknown): Buffer {
  const json = JSON.stringify(payload).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return Buffer.from(json, 'ascii');
}

function envelope(number: SimulatedNumber, value: Record<string, unknown>): Record<string, unknown> {
  return {
    object: 'whatsapp_business_account',
    entry: [{
      id: number.wabaId,
      changes: [{
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: number.displayPhoneNumber, phone_number_id: number.phoneNumberId },
          ...value,
        },
        field: 'messages',
      }],
    }],
  };
}

/**
 * The simulated customer's BSUID for a wa_id: stable, so that one customer always has one BSUID
 * (Meta scopes it to the business portfolio; the simulator has one portfolio).
 */
export function bsuidForWaId(waId: string): string {
  return `US.${BigInt(`0x${createHash('sha256').update(waId).digest('hex').slice(0, 15)}`).toString()}`;
}

/**
 * A `statuses[]` item: `{id, status, timestamp, recipient_id?, recipient_user_id, pricing?, errors?}`
 * [M-STATUS]; `recipient_id` only when the customer's number is known (docs/PROTOCOL-NOTES.md).
 */
export interface StatusItem {
  id: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  timestamp: string;
  recipient_id?: string;
  recipient_user_id: string;
  pricing?: Record<string, unknown>;
  errors?: Record<string, unknown>[];
}

/** `messages` webhook carrying one status. */
export function buildStatusWebhook(number: SimulatedNumber, status: StatusItem): Record<string, unknown> {
  return envelope(number, { statuses: [status] });
}

/**
 * `messages` webhook carrying one inbound message and its sender's contact [M-TEXT], as Meta sends
 * it since April 2026: `user_id` always, `wa_id` only when the number is available, `username` when
 * the customer has one; a `system` message has no `contacts[]` (docs/PROTOCOL-NOTES.md).
 */
export function buildMessagesWebhook(
  number: SimulatedNumber,
  contact: { waId: string | null; userId: string; username: string | null; profileName: string },
  message: Record<string, unknown>,
): Record<string, unknown> {
  const profile = { name: contact.profileName, ...(contact.username ? { username: contact.username } : {}) };
  return envelope(number, {
    ...(message.type === 'system' ? {} : { contacts: [{ profile, ...(contact.waId ? { wa_id: contact.waId } : {}), user_id: contact.userId }] }),
    messages: [message],
  });
}

/** POSTs signed webhooks to the hub, retrying until a 200 or the attempts run out. */
export class WebhookDeliverer {
  private readonly agent = new Agent({ headersTimeout: 10_000, bodyTimeout: 10_000 });
  private readonly attempts: number;
  private readonly baseDelayMs: number;

  constructor(
    private readonly options: { url: string; appSecret: string; timers: Timers; logger: SimulatorLogger; retry?: WebhookRetry },
  ) {
    this.attempts = Math.max(1, options.retry?.attempts ?? 5);
    this.baseDelayMs = options.retry?.baseDelayMs ?? 100;
  }

  /**
   * Delivers one payload, signing the exact bytes sent with `X-Hub-Signature-256`.
   * @returns the last HTTP status received (200 on success), or null if the hub never answered
   *   or the simulator was closed while waiting to retry
   */
  async deliver(payload: unknown): Promise<number | null> {
    const body = encodeMetaJson(payload);
    const headers = {
      'content-type': 'application/json',
      'x-hub-signature-256': signMetaPayload(this.options.appSecret, body),
      'user-agent': 'facebookexternalua',
    };
    let lastStatus: number | null = null;
    for (let attempt = 0; attempt < this.attempts; attempt++) {
      if (attempt > 0 && !(await this.options.timers.sleep(this.baseDelayMs * 2 ** (attempt - 1)))) return lastStatus;
      try {
        const res = await request(this.options.url, { method: 'POST', headers, body, dispatcher: this.agent });
        await res.body.dump();
        lastStatus = res.statusCode;
        if (res.statusCode === 200) return 200;
        this.options.logger.warn({ status: res.statusCode, attempt }, 'simulator: webhook refused, will retry');
      } catch (err) {
        this.options.logger.warn({ err, attempt }, 'simulator: webhook unreachable, will retry');
      }
    }
    return lastStatus;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }
}
