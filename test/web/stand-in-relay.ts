/**
 * A stand-in for the domain-event relay of issue 5 while it is not merged: it watches `messages`
 * and publishes `message.received` / `message.status_changed` / `message.failed` rows in
 * `outbox_events` exactly as the relay contract says (published_at, stream_position from
 * `outbox_events_stream_position_seq`, then `NOTIFY wahub_events, '<org_id>'`). The browser tests
 * use it only when `src/events/relay.ts` does not exist; with the real relay they run against it.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { sql } from 'kysely';
import type { Db } from '../../src/db/database.js';
import { publishEvent } from '../helpers/events.js';

export const REAL_RELAY_PRESENT = existsSync(path.resolve(import.meta.dirname, '../../src/events/relay.ts'));

interface Row {
  id: string;
  org_id: string;
  thread_id: string;
  contact_id: string;
  direction: 'inbound' | 'outbound';
  status: string;
  error_code: number | null;
  error_title: string | null;
}

export function startStandInRelay(db: Db, intervalMs = 40): { stop(): Promise<void> } {
  const seen = new Map<string, string>();
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      // Rows changed in the last minute (statuses are written with now(), so commit order may
      // differ from timestamps: a window re-read with per-row dedupe is simple and safe).
      const { rows } = await sql<Row>`
        SELECT m.id, m.org_id, m.thread_id, t.contact_id, m.direction, m.status, m.error_code, m.error_title
        FROM messages m JOIN threads t ON t.org_id = m.org_id AND t.id = m.thread_id
        WHERE greatest(m.created_at, m.status_updated_at) > now() - interval '1 minute'
        ORDER BY greatest(m.created_at, m.status_updated_at)`.execute(db);
      for (const row of rows) {
        if (seen.get(row.id) === row.status) continue;
        const first = !seen.has(row.id);
        seen.set(row.id, row.status);
        const eventType = row.direction === 'inbound' ? (first ? 'message.received' : undefined)
          : row.status === 'failed' ? 'message.failed' : 'message.status_changed';
        if (!eventType) continue;
        await publishEvent(db, {
          orgId: row.org_id, eventType, aggregateId: row.id,
          payload: { message_id: row.id, thread_id: row.thread_id, contact_id: row.contact_id, status: row.status, error_code: row.error_code, error_title: row.error_title },
        });
      }
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
