/**
 * The sort key of keyset pagination (`../http/pagination.ts` encodes it as the opaque cursor;
 * repositories compare `(cursor_at, id)` against it).
 */

/** Keyset position with full microsecond precision (a JS Date would drop the microseconds). */
export interface KeysetPosition {
  /** ISO-8601 UTC timestamp with microseconds, as produced by the `cursor_at` column. */
  at: string;
  id: string;
}
