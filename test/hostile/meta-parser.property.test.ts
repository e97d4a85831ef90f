/**
 * Property-based tests of the Meta webhook parser and the inbound path behind it: random bodies and
 * mutations of the shared fixtures (properties removed, wrong types, huge strings, deep nesting,
 * unknown types and fields) never make the parser throw; every message, status and error of the
 * input ends up in an item (stored, or dead-lettered with a reason); and storing those items in
 * PostgreSQL never fails — each is stored or dead-lettered, and the signed webhook answers 200.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { ingestWebhookItems } from '../../src/inbound/inbound.service.js';
import { parseMetaWebhook } from '../../src/providers/meta/webhook.parser.js';
import { exceedsJsonDepth } from '../../src/shared/json-depth.js';
import { DEAD_LETTER_REASONS, INBOUND_MESSAGE_TYPES, type ParsedWebhookItem } from '../../src/providers/types.js';
import { useAppBed } from '../helpers/bed.js';
import { createTestNumber, createTestOrg } from '../helpers/factories.js';
import { metaFixtureBytes, metaFixtureNames, postWebhook } from '../inbound/helpers.js';
import { deeplyNested, hostileJson, mutate, mutationsOf } from './arbitraries.js';

const fixtures = metaFixtureNames().map((name) => ({ name, document: JSON.parse(metaFixtureBytes(name).toString('utf8')) as unknown }));

/** A fixture and one to three mutations of it. */
const mutatedFixture = fc.constantFrom(...fixtures).chain((fixture) =>
  mutationsOf(fixture.document).map((mutations) => ({ name: fixture.name, mutations, body: mutate(fixture.document, mutations) })));

/** Webhook-shaped bodies built from scratch, with any part missing or of the wrong type. */
const randomEnvelope = fc.record({
  object: fc.oneof(fc.constant('whatsapp_business_account'), hostileJson),
  entry: fc.oneof(hostileJson, fc.array(fc.oneof(hostileJson, fc.record({
    id: fc.oneof(fc.constant('100000000000001'), hostileJson),
    changes: fc.oneof(hostileJson, fc.array(fc.record({
      field: fc.oneof(fc.constantFrom('messages', 'account_update', 'phone_number_quality_update', 'no_such_field'), hostileJson),
      value: fc.oneof(hostileJson, fc.record({
        metadata: fc.oneof(hostileJson, fc.record({ phone_number_id: fc.oneof(fc.constant('200000000000001'), hostileJson) })),
        contacts: hostileJson,
        messages: fc.oneof(hostileJson, fc.array(fc.record({
          from: fc.oneof(fc.constant('14155550123'), hostileJson), id: hostileJson, timestamp: fc.oneof(fc.constant('1767268800'), hostileJson),
          type: fc.oneof(fc.constantFrom(...INBOUND_MESSAGE_TYPES, 'edit', 'poll'), hostileJson), text: hostileJson,
        }, { requiredKeys: [] }), { maxLength: 3 })),
        statuses: fc.oneof(hostileJson, fc.array(fc.record({
          id: hostileJson, status: fc.oneof(fc.constantFrom('sent', 'delivered', 'read', 'failed', 'deleted'), hostileJson), timestamp: hostileJson,
        }, { requiredKeys: [] }), { maxLength: 3 })),
        errors: hostileJson,
      }, { requiredKeys: [] })),
    }, { requiredKeys: [] }), { maxLength: 3 })),
  }, { requiredKeys: [] })), { maxLength: 3 })),
}, { requiredKeys: [] });

const anyBody: fc.Arbitrary<unknown> = fc.oneof(fc.anything(), hostileJson, randomEnvelope, mutatedFixture.map((m) => m.body));

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Every `messages[]`, `statuses[]` and `errors[]` element of a body, each with the chain of
 * objects that contain it (body, entry, change, value), innermost last.
 */
function leafItems(body: unknown): Array<{ element: unknown; ancestors: unknown[] }> {
  const found: Array<{ element: unknown; ancestors: unknown[] }> = [];
  const entries = isObject(body) && Array.isArray(body.entry) ? body.entry : [];
  for (const entry of entries) {
    const changes = isObject(entry) && Array.isArray(entry.changes) ? entry.changes : [];
    for (const change of changes) {
      const value = isObject(change) ? change.value : undefined;
      if (!isObject(value)) continue;
      for (const key of ['messages', 'statuses', 'errors']) {
        const list = value[key];
        if (!Array.isArray(list)) continue;
        for (const element of list) found.push({ element, ancestors: [body, entry, change, value, list] });
      }
    }
  }
  return found;
}

function rawOf(item: ParsedWebhookItem): unknown {
  return item.kind === 'field_event' ? item.value : item.raw;
}

/** The parser's contract on one body: no throw, well-formed items, every leaf element accounted for. */
function checkParse(body: unknown): ParsedWebhookItem[] {
  const items = parseMetaWebhook(body);
  expect(Array.isArray(items)).toBe(true);
  // Only a well-formed envelope with nothing in it (no entry, no change) may yield no item.
  const envelope = isObject(body) && body.object === 'whatsapp_business_account' && Array.isArray(body.entry);
  if (!envelope) expect(items.length).toBeGreaterThan(0);
  for (const item of items) {
    if (item.kind === 'dead_letter') {
      expect(DEAD_LETTER_REASONS).toContain(item.reason);
      expect(item.detail.length).toBeGreaterThan(0);
    } else if (item.kind === 'message') {
      expect(item.providerMessageId).toEqual(expect.any(String));
      expect(item.providerMessageId).not.toBe('');
      expect(Number.isNaN(item.timestamp.getTime())).toBe(false);
      expect(INBOUND_MESSAGE_TYPES).toContain(item.type);
      expect(isObject(item.content)).toBe(true);
    } else if (item.kind === 'status') {
      expect(['sent', 'delivered', 'read', 'played', 'failed']).toContain(item.status);
    }
  }
  const raws = new Set(items.map(rawOf));
  for (const { element, ancestors } of leafItems(body)) {
    const covered = raws.has(element) || ancestors.some((ancestor) => raws.has(ancestor));
    expect(covered, `an element of type ${typeof element} is in no item`).toBe(true);
  }
  return items;
}

describe('parseMetaWebhook (properties)', () => {
  it('never throws and accounts for every message, status and error of arbitrary bodies', () => {
    fc.assert(fc.property(anyBody, (body) => {
      checkParse(body);
    }), { numRuns: 1_000 });
  });

  it('never throws on mutated fixtures, and unmutated messages keep their wamid', () => {
    fc.assert(fc.property(mutatedFixture, ({ body }) => {
      checkParse(body);
    }), { numRuns: 1_000 });
  });

  it('keeps a message whose type sub-object is missing, of the wrong type or unknown as unsupported, not lost', () => {
    const text = fixtures.find((f) => f.name === 'text.json')!.document as any;
    fc.assert(fc.property(fc.constantFrom('text', 'image', 'interactive', 'poll', 'edit', '__proto__'), hostileJson, (type, sub) => {
      const body = structuredClone(text);
      const message = body.entry[0].changes[0].value.messages[0];
      message.type = type;
      Object.defineProperty(message, type, { value: sub, enumerable: true, writable: true, configurable: true });
      const items = checkParse(body);
      expect(items).toHaveLength(1);
      expect(items[0]!.kind).toBe('message');
    }), { numRuns: 300 });
  });

  it('survives nesting 10,000 levels deep and strings of 1 MB', () => {
    const text = fixtures.find((f) => f.name === 'text.json')!.document as any;
    const deep = structuredClone(text);
    deep.entry[0].changes[0].value.messages[0].text = deeplyNested(10_000);
    deep.entry[0].changes[0].value.statuses = deeplyNested(10_000);
    expect(checkParse(deep).map((item) => item.kind)).toEqual(['message', 'dead_letter']);
    const huge = structuredClone(text);
    huge.entry[0].changes[0].value.messages[0].text.body = 'x'.repeat(1024 * 1024);
    expect(checkParse(huge)[0]).toMatchObject({ kind: 'message', type: 'text' });
  });
});

describe('inbound path with hostile webhooks (properties, real PostgreSQL)', () => {
  const bed = useAppBed(4);

  beforeAll(async () => {
    const org = await createTestOrg(bed.t.db);
    // The fixtures' numbers (PROTOCOL.md §8), so that mutated fixtures route to an organization.
    await createTestNumber(bed.t.db, org.orgId, { wabaId: '100000000000001', phoneNumberId: '200000000000001', displayPhoneNumber: '15550100001' });
    await createTestNumber(bed.t.db, org.orgId, { wabaId: '100000000000002', phoneNumberId: '200000000000002', displayPhoneNumber: '15550100002' });
  });

  /** A body as it arrives: JSON text (undefined, NaN and friends do not survive serialisation). */
  const asJson = (body: unknown) => JSON.stringify(body) ?? 'null';

  it('stores or dead-letters every parsed item of mutated fixtures and random envelopes', async () => {
    await fc.assert(fc.asyncProperty(fc.oneof(mutatedFixture.map((m) => m.body), randomEnvelope), fc.nat(), async (body, salt) => {
      // A fresh wamid prefix so that most messages are new rather than duplicates of earlier runs.
      // NUL in string values becomes U+FFFD as the route's JSON reader does (keys keep it).
      const json = asJson(body).replaceAll('wamid.', `wamid.${salt}.`);
      const parsed = JSON.parse(json, (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('\u0000', '\uFFFD') : value)) as unknown;
      const items = parseMetaWebhook(parsed);
      const summary = await ingestWebhookItems(bed.t.db, items, 'property-test');
      const accounted = summary.messagesStored + summary.duplicateMessages + summary.statusesApplied + summary.statusesIgnored
        + summary.statusesPending + summary.fieldEventsApplied + summary.deadLetters;
      expect(accounted).toBe(items.length);
    }), { numRuns: 300 });
  });

  it('answers 200 to signed hostile webhooks (never 5xx, so Meta does not redeliver them for 7 days)', async () => {
    await fc.assert(fc.asyncProperty(anyBody, async (body) => {
      const json = asJson(body);
      const response = await postWebhook(bed.app, json);
      // Nesting deeper than any Meta payload is kept whole as an invalid_json dead letter (400).
      const expected = exceedsJsonDepth(JSON.parse(json)) ? 400 : 200;
      expect(response.statusCode, response.body).toBe(expected);
    }), { numRuns: 200 });
  });

  it('keeps a signed webhook nested 100,000 levels deep as one invalid_json dead letter (400, not 500)', async () => {
    const body = `{"object":"whatsapp_business_account","entry":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    for (let i = 0; i < 2; i++) {
      const response = await postWebhook(bed.app, body);
      expect(response.statusCode, response.body).toBe(400);
      expect(response.json()).toMatchObject({ error: { code: 'invalid_json' } });
    }
    const rows = await bed.t.db.selectFrom('webhook_dead_letters').select(['reason', 'detail']).where('raw_body', '=', body).execute();
    expect(rows).toEqual([{ reason: 'invalid_json', detail: 'signed webhook body nests deeper than 64 levels' }]);
  });

  it('stores a message whose text and profile name hold NUL and lone surrogates', async () => {
    const text = fixtures.find((f) => f.name === 'text.json')!.document as any;
    const body = structuredClone(text);
    const wamid = `wamid.surrogates-${Date.now()}`;
    body.entry[0].changes[0].value.messages[0].id = wamid;
    body.entry[0].changes[0].value.messages[0].text.body = 'a\ud800b\u0000c\udfff';
    body.entry[0].changes[0].value.contacts[0].profile.name = 'M\udc00aya';
    body.entry[0].changes[0].value.messages[0]['k\ud800'] = 1;
    const response = await postWebhook(bed.app, JSON.stringify(body));
    expect(response.statusCode, response.body).toBe(200);
    const row = await bed.t.db.selectFrom('messages').select('content').where('provider_message_id', '=', wamid).executeTakeFirstOrThrow();
    expect(row.content).toEqual({ body: 'a\ufffdb\ufffdc\ufffd' });
  });
});
