/**
 * The public JSON shape of a message (`GET /v1/messages/{id}` and message lists): a whitelist, so
 * internal columns (raw payloads, hashes, idempotency keys) never leak.
 */
import type { MessageRow } from '../db/schema.js';

export interface MessageJson {
  id: string;
  thread_id: string;
  direction: 'inbound' | 'outbound';
  type: string;
  status: string;
  provider_message_id: string | null;
  content: Record<string, unknown>;
  error: { code: number | null; title: string | null } | null;
  /** When the customer sent it, by the provider's clock (inbound; null for outbound). */
  provider_timestamp: string | null;
  created_at: string;
}

type PresentableMessage = Pick<
  MessageRow,
  'id' | 'thread_id' | 'direction' | 'type' | 'status' | 'provider_message_id' | 'content' | 'error_code' | 'error_title' | 'provider_timestamp' | 'created_at'
>;

export function presentMessage(row: PresentableMessage): MessageJson {
  const failed = row.status === 'failed' || row.error_code !== null;
  return {
    id: row.id,
    thread_id: row.thread_id,
    direction: row.direction,
    type: row.type,
    status: row.status,
    provider_message_id: row.provider_message_id,
    content: row.content,
    error: failed ? { code: row.error_code, title: row.error_title } : null,
    provider_timestamp: row.direction === 'inbound' && row.provider_timestamp ? row.provider_timestamp.toISOString() : null,
    created_at: row.created_at.toISOString(),
  };
}
