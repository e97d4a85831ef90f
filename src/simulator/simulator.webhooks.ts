/**
 * Webhooks the simulator sends: payload builders in Meta's exact shape (PROTOCOL.md §2), wamids,
 * and signed delivery with Meta-like retries (§1.2, §1.3).
 */
import { randomBytes } from 'node:crypto';
import { Agent, request } from 'undici';
import { signMetaPayload } from '../providers/meta/signature.js';

/** A business number the simulator knows (registered with `PUT /_simulator/numbers/:id`). */
export interface SimulatedNumber {
  phoneNumberId: string;
  wabaId: string;
  /** Digits only, no `+` (as in `metadata.display_phone_number`). */
  displayPhoneNumber: string;
  /** When set, sends must carry exactly this bearer token. */
  accessToken?: string;
}

/** Minimal pino-compatible logger. */
export interface SimulatorLogger {
  debug(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}
export const silentLogger: SimulatorLogger = { debug: () => {}, warn: () => {} };

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

/** A `statuses[]` item: `{id, status, timestamp, recipient_id, pricing?, errors?}` [M-STATUS]. */
export interface StatusItem {
  id: string;
  status: 'sent' | 'delivered' | 'read' | 'failed';
  timestamp: string;
  recipient_id: string;
  pricing?: Record<string, unknown>;
  errors?: Record<string, unknown>[];
}

/** `messages` webhook carrying one status. */
export function buildStatusWebhook(number: SimulatedNumber, status: StatusItem): Record<string, unknown> {
  return envelope(number, { statuses: [status] });
}

/** `messages` webhook carrying one inbound message and its sender's contact [M-TEXT]. */
export function buildMessagesWebhook(
  number: SimulatedNumber,
  contact: { waId: string; profileName: string },
  message: Record<string, unknown>,
): Record<string, unknown> {
  return envelope(number, {
    contacts: [{ profile: { name: contact.profileName }, wa_id: contact.waId }],
    messages: [message],
  });
}

/** Cancellable sleeps: `close()`/`reset()` must not leave timers firing webhooks later. */
export class Timers {
  private readonly pending = new Map<NodeJS.Timeout, (completed: boolean) => void>();

  /** Resolves true after `ms`, or false as soon as `cancelAll()` runs. */
  sleep(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(timer);
        resolve(true);
      }, Math.max(0, ms));
      this.pending.set(timer, resolve);
    });
  }

  cancelAll(): void {
    for (const [timer, resolve] of this.pending) {
      clearTimeout(timer);
      resolve(false);
    }
    this.pending.clear();
  }
}

/**
 * A simulator's background work: tracked tasks (status lifecycles, webhook deliveries),
 * cancellable sleeps, and an epoch that `interrupt()` (reset) and `close()` bump, so a lifecycle
 * started before stops at its next step instead of posting into a newer test.
 */
export class SimulatorBackground {
  readonly timers = new Timers();
  private readonly tasks = new Set<Promise<unknown>>();
  private epoch = 0;
  private closed = false;

  /** Keeps `task` until it settles, so `whenIdle()` can wait for it. @returns the task */
  track<T>(task: Promise<T>): Promise<T> {
    this.tasks.add(task);
    void task.finally(() => this.tasks.delete(task)).catch(() => {});
    return task;
  }

  /**
   * Runs `run(step)` for each step at `startAt + step.delayMs` (epoch ms), one after another; stops
   * when interrupted or closed meanwhile.
   */
  runSteps<S extends { delayMs: number }>(startAt: number, steps: S[], run: (step: S) => Promise<void>): void {
    const started = this.epoch;
    void this.track((async () => {
      for (const step of steps) {
        if (!(await this.timers.sleep(startAt + step.delayMs - Date.now())) || this.epoch !== started) return;
        await run(step);
        if (this.epoch !== started) return;
      }
    })());
  }

  /** Stops every lifecycle in progress at its next step and cancels pending sleeps. */
  interrupt(): void {
    this.epoch++;
    this.timers.cancelAll();
  }

  /** Resolves once no tracked task is left. */
  async whenIdle(): Promise<void> {
    while (this.tasks.size > 0) await Promise.allSettled([...this.tasks]);
  }

  /** Interrupts and waits for the tasks in flight. @returns false when already closed */
  async close(): Promise<boolean> {
    if (this.closed) return false;
    this.closed = true;
    this.interrupt();
    await this.whenIdle();
    return true;
  }
}

/** Retry policy for webhook POSTs; Meta retries non-200s with exponential backoff [M-TP]. */
export interface WebhookRetry {
  /** Total tries including the first. Default 5. */
  attempts?: number;
  /** Wait before the second try, doubled each time after, in ms. Default 100. */
  baseDelayMs?: number;
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
