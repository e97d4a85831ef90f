/**
 * The dispatcher's settings (config: `OUTBOX_*`; see README "Configuration").
 */
import type { Logger } from 'pino';
import type { Db } from '../db/database.js';
import type { GraphApiClient } from '../providers/meta/graph.client.js';
import type { MessageSender } from '../providers/types.js';
import type { TokenCipher } from '../shared/token-cipher.js';

export interface DispatcherOptions {
  db: Db;
  cipher: TokenCipher;
  /** Sends for numbers of provider `meta`. */
  graph: GraphApiClient;
  /** Sends for numbers of provider `twilio` (a TwilioMessagesClient); without it their messages fail. */
  twilio?: MessageSender;
  logger: Logger;
  /** Lease TTL, ms (default 60 000 in config). */
  leaseTtlMs: number;
  /** Lease refresh period for in-flight rows, ms. Default leaseTtlMs / 2. */
  leaseRefreshMs?: number;
  /** Rows claimed per round. */
  batchSize: number;
  /** Poll interval when idle and no notification arrives, ms. */
  pollIntervalMs: number;
  /** Attempts before a retryable error becomes final. */
  maxAttempts: number;
  /** First retry delay, ms; doubles each attempt (capped at 15 min), with jitter. */
  retryBaseMs: number;
  /** A recipient still pair-rate-limited (Meta 131056) this long after queueing fails the message, ms. Default 24 h. */
  pairRateLimitMaxMs?: number;
  /** Rows held at once (claimed, waiting for their slot or in flight). Default 20 · batchSize. */
  maxInFlight?: number;
  /** Connection string for LISTEN/NOTIFY wake-ups; without it the dispatcher only polls. */
  listenUrl?: string;
  workerId?: string;
}
