/**
 * Test factories: each test creates its own organization (and numbers), so tests never depend on
 * each other's rows. Everything goes through the real services and the real database.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino, { type Logger } from 'pino';
import type { Db } from '../../src/db/database.js';
import type { OperatorRole } from '../../src/db/schema.js';
import { buildApp } from '../../src/app.js';
import { EgressGuard } from '../../src/shared/egress.js';
import type { RateLimitOptions } from '../../src/http/rate-limit.js';
import { connectPhoneNumber } from '../../src/numbers/numbers.service.js';
import { signMetaPayload } from '../../src/providers/meta/signature.js';
import type { GraphApiClient } from '../../src/providers/meta/graph.client.js';
import type { Simulator } from '../../src/simulator/meta/simulator.js';
import { TokenCipher } from '../../src/shared/token-cipher.js';
import { createOperator, createOrganization } from '../../src/tenancy/tenancy.service.js';
import { seedTemplates } from './templates.js';

export const TEST_APP_SECRET = 'test_app_secret';
export const TEST_VERIFY_TOKEN = 'test_verify_token';
export const testCipher = new TokenCipher([{ id: 'test1', key: Buffer.alloc(32, 7) }]);
export const silentLogger = pino({ level: 'silent' });
/** The SSRF guard of tests: plain http and loopback allowed for the local subscribers tests start. */
export const TEST_EGRESS_ALLOW_LIST = ['127.0.0.1', 'localhost', '::1'];
export const testEgress = new EgressGuard(TEST_EGRESS_ALLOW_LIST);

export interface TestOrg {
  orgId: string;
  operatorId: string;
  /** Bearer API key of the org's owner operator. */
  apiKey: string;
}

/** A new organization with an owner operator and its API key. */
export async function createTestOrg(db: Db, name = 'Test org'): Promise<TestOrg> {
  const org = await createOrganization(db, name);
  const operator = await createOperator(db, { orgId: org.id, email: `owner-${randomBytes(4).toString('hex')}@example.test`, role: 'owner' });
  return { orgId: org.id, operatorId: operator.id, apiKey: operator.apiKey };
}

/** Another operator of an organization. */
export async function createTestOperator(db: Db, orgId: string, role: OperatorRole): Promise<{ operatorId: string; apiKey: string }> {
  const operator = await createOperator(db, { orgId, email: `${role}-${randomBytes(4).toString('hex')}@example.test`, role });
  return { operatorId: operator.id, apiKey: operator.apiKey };
}

/** Unique digits for ids that must not collide across tests (phone_number_id is globally unique when connected). */
export function uniqueDigits(length = 15): string {
  let digits = String(1 + Math.floor(Math.random() * 9));
  while (digits.length < length) digits += String(Math.floor(Math.random() * 10));
  return digits;
}

export interface TestNumber {
  id: string;
  wabaId: string;
  phoneNumberId: string;
  displayPhoneNumber: string;
  accessToken: string;
}

/**
 * Connects a phone number (random ids unless given) to an organization. Its WABA's template
 * registry gets TEST_TEMPLATES (the templates existing tests send) and counts as synced, unless
 * `options.templates` is false (a WABA never synced).
 */
export async function createTestNumber(
  db: Db, orgId: string, values: Partial<Omit<TestNumber, 'id'>> = {}, options: { templates?: boolean } = {},
): Promise<TestNumber> {
  const number = {
    wabaId: values.wabaId ?? uniqueDigits(),
    phoneNumberId: values.phoneNumberId ?? uniqueDigits(),
    displayPhoneNumber: values.displayPhoneNumber ?? `1555${uniqueDigits(7)}`,
    accessToken: values.accessToken ?? `token-${randomBytes(8).toString('hex')}`,
  };
  const { id } = await connectPhoneNumber(db, testCipher, { orgId, ...number });
  if (options.templates !== false) await seedTemplates(db, orgId, number.wabaId);
  return { id, ...number };
}

export const TEST_APP_ID = 'test-app';

/** What `createTestApp` lets a test choose about the app. */
export interface TestAppOptions {
  simulator?: Simulator;
  /** Default `testEgress` (loopback allowed). */
  egress?: EgressGuard;
  onMessageQueued?: () => void;
  graph?: GraphApiClient;
  publicBaseUrl?: string;
  rateLimit?: RateLimitOptions;
  /** Default: silent. */
  logger?: Logger;
}

/** The HTTP app on a test database (no dispatcher: tests drive it explicitly). Pass `graph` for Embedded Signup. */
export async function createTestApp(db: Db, options: TestAppOptions = {}): Promise<FastifyInstance> {
  return buildApp({
    db,
    logger: options.logger ?? silentLogger,
    cipher: testCipher,
    graph: options.graph,
    meta: { appSecret: TEST_APP_SECRET, verifyToken: TEST_VERIFY_TOKEN, appId: TEST_APP_ID, embeddedSignupConfigId: 'test-config' },
    simulator: options.simulator,
    onMessageQueued: options.onMessageQueued,
    publicBaseUrl: options.publicBaseUrl,
    rateLimit: options.rateLimit,
    egress: options.egress ?? testEgress,
  });
}

/** Headers of a webhook POST signed as Meta signs it. */
export function signedHeaders(body: string | Buffer, secret = TEST_APP_SECRET): Record<string, string> {
  return { 'content-type': 'application/json', 'x-hub-signature-256': signMetaPayload(secret, body) };
}

/** A `messages`-field webhook envelope around one change value (PROTOCOL.md §2.1). */
function messagesWebhook(wabaId: string, phoneNumberId: string, value: Record<string, unknown>): string {
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{
      id: wabaId,
      changes: [{
        field: 'messages',
        value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550100001', phone_number_id: phoneNumberId }, ...value },
      }],
    }],
  });
}

/** A single-message `messages` webhook in Meta's shape (PROTOCOL.md §2). */
export function textWebhook(values: { wabaId: string; phoneNumberId: string; from: string; wamid: string; body?: string; name?: string; timestamp?: number }): string {
  return messagesWebhook(values.wabaId, values.phoneNumberId, {
    contacts: [{ profile: { name: values.name ?? 'Customer' }, wa_id: values.from }],
    messages: [{ from: values.from, id: values.wamid, timestamp: String(values.timestamp ?? Math.floor(Date.now() / 1000)), type: 'text', text: { body: values.body ?? 'hello' } }],
  });
}

/** A status webhook for an outbound wamid. */
export function statusWebhook(values: { wabaId: string; phoneNumberId: string; wamid: string; status: string; recipient: string; errors?: unknown[] }): string {
  return messagesWebhook(values.wabaId, values.phoneNumberId, {
    statuses: [{ id: values.wamid, status: values.status, timestamp: String(Math.floor(Date.now() / 1000)), recipient_id: values.recipient, ...(values.errors ? { errors: values.errors } : {}) }],
  });
}

/** Row count of a table (optionally for one organization). */
export async function countRows(db: Db, table: 'contacts' | 'clients' | 'threads' | 'messages' | 'message_outbox' | 'webhook_dead_letters' | 'pending_statuses', orgId?: string): Promise<number> {
  let query = db.selectFrom(table).select((eb) => eb.fn.countAll<string>().as('n'));
  if (orgId) query = query.where('org_id', '=', orgId);
  const row = await query.executeTakeFirstOrThrow();
  return Number(row.n);
}
