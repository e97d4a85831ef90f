/**
 * Keyset pagination for list endpoints: `?limit=1..100&cursor=<opaque>`; answers carry
 * `next_cursor` (null on the last page). The cursor is base64url JSON of the last row's sort key;
 * never OFFSET, so deep pages cost what the first page costs.
 */
import { z } from 'zod';
import { AppError } from '../shared/errors.js';
import type { KeysetPosition } from '../shared/keyset.js';
import { parseInput } from './validation.js';

/** `?limit=1..100` (default 50) `&cursor=<next_cursor of the previous page>`. */
export const pageQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(50).describe('items per page, 1–100'),
  cursor: z.string().max(200).optional().describe('`next_cursor` of the previous page'),
});

/** A page of `item`s: `{data, next_cursor}`, `next_cursor` null on the last page. */
export function pageSchema<Item extends z.ZodType>(item: Item) {
  return z.object({
    data: z.array(item),
    next_cursor: z.string().nullable().describe('pass as `cursor` for the next page; null on the last page'),
  });
}

/**
 * A real instant: the pattern alone let `2026-13-45T99:99:99…` or year 0000 through to a
 * `::timestamptz` cast that PostgreSQL refused (500). The date part must survive a round trip.
 */
function isRealInstant(at: string): boolean {
  const date = new Date(`${at.slice(0, 23)}Z`);
  return !Number.isNaN(date.getTime()) && date.getUTCFullYear() >= 1 && date.toISOString().slice(0, 19) === at.slice(0, 19);
}

const positionSchema = z.object({
  at: z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/).refine(isRealInstant),
  id: z.uuid(),
});

export interface PageRequest {
  limit: number;
  after: KeysetPosition | undefined;
}

/** Parses `limit` and `cursor`. @throws AppError validation_failed / invalid_cursor */
export function parsePageQuery(query: unknown): PageRequest {
  const { limit, cursor } = parseInput(pageQuerySchema, query, 'query string');
  if (cursor === undefined) return { limit, after: undefined };
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = undefined;
  }
  const position = positionSchema.safeParse(decoded);
  if (!position.success) throw new AppError('invalid_cursor', 'cursor is malformed; use next_cursor from the previous page');
  return { limit, after: position.data };
}

/**
 * Builds a page from `limit + 1` fetched rows (the extra row tells whether another page exists).
 * @param position the sort key of a row (`cursor_at` and `id` columns)
 */
export function toPage<Row, Item>(
  rows: Row[],
  limit: number,
  position: (row: Row) => KeysetPosition,
  present: (row: Row) => Item,
): { data: Item[]; next_cursor: string | null } {
  const pageRows = rows.slice(0, limit);
  const last = pageRows.at(-1);
  const nextCursor = rows.length > limit && last ? Buffer.from(JSON.stringify(position(last))).toString('base64url') : null;
  return { data: pageRows.map(present), next_cursor: nextCursor };
}
