/**
 * `account_update` webhooks (PROTOCOL.md §2.4, §5.8, Meta webhooks reference account_update [M-AU]).
 * The customer's WABA is `value.waba_info.waba_id` — never `entry.id`, which is the partner's
 * business id for PARTNER_* events.
 * - PARTNER_ADDED: the WABA was shared with this app; it is linked to the organization and operator
 *   of the most recent unexpired Embedded Signup state (numbers and token come with the signup).
 * - PARTNER_REMOVED, PARTNER_APP_UNINSTALLED: the WABA's numbers are disconnected, tokens wiped.
 * - Every event is recorded in `account_events` (once per delivery content).
 */
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Tx } from '../db/database.js';
import { SQLSTATE, sqlState } from '../db/errors.js';
import { disconnectWaba, findConnectedWaba, grantWabaAccess, upsertWaba } from '../numbers/wabas.repository.js';
import { insertAccountEvent } from './account-events.repository.js';
import { findLatestUnexpiredOAuthState } from './oauth-states.repository.js';

export type AccountUpdateOutcome = 'linked' | 'disconnected' | 'recorded' | 'duplicate';

interface WabaInfo {
  waba_id?: unknown;
  owner_business_id?: unknown;
}

const DISCONNECTING_EVENTS = new Set(['PARTNER_REMOVED', 'PARTNER_APP_UNINSTALLED']);

async function linkSharedWaba(tx: Tx, wabaId: string, ownerBusinessId: string | null): Promise<string | null> {
  const state = await findLatestUnexpiredOAuthState(tx);
  if (!state) return null;
  // A WABA connected elsewhere must not fail the whole webhook transaction: try under a savepoint.
  await sql`SAVEPOINT link_waba`.execute(tx);
  try {
    const waba = await upsertWaba(tx, { orgId: state.org_id, wabaId, ownerBusinessId, name: null });
    await grantWabaAccess(tx, { orgId: state.org_id, operatorId: state.operator_id, wabaRef: waba.id });
    await sql`RELEASE SAVEPOINT link_waba`.execute(tx);
    return state.org_id;
  } catch (error) {
    await sql`ROLLBACK TO SAVEPOINT link_waba`.execute(tx);
    if (sqlState(error) === SQLSTATE.uniqueViolation) return null;
    throw error;
  }
}

/**
 * Applies one account_update change inside the webhook's transaction.
 * @param entryId `entry[].id` (partner business id for PARTNER_*; kept for the record only)
 */
export async function applyAccountUpdate(tx: Tx, entryId: string | null, value: Record<string, unknown>, logger?: Logger): Promise<AccountUpdateOutcome> {
  const event = typeof value.event === 'string' ? value.event : 'UNKNOWN';
  const info = (value.waba_info ?? {}) as WabaInfo;
  const wabaId = typeof info.waba_id === 'string' || typeof info.waba_id === 'number' ? String(info.waba_id) : null;
  let orgId: string | null = null;
  let outcome: AccountUpdateOutcome = 'recorded';
  if (wabaId && event === 'PARTNER_ADDED') {
    const ownerBusinessId = typeof info.owner_business_id === 'string' ? info.owner_business_id : null;
    orgId = await linkSharedWaba(tx, wabaId, ownerBusinessId);
    if (orgId) outcome = 'linked';
  } else if (wabaId) {
    const waba = await findConnectedWaba(tx, wabaId);
    orgId = waba?.org_id ?? null;
    if (waba && DISCONNECTING_EVENTS.has(event)) {
      const numbers = await disconnectWaba(tx, waba.id);
      outcome = 'disconnected';
      logger?.warn({ event: 'account_update', account_event: event, org_id: orgId, waba_id: wabaId, phone_number_ids: numbers }, 'WABA disconnected by Meta');
    }
  }
  const inserted = await insertAccountEvent(tx, { orgId, wabaId, entryId, event, payload: value });
  logger?.info({ event: 'account_update', account_event: event, org_id: orgId, waba_id: wabaId, outcome: inserted ? outcome : 'duplicate' }, 'account_update');
  return inserted ? outcome : 'duplicate';
}
