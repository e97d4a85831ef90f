/**
 * Embedded Signup (PROTOCOL.md §5): `startSignup` hands the browser what Meta's JS SDK needs and a
 * state bound to organization + operator (10 minutes, single use); `completeSignup` exchanges the
 * 30-second code for the business token, finds the shared WABAs with `debug_token`, lists their
 * numbers, subscribes the app, registers each number with a PIN, then saves everything in ONE
 * transaction per the golden rules and validates it before commit.
 */
import { syncOrganizationTemplates } from '../templates/template-sync.service.js';
import { createHash, randomBytes, randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { assertConsistent } from '../consistency/consistency.service.js';
import type { Db } from '../db/database.js';
import { withTransaction } from '../db/database.js';
import { releaseTokenlessWabaLink } from '../numbers/wabas.repository.js';
import { connectionConflict, saveConnection } from '../numbers/numbers.service.js';
import type { GraphApiClient } from '../providers/meta/graph.client.js';
import {
  CODE_EXPIRED_SUBCODE, CODE_USED_SUBCODE, debugToken, exchangeCode, type GraphPhoneNumber, listPhoneNumbers, OnboardingGraphError,
  registerPhoneNumber, subscribeApp,
} from '../providers/meta/onboarding.client.js';
import { AppError } from '../shared/errors.js';
import type { TokenCipher } from '../shared/token-cipher.js';
import type { Principal } from '../tenancy/tenancy.service.js';
import { consumeOAuthState, findOAuthState, insertOAuthState } from './oauth-states.repository.js';

/** State lifetime: 10 minutes. */
export const OAUTH_STATE_TTL_MS = 10 * 60_000;
/** Two-step verification PIN mismatch on /register [M-REG]. */
const PIN_MISMATCH_CODE = 133005;

export interface SignupContext {
  db: Db;
  cipher: TokenCipher;
  graph: GraphApiClient;
  logger: Logger;
  meta: { appId: string | undefined; appSecret: string; configId: string | undefined; graphApiVersion: string };
}

export interface CompleteSignupInput {
  code: string;
  state: string;
  /** Connect only this WABA (else every WABA the token was granted). */
  waba_id?: string;
  /** Connect only this number. */
  phone_number_id?: string;
  /** The customer's business portfolio id, from the signup session event. */
  business_id?: string;
  /** Two-step verification PIN to register with (6 digits); generated when absent. */
  pin?: string;
}

const hashState = (state: string) => createHash('sha256').update(state).digest('hex');

function requireAdmin(principal: Principal): void {
  if (principal.role !== 'owner' && principal.role !== 'admin') throw new AppError('forbidden', 'only owners and admins connect WhatsApp numbers');
}

function requireAppId(context: SignupContext): string {
  if (!context.meta.appId) throw new AppError('not_configured', 'META_APP_ID is not set: Embedded Signup is unavailable');
  return context.meta.appId;
}

/** Starts a signup. @returns the SDK config and a fresh state (shown once; only its hash is stored) */
export async function startSignup(context: SignupContext, principal: Principal) {
  requireAdmin(principal);
  const appId = requireAppId(context);
  const state = randomBytes(24).toString('base64url');
  const row = await insertOAuthState(context.db, { orgId: principal.orgId, operatorId: principal.operatorId, stateHash: hashState(state), ttlMs: OAUTH_STATE_TTL_MS });
  return {
    state,
    expires_at: row.expires_at.toISOString(),
    app_id: appId,
    config_id: context.meta.configId ?? null,
    graph_api_version: context.meta.graphApiVersion,
    // FB.login options for Embedded Signup v4 [M-ES].
    login_options: { config_id: context.meta.configId ?? null, response_type: 'code', override_default_response_type: true, extras: { setup: {} } },
  };
}

async function claimState(context: SignupContext, principal: Principal, state: string): Promise<void> {
  const row = await findOAuthState(context.db, hashState(state));
  if (!row) throw new AppError('invalid_oauth_state', 'unknown signup state; start the signup again');
  if (row.org_id !== principal.orgId) throw new AppError('invalid_oauth_state', 'this signup state belongs to another organization');
  if (row.operator_id !== principal.operatorId) throw new AppError('invalid_oauth_state', 'this signup state was started by another operator; start the signup again');
  if (row.consumed_at) throw new AppError('invalid_oauth_state', 'this signup state was already used; start the signup again');
  if (row.expired) throw new AppError('invalid_oauth_state', 'this signup state expired; start the signup again');
  if (!(await consumeOAuthState(context.db, row.id))) throw new AppError('invalid_oauth_state', 'this signup state was already used; start the signup again');
}

/** Graph failures → the caller's error codes. */
function graphFailure(error: unknown): never {
  if (!(error instanceof OnboardingGraphError)) throw error;
  const { graph } = error;
  if (graph.subcode === CODE_EXPIRED_SUBCODE) throw new AppError('signup_code_expired', 'the signup code expired (it lives 30 seconds); sign up again');
  if (graph.subcode === CODE_USED_SUBCODE) throw new AppError('signup_code_used', 'the signup code was already used; sign up again');
  if (graph.code === PIN_MISMATCH_CODE) throw new AppError('pin_mismatch', 'the number already has two-step verification with another PIN; pass that PIN');
  throw new AppError('provider_error', error.message, { step: error.step, code: graph.code, subcode: graph.subcode ?? null });
}

interface DiscoveredWaba {
  wabaId: string;
  numbers: GraphPhoneNumber[];
}

/** Token exchange, debug_token, numbers, subscription and registration — everything before the save. */
async function prepareWithMeta(context: SignupContext, input: CompleteSignupInput, pin: string): Promise<{ token: string; tokenExpiresAt: Date | null; wabas: DiscoveredWaba[] }> {
  const appId = requireAppId(context);
  const { graph } = context;
  const token = await exchangeCode(graph, { appId, appSecret: context.meta.appSecret, code: input.code });
  const info = await debugToken(graph, { appId, appSecret: context.meta.appSecret, inputToken: token });
  if (!info.isValid) throw new AppError('provider_error', 'Meta reports the business token as invalid');
  if (input.waba_id && !info.wabaIds.includes(input.waba_id)) throw new AppError('waba_not_granted', `WABA ${input.waba_id} was not shared in this signup`);
  const wabaIds = input.waba_id ? [input.waba_id] : info.wabaIds;
  if (wabaIds.length === 0) throw new AppError('waba_not_granted', 'no WABA was shared in this signup');
  const wabas: DiscoveredWaba[] = [];
  for (const wabaId of wabaIds) {
    let numbers = await listPhoneNumbers(graph, { wabaId, token });
    if (input.phone_number_id) numbers = numbers.filter((number) => number.id === input.phone_number_id);
    if (numbers.length === 0) continue;
    await subscribeApp(graph, { wabaId, token });
    for (const number of numbers) await registerPhoneNumber(graph, { phoneNumberId: number.id, token, pin });
    wabas.push({ wabaId, numbers });
  }
  if (wabas.length === 0) throw new AppError('waba_not_granted', input.phone_number_id ? `number ${input.phone_number_id} is not in the shared WABAs` : 'the shared WABAs have no phone numbers');
  return { token, tokenExpiresAt: info.expiresAt, wabas };
}

/**
 * Completes a signup.
 * @returns the connected WABAs and numbers, and the registration PIN when wahub generated it (shown once)
 * @throws AppError forbidden, invalid_oauth_state, signup_code_expired, signup_code_used,
 *   waba_not_granted, pin_mismatch, provider_error, conflict, consistency_check_failed
 */
export async function completeSignup(context: SignupContext, principal: Principal, input: CompleteSignupInput) {
  requireAdmin(principal);
  await claimState(context, principal, input.state);
  const pin = input.pin ?? String(randomInt(0, 1_000_000)).padStart(6, '0');
  const { token, tokenExpiresAt, wabas } = await prepareWithMeta(context, input, pin).catch(graphFailure);
  // The number being saved, so that a uniqueness refusal names the WABA and number it concerns
  // (naming the first number of the signup misled when another one was held elsewhere).
  let current = { wabaId: wabas[0]!.wabaId, phoneNumberId: wabas[0]!.numbers[0]!.id };
  let saved: Array<{ waba_id: string; phone_numbers: Array<{ id: string; phone_number_id: string; display_phone_number: string; created: boolean }> }>;
  try {
    saved = await withTransaction(context.db, async (tx) => {
      const result = [];
      for (const waba of wabas) {
        if (await releaseTokenlessWabaLink(tx, waba.wabaId, principal.orgId)) {
          context.logger.warn({ event: 'oauth_save', org_id: principal.orgId, waba_id: waba.wabaId }, 'signup took over a WABA another organization held only by PARTNER_ADDED');
        }
        const numbers = [];
        for (const number of waba.numbers) {
          current = { wabaId: waba.wabaId, phoneNumberId: number.id };
          const row = await saveConnection(tx, context.cipher, {
            orgId: principal.orgId, wabaId: waba.wabaId, phoneNumberId: number.id, displayPhoneNumber: number.display_phone_number,
            accessToken: token, tokenExpiresAt, verifiedName: number.verified_name ?? null, qualityRating: number.quality_rating ?? null,
            operatorId: principal.operatorId, ownerBusinessId: input.business_id ?? null, registered: true,
          });
          numbers.push({ id: row.id, phone_number_id: number.id, display_phone_number: number.display_phone_number.replace(/[^0-9]/g, ''), created: row.created });
        }
        await assertConsistent(tx, { orgId: principal.orgId, wabaId: waba.wabaId }, context.logger, context.cipher);
        result.push({ waba_id: waba.wabaId, phone_numbers: numbers });
      }
      return result;
    });
  } catch (error) {
    throw connectionConflict(error, current.wabaId, current.phoneNumberId) ?? error;
  }
  context.logger.info({
    event: 'oauth_save', org_id: principal.orgId, operator_id: principal.operatorId,
    waba_ids: saved.map((w) => w.waba_id), phone_number_ids: saved.flatMap((w) => w.phone_numbers.map((n) => n.phone_number_id)),
  }, 'embedded signup saved');
  // Templates on connect; a failure (Meta's rate limit) is recorded on the WABA's sync row, the first template send retries.
  for (const waba of saved) {
    const synced = await syncOrganizationTemplates(context, principal.orgId, waba.waba_id).catch((error: unknown) => [{ error: String(error) }]);
    const error = synced.find((s) => s.error)?.error;
    if (error) context.logger.warn({ event: 'template_sync', org_id: principal.orgId, waba_id: waba.waba_id, error }, 'template sync after signup failed');
  }
  return { wabas: saved, pin: input.pin ? null : pin };
}
