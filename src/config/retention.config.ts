/**
 * Settings of the retention jobs and of webhooks whose storing keeps failing (issue 19), read by
 * `config.ts` with every other variable (same validation, same error report).
 */
import { z } from 'zod';

const positiveInt = (fallback: number) => z.coerce.number().int().positive().default(fallback);

/** The environment variables (merged into config.ts's schema). */
export const retentionEnv = {
  /** Statuses kept for wamids that never appeared are deleted after this many days. Default 7. */
  RETENTION_PENDING_STATUSES_DAYS: positiveInt(7),
  /** Webhook dead letters (and webhook store-failure counters) are deleted after this many days. Default 30. */
  RETENTION_DEAD_LETTERS_DAYS: positiveInt(30),
  /** `account_events` rows are deleted after this many days. Default 365. */
  RETENTION_ACCOUNT_EVENTS_DAYS: positiveInt(365),
  /** Audit log rows are deleted after this many days. Default 365. */
  RETENTION_AUDIT_LOG_DAYS: positiveInt(365),
  /** A signed webhook whose storing failed this many times (same body, not a database outage) becomes a dead letter `store_failed` and is answered 200. Default 5. */
  WEBHOOK_STORE_MAX_ATTEMPTS: positiveInt(5),
};

type RetentionValues = { [K in keyof typeof retentionEnv]: number };

export interface RetentionConfig {
  /** Days rows are kept by the retention jobs (ops/retention.service.ts). */
  retention: { pendingStatusesDays: number; deadLettersDays: number; accountEventsDays: number; auditLogDays: number };
  /** Failed stores of one webhook body before it becomes a `store_failed` dead letter. */
  webhookStoreMaxAttempts: number;
}

export function retentionConfig(values: RetentionValues): RetentionConfig {
  return {
    retention: {
      pendingStatusesDays: values.RETENTION_PENDING_STATUSES_DAYS, deadLettersDays: values.RETENTION_DEAD_LETTERS_DAYS,
      accountEventsDays: values.RETENTION_ACCOUNT_EVENTS_DAYS, auditLogDays: values.RETENTION_AUDIT_LOG_DAYS,
    },
    webhookStoreMaxAttempts: values.WEBHOOK_STORE_MAX_ATTEMPTS,
  };
}
