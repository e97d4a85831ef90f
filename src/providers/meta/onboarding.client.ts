/**
 * Meta Graph API calls of Embedded Signup (PROTOCOL.md §5, Meta "Onboarding business customers as
 * a Tech Provider" [M-TECH], debug_token [M-PERM], phone numbers [M-PN], subscribed_apps [M-SUB],
 * registration [M-REG]). Each returns typed data or throws OnboardingGraphError with Meta's code.
 */
import type { GraphApiClient, GraphApiError } from './graph.client.js';

export class OnboardingGraphError extends Error {
  constructor(readonly step: string, readonly graph: GraphApiError) {
    super(`${step} failed: ${graph.title}${graph.code === null ? '' : ` (Meta code ${graph.code}${graph.subcode ? `/${graph.subcode}` : ''})`}`);
    this.name = 'OnboardingGraphError';
  }
}

/** Subcodes seen for the code exchange [CODE-OAUTH] (unverified against Meta's docs). */
export const CODE_EXPIRED_SUBCODE = 36007;
export const CODE_USED_SUBCODE = 36009;

async function unwrap<T>(step: string, promise: ReturnType<GraphApiClient['call']>): Promise<T> {
  const result = await promise;
  if (!result.ok) throw new OnboardingGraphError(step, result.error);
  return result.data as T;
}

/** `GET /oauth/access_token`: the 30-second code → a business integration system user token. */
export async function exchangeCode(graph: GraphApiClient, values: { appId: string; appSecret: string; code: string }): Promise<string> {
  const data = await unwrap<{ access_token?: unknown }>('code exchange', graph.call('GET', '/oauth/access_token', {
    query: { client_id: values.appId, client_secret: values.appSecret, code: values.code },
  }));
  if (typeof data?.access_token !== 'string' || !data.access_token) {
    throw new OnboardingGraphError('code exchange', { class: 'permanent', code: null, title: 'no access_token in the answer', details: null, httpStatus: 200 });
  }
  return data.access_token;
}

export interface TokenInfo {
  isValid: boolean;
  /** WABA ids the token may manage (`granular_scopes[whatsapp_business_management].target_ids`). */
  wabaIds: string[];
  /** Expiry, or null for a token that never expires (`expires_at: 0`). */
  expiresAt: Date | null;
}

/** `GET /debug_token` with the app token (`app_id|app_secret`). */
export async function debugToken(graph: GraphApiClient, values: { appId: string; appSecret: string; inputToken: string }): Promise<TokenInfo> {
  const data = await unwrap<{ data?: { is_valid?: boolean; expires_at?: number; granular_scopes?: Array<{ scope?: string; target_ids?: unknown[] }> } }>(
    'debug_token', graph.call('GET', '/debug_token', { token: `${values.appId}|${values.appSecret}`, query: { input_token: values.inputToken } }),
  );
  const scopes = data?.data?.granular_scopes ?? [];
  const management = scopes.find((scope) => scope.scope === 'whatsapp_business_management');
  const expiresAt = data?.data?.expires_at;
  return {
    isValid: data?.data?.is_valid === true,
    wabaIds: (management?.target_ids ?? []).map(String),
    expiresAt: typeof expiresAt === 'number' && expiresAt > 0 ? new Date(expiresAt * 1000) : null,
  };
}

export interface GraphPhoneNumber {
  id: string;
  display_phone_number: string;
  verified_name?: string;
  quality_rating?: string;
  throughput?: { level?: string };
}

/** `GET /{waba_id}/phone_numbers` (first page of up to 100). */
export async function listPhoneNumbers(graph: GraphApiClient, values: { wabaId: string; token: string }): Promise<GraphPhoneNumber[]> {
  const data = await unwrap<{ data?: GraphPhoneNumber[] }>('list phone numbers', graph.call('GET', `/${values.wabaId}/phone_numbers`, {
    token: values.token, query: { limit: '100' },
  }));
  return (data?.data ?? []).filter((number) => typeof number?.id === 'string' && typeof number.display_phone_number === 'string');
}

/** `POST /{waba_id}/subscribed_apps`: the WABA's webhooks come to this app. */
export async function subscribeApp(graph: GraphApiClient, values: { wabaId: string; token: string }): Promise<void> {
  await unwrap('subscribe app', graph.call('POST', `/${values.wabaId}/subscribed_apps`, { token: values.token }));
}

/** `POST /{phone_number_id}/register` with the two-step verification PIN (6 digits). */
export async function registerPhoneNumber(graph: GraphApiClient, values: { phoneNumberId: string; token: string; pin: string }): Promise<void> {
  await unwrap('register number', graph.call('POST', `/${values.phoneNumberId}/register`, {
    token: values.token, body: { messaging_product: 'whatsapp', pin: values.pin },
  }));
}
