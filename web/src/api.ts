// The hub's HTTP API as the inbox uses it: same-origin fetch with the session cookie, the CSRF
// token (from the readable `wahub_csrf` cookie) on every write, and typed answers.

export type Role = 'owner' | 'admin' | 'agent';

export interface Operator {
  id: string;
  org_id: string;
  org_name: string;
  email: string;
  name: string | null;
  role: Role;
}

export interface OperatorSummary {
  id: string;
  email: string;
  name: string | null;
  role: Role;
}

export interface LastMessage {
  type: string;
  direction: 'inbound' | 'outbound';
  status: string;
  content: { body?: string; filename?: string };
}

export interface Thread {
  id: string;
  status: 'open' | 'closed';
  owner_operator_id: string | null;
  owner: { id: string; name: string | null; email: string | null } | null;
  contact_id: string;
  /** Null for a customer known only by a business-scoped user ID (a username, no visible number). */
  e164: string | null;
  wa_id: string | null;
  bsuid: string | null;
  parent_bsuid: string | null;
  username: string | null;
  profile_name: string | null;
  phone_number_id: string;
  display_phone_number: string;
  last_inbound_at: string | null;
  last_message_at: string;
  customer_service_window_expires_at: string | null;
  contact_blocked_at: string | null;
  last_message: LastMessage | null;
  unread_count: number;
}

export interface ThreadDetail extends Thread {
  cowriters: Array<{ id: string; name: string | null; email: string }>;
  can_send: boolean;
}

export interface Message {
  id: string;
  thread_id: string;
  direction: 'inbound' | 'outbound';
  type: string;
  status: string;
  provider_message_id: string | null;
  content: Record<string, unknown>;
  error: { code: number | null; title: string | null } | null;
  /** Inbound: when the customer sent it (provider clock); what the inbox shows. */
  provider_timestamp?: string | null;
  /** When the hub stored it (received, or queued). */
  created_at: string;
}

export interface Page<T> {
  data: T[];
  next_cursor: string | null;
}

export interface PhoneNumber {
  id: string;
  phone_number_id: string;
  /** Null for Twilio numbers (no WABA). */
  waba_id: string | null;
  provider: string;
  display_phone_number: string;
  e164: string;
  verified_name: string | null;
  quality_rating: string | null;
  messaging_limit_tier: string | null;
  throughput_mps: number;
  status: 'active' | 'reauth_required' | 'disconnected';
  queue_depth: number;
  registered_at: string | null;
}

export interface QuickReply {
  id: string;
  title: string;
  body: string;
}

export interface DeadLetter {
  id: string;
  provider: string;
  reason: string;
  detail: string;
  waba_id: string | null;
  phone_number_id: string | null;
  field: string | null;
  created_at: string;
}

/** An event subscription with its delivery health (`GET /v1/event-subscriptions`). */
export interface EventSubscription {
  id: string;
  url: string;
  event_types: string[];
  description: string | null;
  created_at: string;
  deliveries: { waiting: number; retrying: number; dead: number; last_error: string | null; oldest_pending_at: string | null };
}

export type Metrics = Record<string, number | string>;

export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Called when any request answers 401 (the session ended): the app shows the login page. */
let onUnauthorized: () => void = () => undefined;
export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

function csrfToken(): string | undefined {
  const match = /(?:^|;\s*)wahub_csrf=([^;]+)/.exec(document.cookie);
  return match ? decodeURIComponent(match[1]!) : undefined;
}

export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { accept: 'application/json', ...headers } };
  const allHeaders = init.headers as Record<string, string>;
  if (method !== 'GET') {
    const token = csrfToken();
    if (token) allHeaders['x-csrf-token'] = token;
  }
  if (body !== undefined) {
    allHeaders['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  if (response.status === 204) return undefined as T;
  const json = (await response.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!response.ok) {
    if (response.status === 401 && path !== '/v1/session') onUnauthorized();
    throw new ApiError(response.status, json.error?.code ?? 'http_error', json.error?.message ?? `HTTP ${response.status}`);
  }
  return json as T;
}

export const get = <T>(path: string) => api<T>('GET', path);
export const post = <T>(path: string, body?: unknown, headers?: Record<string, string>) => api<T>('POST', path, body, headers);

export function query(params: Record<string, string | number | undefined | null>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

export const operatorName = (o: { name: string | null; email: string | null } | null | undefined) => o?.name || o?.email || 'Unknown';
