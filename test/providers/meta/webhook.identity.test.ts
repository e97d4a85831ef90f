/**
 * The Meta parser with business-scoped user IDs (issue 15, docs/PROTOCOL-NOTES.md): every message
 * type of the shared fixtures with and without `from`/`wa_id`, with `from_user_id`; statuses with
 * `recipient_user_id` only; malformed and over-long BSUIDs dead-lettered with a reason; and
 * fast-check properties over the new fields (the parser never throws, a stored sender always has a
 * valid identity).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseMetaWebhook } from '../../../src/providers/meta/webhook.parser.js';
import type { ParsedDeadLetter, ParsedInboundMessage, ParsedStatus, ParsedWebhookItem } from '../../../src/providers/types.js';
import { isBsuid } from '../../../src/shared/bsuid.js';
import { metaFixtureBytes, metaFixtureNames } from '../../inbound/helpers.js';

type Json = Record<string, any>;

const BSUID = 'US.13491208655302741918';
const PARENT = 'US.ENT.11815799212886844830';

const fixtures = metaFixtureNames().map((name) => ({ name, document: JSON.parse(metaFixtureBytes(name).toString('utf8')) as Json }));
/** Fixtures carrying customer messages (one per message type, plus batches). */
const messageFixtures = fixtures.filter(({ document }) => document.entry?.[0]?.changes?.[0]?.value?.messages);
const statusFixtures = fixtures.filter(({ document }) => document.entry?.[0]?.changes?.[0]?.value?.statuses);

const byKind = <K extends ParsedWebhookItem['kind']>(items: ParsedWebhookItem[], kind: K) =>
  items.filter((item) => item.kind === kind) as Array<Extract<ParsedWebhookItem, { kind: K }>>;

/** Rewrites every message of a fixture as Meta sends it for a user whose number is withheld (or, with keepPhone, as it sends it since April 2026 for everyone). */
function withBsuid(document: Json, options: { keepPhone: boolean; username?: string }): Json {
  const copy = structuredClone(document);
  for (const entry of copy.entry) {
    for (const change of entry.changes) {
      const value = change.value;
      for (const message of value.messages ?? []) {
        message.from_user_id = `US.${message.from ?? '1'}`;
        if (!options.keepPhone) delete message.from;
      }
      value.contacts = (value.contacts ?? []).map((contact: Json) => {
        const next: Json = { ...contact, user_id: `US.${contact.wa_id}`, parent_user_id: PARENT, profile: { ...contact.profile, username: options.username } };
        if (!options.keepPhone) delete next.wa_id;
        return next;
      });
    }
  }
  return copy;
}

describe('parseMetaWebhook with business-scoped user IDs', () => {
  it.each(messageFixtures.map((f) => [f.name, f.document] as const))('%s: a username-only sender (no from, no wa_id) is a message with its BSUID', (_name, document) => {
    const plain = byKind(parseMetaWebhook(document), 'message');
    const items = parseMetaWebhook(withBsuid(document, { keepPhone: false, username: 'sheena' }));
    const parsed = byKind(items, 'message');
    expect(byKind(items, 'dead_letter')).toEqual([]);
    expect(parsed.map((m) => m.type)).toEqual(plain.map((m) => m.type));
    for (const [index, message] of parsed.entries()) {
      expect(message.waId).toBeNull();
      expect(message.bsuid).toBe(`US.${plain[index]!.waId}`);
      expect(message.parentBsuid).toBe(PARENT);
      expect(message.username).toBe('sheena');
      expect(message.profileName).toBe(plain[index]!.profileName);
    }
  });

  it.each(messageFixtures.map((f) => [f.name, f.document] as const))('%s: a sender with both identities keeps wa_id and BSUID', (_name, document) => {
    const plain = byKind(parseMetaWebhook(document), 'message');
    const parsed = byKind(parseMetaWebhook(withBsuid(document, { keepPhone: true })), 'message');
    expect(parsed.map((m) => [m.waId, m.bsuid, m.username])).toEqual(plain.map((m) => [m.waId, `US.${m.waId}`, null]));
  });

  it.each(messageFixtures.map((f) => [f.name, f.document] as const))('%s: without any BSUID field the message parses as before (bsuid null)', (_name, document) => {
    for (const message of byKind(parseMetaWebhook(document), 'message')) {
      expect(message).toMatchObject({ bsuid: null, parentBsuid: null, username: null });
      expect(message.waId).toMatch(/^\d+$/);
    }
  });

  it('takes the BSUID from contacts[].user_id when the message has from but no from_user_id', () => {
    const document = structuredClone(messageFixtures.find((f) => f.name === 'text.json')!.document);
    const value = document.entry[0].changes[0].value;
    value.contacts[0].user_id = BSUID;
    const [message] = byKind(parseMetaWebhook(document), 'message') as [ParsedInboundMessage];
    expect(message.bsuid).toBe(BSUID);
    expect(message.waId).toBe(value.messages[0].from);
  });

  it.each([
    ['malformed', 'not a bsuid'],
    ['lower-case country', 'us.1349120865530'],
    ['over-long', `US.${'1'.repeat(129)}`],
    ['a parent BSUID as sender', PARENT],
    ['a number', 1349120865],
  ])('dead-letters a message whose from_user_id is %s, with a reason, never throwing', (_what, fromUserId) => {
    const document = structuredClone(messageFixtures.find((f) => f.name === 'text.json')!.document);
    const message = document.entry[0].changes[0].value.messages[0];
    delete message.from;
    message.from_user_id = fromUserId;
    const [item] = parseMetaWebhook(document) as [ParsedDeadLetter];
    expect(item).toMatchObject({ kind: 'dead_letter', reason: 'invalid_message' });
    expect(item.detail).toMatch(/from_user_id is not a business-scoped user ID/);
  });

  it('dead-letters a message with neither from nor from_user_id', () => {
    const document = structuredClone(messageFixtures.find((f) => f.name === 'text.json')!.document);
    delete document.entry[0].changes[0].value.messages[0].from;
    const [item] = parseMetaWebhook(document) as [ParsedDeadLetter];
    expect(item).toMatchObject({ kind: 'dead_letter', reason: 'invalid_message', detail: expect.stringMatching(/no from and no from_user_id/) });
  });

  it('dead-letters a sender whose contacts[].user_id is malformed', () => {
    const document = structuredClone(messageFixtures.find((f) => f.name === 'text.json')!.document);
    document.entry[0].changes[0].value.contacts[0].user_id = 'US.<script>';
    const [item] = parseMetaWebhook(document) as [ParsedDeadLetter];
    expect(item).toMatchObject({ kind: 'dead_letter', reason: 'invalid_message', detail: expect.stringMatching(/contacts\[\]\.user_id/) });
  });

  it('drops a malformed parent BSUID and an over-long username, keeping the message', () => {
    const document = withBsuid(messageFixtures.find((f) => f.name === 'text.json')!.document, { keepPhone: false, username: 'x'.repeat(101) });
    document.entry[0].changes[0].value.contacts[0].parent_user_id = 'US.ENT.';
    const [message] = byKind(parseMetaWebhook(document), 'message') as [ParsedInboundMessage];
    expect(message).toMatchObject({ parentBsuid: null, username: null, bsuid: expect.stringMatching(/^US\./) });
  });

  it.each(statusFixtures.map((f) => [f.name, f.document] as const))('%s: a status with recipient_user_id and no recipient_id is still a status', (_name, document) => {
    const copy = structuredClone(document);
    for (const status of copy.entry[0].changes[0].value.statuses) {
      delete status.recipient_id;
      status.recipient_user_id = BSUID;
    }
    const parsed = byKind(parseMetaWebhook(copy), 'status');
    expect(parsed.length).toBeGreaterThan(0);
    for (const status of parsed as ParsedStatus[]) expect(status).toMatchObject({ recipientId: null, recipientUserId: BSUID });
  });

  describe('properties', () => {
    const identityValue = fc.oneof(
      fc.constant(undefined), fc.constant(BSUID), fc.constant(PARENT), fc.string({ maxLength: 200 }),
      fc.stringMatching(/^[A-Z]{2}\.[A-Za-z0-9]{1,140}$/), fc.integer(), fc.constant(null), fc.array(fc.string(), { maxLength: 2 }),
    );
    const body = fc.record({
      from: fc.oneof(fc.constant(undefined), fc.constant('14155550123'), fc.string({ maxLength: 20 })),
      fromUserId: identityValue, userId: identityValue, parentUserId: identityValue, username: identityValue, waId: fc.oneof(fc.constant(undefined), fc.constant('14155550123')),
    }).map((v) => ({
      object: 'whatsapp_business_account',
      entry: [{ id: '100000000000001', changes: [{ field: 'messages', value: {
        messaging_product: 'whatsapp', metadata: { display_phone_number: '15550100001', phone_number_id: '200000000000001' },
        contacts: [{ profile: { name: 'Customer', username: v.username }, wa_id: v.waId, user_id: v.userId, parent_user_id: v.parentUserId }],
        messages: [{ from: v.from, from_user_id: v.fromUserId, id: 'wamid.P', timestamp: '1767268800', type: 'text', text: { body: 'hi' } }],
      } }] }],
    }));

    it('never throws, and every message item names its sender by a valid BSUID or a from', () => {
      fc.assert(fc.property(body, (document) => {
        const items = parseMetaWebhook(JSON.parse(JSON.stringify(document)));
        expect(items).toHaveLength(1);
        const [item] = items as [ParsedWebhookItem];
        if (item.kind === 'message') {
          expect(item.waId !== null || item.bsuid !== null).toBe(true);
          if (item.bsuid !== null) expect(isBsuid(item.bsuid)).toBe(true);
          if (item.parentBsuid !== null) expect(item.parentBsuid).toMatch(/^[A-Z]{2}\.ENT\./);
          if (item.username !== null) expect(item.username.length).toBeLessThanOrEqual(100);
        } else {
          expect(item).toMatchObject({ kind: 'dead_letter', reason: 'invalid_message' });
        }
      }), { numRuns: 500 });
    });
  });
});
