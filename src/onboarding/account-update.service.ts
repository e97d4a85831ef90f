/**
 * `account_update` webhooks (PROTOCOL.md §2.4, §5.8, Meta webhooks reference account_update [M-AU]).
 * The customer's WABA is `value.waba_info.waba_id` — never `entry.id`, which is the partner's
 * business id for PARTNER_* events.
 * - PARTNER_ADDED: the WABA was shared with this app; it is linked only when exactly one
 *   organization has an unexpired Embedded Signup state that can own it (when several do, those
 *   already holding a WABA of the same `owner_business_id` are preferred), to the operator of that
 *   organization's newest state (numbers and token come with the signup). Otherwise the outcome is
 *   `ambiguous` and the caller keeps the change as a dead letter (`ambiguous_partner`): a WABA is
 *   never attached to a guessed tenant.
 * - PARTNER_REMOVED, PARTNER_APP_UNINSTALLED: the WABA's numbers are disconnected, tokens wiped.
 * - Every event is recorded in `account_events` (once per delivery content).
 */
import { sql } from 'kysely';
import type { Logger } from 'pino';
import type { Tx } from '../db/database.js';
import { SQLSTATE, sqlState } from '../db/errors.js';
import { disconnectWaba, findConnectedWaba, grantWabaAccess, upsertWaba } from '../numbers/wabas.repository.js';
import { insertAccountEvent } from './account-events.repository.js';
import { listPendingOAuthStates } from './oauth-states.repository.js';

export type AccountUpdateOutcome = 'linked' | 'ambiguous' | 'disconnected' | 'recorded' | 'duplicate';

interface WabaInfo {
  waba_id?: unknown;
  owner_business_id?: unknown;
}

const DISCONNECTING_EVENTS = new Set(['PARTNER_REMOVED', 'PARTNER_APP_UNINSTALLED']);

/** The one pending signup that can own a shared WABA (its organization's newest state), or null when none or several can. */
async function findOwningSignup(tx: Tx, ownerBusinessId: string | null): Promise<{ org_id: string; operator_id: string } | null> {
  const pending = await listPendingOAuthStates(tx, ownerBusinessId);
  const sameBusiness = pending.filter((state) => state.owns_business);
  const candidates = sameBusiness.length > 0 ? sameBusiness : pending;
  if (new Set(candidates.map((state) => state.org_id)).size !== 1) return null;
  return candidates[0]!;
}

/** @returns the organization linked, null when the WABA is connected elsewhere, or 'ambiguous' */
async function linkSharedWaba(tx: Tx, wabaId: string, ownerBusinessId: string | null): Promise<string | null | 'ambiguous'> {
  const state = await findOwningSignup(tx, ownerBusinessId);
  if (!state) return 'ambiguous';
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
    const linked = await linkSharedWaba(tx, wabaId, ownerBusinessId);
    if (linked === 'ambiguous') outcome = 'ambiguous';
    else if (linked) [orgId, outcome] = [linked, 'linked'];
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
