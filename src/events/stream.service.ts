/**
 * Where a new Server-Sent Events client of `GET /v1/stream` starts reading the stream.
 */
import type { Db } from '../db/database.js';
import { latestStreamPosition } from './stream.repository.js';

/**
 * The position after which a client's stream starts: the one it asked for (it resumes), else the
 * organization's newest (it sees only what happens from now on; '0' before any event).
 * @param requested a stream position (digits), already validated
 */
export async function streamStartPosition(db: Db, orgId: string, requested: string | undefined): Promise<string> {
  return requested ?? latestStreamPosition(db, orgId);
}
