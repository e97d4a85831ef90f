/**
 * Who is calling: resolved from an API key or an operator session (`../sessions/request-auth.ts`)
 * and attached to every `/v1` request by `../http/auth.ts`. Every query is scoped to `orgId`.
 */
import type { OperatorRole } from '../db/schema.js';

/** The authenticated caller (exactly one of `apiKeyId` and `sessionId` is set). */
export interface Principal {
  orgId: string;
  operatorId: string;
  role: OperatorRole;
  apiKeyId: string | null;
  /** Set when the caller is a browser session (cookie): writes then need the CSRF token. */
  sessionId?: string | null;
}
