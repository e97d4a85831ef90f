import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseMetaWebhook } from '../../../src/providers/meta/webhook.parser.js';
import type {
  ParsedDeadLetter,
  ParsedFieldEvent,
  ParsedInboundMessage,
  ParsedStatus,
  ParsedWebhookItem,
} from '../../../src/providers/types.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const fixtureDir = path.resolve(repoRoot, 'test/fixtures/meta');

/** T0 of the shared fixtures (PROTOCOL.md §8): 2026-01-01T12:00:00Z. */
const T0 = 1767268800;

type Json = Record<string, any>;

function fixture(name: string): Json {
  return JSON.parse(readFileSync(path.join(fixtureDir, name), 'utf8')) as Json;
}

function parseFixture(name: string): ParsedWebhookItem[] {
  return parseMetaWebhook(fixture(name));
}

function messages(items: ParsedWebhookItem[]): ParsedInboundMessage[] {
  return items.filter((item): item is ParsedInboundMessage => item.kind === 'message');
}

function statuses(items: ParsedWebhookItem[]): ParsedStatus[] {
  return items.filter((item): item is ParsedStatus => item.kind === 'status');
}

function deadLetters(items: ParsedWebhookItem[]): ParsedDeadLetter[] {
  return items.filter((item): item is ParsedDeadLetter => item.kind === 'dead_letter');
}

function onlyMessage(name: string): ParsedInboundMessage {
  const items = parseFixture(name);
  expect(items).toHaveLength(1);
  expect(items[0]?.kind).toBe('message');
  return items[0] as ParsedInboundMessage;
}

/** A `messages` webhook for WABA1/phone1 with the given change value (metadata added). */
function messagesBody(value: Json, entry: Json = { id: '100000000000001' }): Json {
  return {
    object: 'whatsapp_business_account',
    entry: [{
      ...entry,
      changes: [{
        field: 'messages',
        value: {
          messaging_product: 'whatsapp',
          metadata: { display_phone_number: '15550100001', phone_number_id: '200000000000001' },
          ...value,
        },
      }],
    }],
  };
}

function inbound(overrides: Json): Json {
  return { from: '14155550123', id: 'wamid.TEST1', timestamp: String(T0), ...overrides };
}

describe('parseMetaWebhook', () => {
  describe('shared fixtures', () => {
    const expectedKinds: Record<string, ParsedWebhookItem['kind'][]> = {
      'text.json': ['message'],
      'image.json': ['message'],
      'audio_voice.json': ['message'],
      'video.json': ['message'],
      'document.json': ['message'],
      'location.json': ['message'],
      'contacts.json': ['message'],
      'interactive_button_reply.json': ['message'],
      'interactive_list_reply.json': ['message'],
      'button_quick_reply.json': ['message'],
      'reaction.json': ['message'],
      'reply_context.json': ['message'],
      'unsupported.json': ['message'],
      'multi_message_batch.json': ['message', 'message', 'message'],
      'status_sent.json': ['status'],
      'status_delivered.json': ['status'],
      'status_read.json': ['status'],
      'status_failed.json': ['status'],
      'account_update_partner_added.json': ['field_event'],
      'template_status_update.json': ['field_event'],
      'quality_update.json': ['field_event'],
    };

    it.each(Object.entries(expectedKinds))('parses %s into %j with no dead letters', (name, kinds) => {
      const items = parseFixture(name);
      expect(items.map((item) => item.kind)).toEqual(kinds);
    });

    it('parses every message of a multi-message batch with its profile name', () => {
      const items = messages(parseFixture('multi_message_batch.json'));
      expect(items.map((m) => [m.waId, m.profileName, m.type])).toEqual([
        ['14155550123', 'Maya Chen', 'text'],
        ['447700900123', 'Oliver Hughes', 'text'],
        ['14155550123', 'Maya Chen', 'image'],
      ]);
      expect(items[2]?.content).toEqual({
        id: '1100000000000006',
        mime_type: 'image/jpeg',
        sha256: 'Nn3kQ8vB1xC5zL2mJ7hG4fD9sA0pO6iU3yT8rE1wQ2e=',
      });
    });

    it('keeps the routing ids, the wamid and the raw item of a message', () => {
      const message = onlyMessage('document.json');
      const raw = fixture('document.json').entry[0].changes[0].value.messages[0];
      expect(message).toMatchObject({
        wabaId: '100000000000002',
        phoneNumberId: '200000000000002',
        displayPhoneNumber: '15550100002',
        waId: '919812345678',
        profileName: 'Priya Sharma',
        providerMessageId: 'wamid.HBgMOTE5ODEyMzQ1Njc4FQIAEhgUNjBCRTI2RDVENTVGODc4MEExQTkA',
      });
      expect(message.raw).toEqual(raw);
    });

    it('converts string unix-second timestamps to Dates', () => {
      expect(onlyMessage('text.json').timestamp.toISOString()).toBe('2026-01-01T12:00:00.000Z');
      expect(onlyMessage('audio_voice.json').timestamp.getTime()).toBe((T0 + 45) * 1000);
      const [status] = statuses(parseFixture('status_failed.json'));
      expect(status?.timestamp.getTime()).toBe((T0 + 500) * 1000);
    });

    it('yields a status per statuses[] item with normalised errors', () => {
      const [failed] = statuses(parseFixture('status_failed.json'));
      expect(failed).toMatchObject({
        wabaId: '100000000000001',
        phoneNumberId: '200000000000001',
        providerMessageId: 'wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjYwQjY0OENBNzMzNjg5ODg0RQA=',
        status: 'failed',
        recipientId: '5511987654321',
      });
      expect(failed?.errors).toEqual([{
        code: 131047,
        title: 'Re-engagement message',
        message: 'Re-engagement message',
        details: 'Message failed to send because more than 24 hours have passed since the customer last replied to this number.',
      }]);
      const [sent] = statuses(parseFixture('status_sent.json'));
      expect(sent).toMatchObject({ status: 'sent', errors: [], wabaId: '100000000000002' });
    });

    it('yields a field event for account_update with the partner id as entryId', () => {
      const [event] = parseFixture('account_update_partner_added.json') as ParsedFieldEvent[];
      expect(event).toEqual({
        kind: 'field_event',
        field: 'account_update',
        entryId: '300000000000001',
        value: {
          event: 'PARTNER_ADDED',
          waba_info: { waba_id: '100000000000002', owner_business_id: '400000000000002' },
        },
      });
      const [quality] = parseFixture('quality_update.json') as ParsedFieldEvent[];
      expect(quality?.field).toBe('phone_number_quality_update');
    });
  });

  describe('message content', () => {
    it('normalises text to { body }', () => {
      expect(onlyMessage('text.json')).toMatchObject({
        type: 'text',
        content: { body: 'Hi! Is my order #4512 shipping today?' },
      });
    });

    it('normalises image with caption, media id, sha256 and lookaside url', () => {
      expect(onlyMessage('image.json').content).toEqual({
        caption: 'The box arrived damaged',
        mime_type: 'image/jpeg',
        sha256: 'q6cJ3Vh2cZJ0m2t9Xm1QwE0f8s7YkqFQ2vJv1p8n0xA=',
        id: '1100000000000001',
        url: 'https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1100000000000001&source=webhook&ext=1767272400&hash=ARtestHashImage01',
      });
    });

    it('keeps voice: true on a voice-note audio', () => {
      const message = onlyMessage('audio_voice.json');
      expect(message.type).toBe('audio');
      expect(message.content).toMatchObject({ voice: true, mime_type: 'audio/ogg; codecs=opus', id: '1100000000000002' });
    });

    it('keeps the filename of a document', () => {
      expect(onlyMessage('document.json').content).toMatchObject({
        filename: 'invoice-2025-12.pdf',
        caption: 'Invoice for December',
        mime_type: 'application/pdf',
      });
    });

    it('keeps float latitude and longitude of a location', () => {
      expect(onlyMessage('location.json').content).toEqual({
        latitude: 51.501009,
        longitude: -0.141588,
        name: 'Pickup point',
        address: '1 Example Street, London SW1A 1AA',
        url: 'https://maps.example.test/place/pickup-point',
      });
    });

    it('wraps shared contact cards in { contacts }', () => {
      const message = onlyMessage('contacts.json');
      const sent = fixture('contacts.json').entry[0].changes[0].value.messages[0].contacts;
      expect(message.type).toBe('contacts');
      expect(message.content).toEqual({ contacts: sent });
      expect((message.content.contacts as Json[])[0]?.phones[1]).toEqual({ phone: '+91 80 4000 0000', type: 'WORK' });
    });

    it('keeps an interactive button reply with the context of the quoted message', () => {
      expect(onlyMessage('interactive_button_reply.json')).toMatchObject({
        type: 'interactive',
        content: {
          type: 'button_reply',
          button_reply: { id: 'reschedule_delivery', title: 'Reschedule' },
          context: { from: '15550100001', id: 'wamid.HBgLMTQxNTU1NTAxMjMVAgARGBI4NUFCNkZFODQ5OUU0QjU1MjUA' },
        },
      });
    });

    it('keeps an interactive list reply with its description', () => {
      expect(onlyMessage('interactive_list_reply.json').content).toMatchObject({
        type: 'list_reply',
        list_reply: { id: 'ship_express', title: 'Express', description: 'Next business day' },
      });
    });

    it('keeps a template quick-reply button payload and text', () => {
      const message = onlyMessage('button_quick_reply.json');
      expect(message.type).toBe('button');
      expect(message.content).toMatchObject({ payload: 'CONFIRM_APPOINTMENT_7781', text: 'Confirm' });
    });

    it('keeps the reaction emoji and the reacted wamid', () => {
      expect(onlyMessage('reaction.json').content).toEqual({
        message_id: 'wamid.HBgLMTQxNTU1NTAxMjMVAgARGBI4QzAyMTQ5NUEyREI0ODRCNEUA',
        emoji: '\u{1F44D}',
      });
    });

    it('normalises a reaction without emoji to emoji "" (reaction removed)', () => {
      const [message] = messages(parseMetaWebhook(messagesBody({
        messages: [inbound({ type: 'reaction', reaction: { message_id: 'wamid.OUT1' } })],
      })));
      expect(message?.content).toEqual({ message_id: 'wamid.OUT1', emoji: '' });
    });

    it('adds the reply context to a text message', () => {
      expect(onlyMessage('reply_context.json').content).toEqual({
        body: 'Yes, please leave it with the concierge.',
        context: { from: '15550100001', id: 'wamid.HBgLMTQxNTU1NTAxMjMVAgARGBI4QzAyMTQ5NUEyREI0ODRCNEUA' },
      });
    });

    it('adds the forwarded context to a video', () => {
      expect(onlyMessage('video.json')).toMatchObject({
        type: 'video',
        content: { caption: 'Unboxing', mime_type: 'video/mp4', context: { forwarded: true } },
      });
    });

    it('adds a click-to-WhatsApp referral to the content', () => {
      const referral = { source_type: 'ad', source_id: '123', ctwa_clid: 'clid' };
      const [message] = messages(parseMetaWebhook(messagesBody({
        messages: [inbound({ type: 'text', text: { body: 'hi' }, referral })],
      })));
      expect(message?.content).toEqual({ body: 'hi', referral });
    });

    it('keeps unknown extra keys of a known type', () => {
      const [message] = messages(parseMetaWebhook(messagesBody({
        messages: [inbound({ type: 'text', text: { body: 'hi', future_flag: { x: 1 } } })],
      })));
      expect(message?.content).toEqual({ body: 'hi', future_flag: { x: 1 } });
    });

    it('stores a flow completion with its response_json string', () => {
      const nfm = { name: 'flow', body: 'Sent', response_json: '{"flow_token":"t1"}' };
      const [message] = messages(parseMetaWebhook(messagesBody({
        messages: [inbound({ type: 'interactive', interactive: { type: 'nfm_reply', nfm_reply: nfm } })],
      })));
      expect(message).toMatchObject({ type: 'interactive', content: { type: 'nfm_reply', nfm_reply: nfm } });
    });

    it('stores a system message that has no contacts[] with a null profile name', () => {
      const system = { body: 'User changed number', type: 'user_changed_number', wa_id: '14155550999' };
      const [message] = messages(parseMetaWebhook(messagesBody({
        messages: [inbound({ type: 'system', system })],
      })));
      expect(message).toMatchObject({ type: 'system', content: system, profileName: null });
    });
  });

  describe('unsupported messages', () => {
    it('stores type "unsupported" with the inner type and the message errors', () => {
      expect(onlyMessage('unsupported.json')).toMatchObject({
        type: 'unsupported',
        profileName: 'Maya Chen',
        content: {
          unsupported_type: 'poll',
          errors: [{
            code: 131051,
            title: 'Message type unknown',
            message: 'Message type unknown',
            details: 'Message type is currently not supported.',
          }],
        },
      });
    });

    it('stores an unknown type "edit" as unsupported with the original type', () => {
      const items = parseMetaWebhook(messagesBody({
        messages: [inbound({ type: 'edit', edit: { body: 'fixed' }, context: { id: 'wamid.X' } })],
      }));
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        kind: 'message',
        type: 'unsupported',
        content: { unsupported_type: 'edit', errors: [], context: { id: 'wamid.X' } },
      });
    });

    it('stores an interactive without its object as unsupported and dead-letters value.errors', () => {
      const valueError = {
        code: 131000,
        title: 'Something went wrong',
        message: 'Unsupported webhook payload',
        error_data: { details: 'Unsupported webhook payload' },
      };
      const items = parseMetaWebhook(messagesBody({
        messages: [inbound({ type: 'interactive' })],
        errors: [valueError],
      }));
      expect(messages(items)).toEqual([expect.objectContaining({
        type: 'unsupported',
        content: {
          unsupported_type: 'interactive',
          errors: [{ code: 131000, title: 'Something went wrong', message: 'Unsupported webhook payload', details: 'Unsupported webhook payload' }],
        },
      })]);
      const [letter] = deadLetters(items);
      expect(letter).toMatchObject({ reason: 'webhook_error', raw: valueError, phoneNumberId: '200000000000001' });
      expect(letter?.detail).toContain('131000');
      expect(letter?.detail).toContain('Something went wrong');
    });

    it('stores a known type with an invalid object as unsupported', () => {
      const [message] = messages(parseMetaWebhook(messagesBody({
        messages: [inbound({ type: 'image', image: { id: 'm1', mime_type: 'image/jpeg' } })],
      })));
      expect(message).toMatchObject({ type: 'unsupported', content: { unsupported_type: 'image', errors: [] } });
    });

    it('stores a message without a type as unsupported with unsupported_type null', () => {
      const [message] = messages(parseMetaWebhook(messagesBody({ messages: [inbound({})] })));
      expect(message).toMatchObject({ type: 'unsupported', content: { unsupported_type: null } });
    });
  });

  describe('dead letters', () => {
    it.each([
      ['null', null],
      ['a number', 42],
      ['a string', 'x'],
      ['an array', []],
      ['another object type', { object: 'page', entry: [] }],
      ['an envelope without entry array', { object: 'whatsapp_business_account', entry: {} }],
    ])('dead-letters %s as invalid_envelope with the body as raw', (_label, body) => {
      expect(parseMetaWebhook(body)).toEqual([expect.objectContaining({
        kind: 'dead_letter',
        reason: 'invalid_envelope',
        raw: body,
      })]);
    });

    it('dead-letters a change without field or object value as invalid_change', () => {
      const changes = [{ value: {} }, { field: 'messages', value: 'nope' }, 7];
      const items = parseMetaWebhook({ object: 'whatsapp_business_account', entry: [{ id: '1', changes }] });
      expect(items.map((item) => [item.kind, (item as ParsedDeadLetter).reason, (item as ParsedDeadLetter).raw]))
        .toEqual(changes.map((change) => ['dead_letter', 'invalid_change', change]));
    });

    it('dead-letters a messages change whose entry has no id as invalid_change', () => {
      const body = messagesBody({ messages: [inbound({ type: 'text', text: { body: 'hi' } })] }, {});
      const [letter] = parseMetaWebhook(body) as ParsedDeadLetter[];
      expect(letter).toMatchObject({ kind: 'dead_letter', reason: 'invalid_change', raw: body.entry[0].changes[0] });
    });

    it('dead-letters a messages change without metadata.phone_number_id as missing_metadata', () => {
      const body = fixture('text.json');
      const value = body.entry[0].changes[0].value;
      delete value.metadata.phone_number_id;
      expect(parseMetaWebhook(body)).toEqual([expect.objectContaining({
        reason: 'missing_metadata',
        wabaId: '100000000000001',
        raw: value,
      })]);
    });

    it('dead-letters a message without id as invalid_message', () => {
      const message = inbound({ id: undefined, type: 'text', text: { body: 'hi' } });
      const [letter] = parseMetaWebhook(messagesBody({ messages: [message] })) as ParsedDeadLetter[];
      expect(letter).toMatchObject({ kind: 'dead_letter', reason: 'invalid_message', raw: message });
      expect(letter?.detail).toContain('id');
    });

    it.each([
      ['an empty from', { from: '' }],
      ['a non-numeric timestamp', { timestamp: 'yesterday' }],
      ['a fractional timestamp string', { timestamp: '1767268800.5' }],
    ])('dead-letters a message with %s as invalid_message', (_label, overrides) => {
      const items = parseMetaWebhook(messagesBody({ messages: [inbound({ type: 'text', text: { body: 'x' }, ...overrides })] }));
      expect(items.map((item) => (item as ParsedDeadLetter).reason)).toEqual(['invalid_message']);
    });

    it('dead-letters a message or status whose id is longer than any wamid (256 characters)', () => {
      const long = `wamid.${'A'.repeat(251)}`;
      const items = parseMetaWebhook(messagesBody({
        messages: [inbound({ id: long, type: 'text', text: { body: 'x' } })],
        statuses: [{ id: long, status: 'sent', timestamp: String(T0) }],
      }));
      expect(items.map((item) => (item as ParsedDeadLetter).reason)).toEqual(['invalid_message', 'invalid_status']);
      const [kept] = messages(parseMetaWebhook(messagesBody({ messages: [inbound({ id: long.slice(0, 256), type: 'text', text: { body: 'x' } })] })));
      expect(kept?.providerMessageId).toHaveLength(256);
    });

    it('accepts a numeric timestamp', () => {
      const [message] = messages(parseMetaWebhook(messagesBody({
        messages: [inbound({ timestamp: T0 + 1, type: 'text', text: { body: 'x' } })],
      })));
      expect(message?.timestamp.toISOString()).toBe('2026-01-01T12:00:01.000Z');
    });

    it('dead-letters a status with an unknown value as invalid_status', () => {
      const status = { id: 'wamid.OUT', status: 'deleted', timestamp: String(T0), recipient_id: '14155550123' };
      const [letter] = parseMetaWebhook(messagesBody({ statuses: [status] })) as ParsedDeadLetter[];
      expect(letter).toMatchObject({ kind: 'dead_letter', reason: 'invalid_status', raw: status });
      expect(letter?.detail).toContain('deleted');
    });

    it('skips status error codes that are not 32-bit integers (the column is an integer)', () => {
      const status = {
        id: 'wamid.OUT', status: 'failed', timestamp: String(T0),
        errors: [{ code: 1e12, title: 'huge' }, { code: 131026.5, title: 'fraction' }, { code: 131026, title: 'Message undeliverable' }],
      };
      const [parsed] = statuses(parseMetaWebhook(messagesBody({ statuses: [status] })));
      expect(parsed?.errors.map((error) => error.code)).toEqual([131026]);
    });

    it('skips status errors without a numeric code but keeps them in raw', () => {
      const status = {
        id: 'wamid.OUT', status: 'failed', timestamp: String(T0),
        errors: [{ title: 'no code' }, { code: 131026, title: 'Message undeliverable' }],
      };
      const [parsed] = statuses(parseMetaWebhook(messagesBody({ statuses: [status] })));
      expect(parsed?.errors).toEqual([{ code: 131026, title: 'Message undeliverable', message: null, details: null }]);
      expect(parsed?.raw).toEqual(status);
      expect(parsed?.recipientId).toBeNull();
    });
  });

  describe('batches and hostile payloads', () => {
    it('keeps the good messages of a batch when one is bad', () => {
      const items = parseMetaWebhook(messagesBody({
        messages: [
          inbound({ id: 'wamid.A', type: 'text', text: { body: 'a' } }),
          'garbage',
          inbound({ id: '', type: 'text', text: { body: 'b' } }),
          inbound({ id: 'wamid.C', type: 'text', text: { body: 'c' } }),
        ],
        statuses: [{ id: 'wamid.OUT', status: 'read', timestamp: String(T0) }, null],
      }));
      expect(items.map((item) => item.kind === 'dead_letter' ? item.reason : item.kind)).toEqual([
        'message', 'invalid_message', 'invalid_message', 'message', 'status', 'invalid_status',
      ]);
      expect(messages(items).map((m) => m.providerMessageId)).toEqual(['wamid.A', 'wamid.C']);
    });

    it('iterates every entry and every change', () => {
      const text = fixture('text.json').entry[0];
      const status = fixture('status_read.json').entry[0];
      const template = fixture('template_status_update.json').entry[0];
      const body = {
        object: 'whatsapp_business_account',
        entry: [
          { ...text, changes: [...text.changes, ...template.changes] },
          status,
          { id: '9', changes: [{ field: 'brand_new_field', value: { a: 1 } }] },
        ],
      };
      expect(parseMetaWebhook(body).map((item) => item.kind)).toEqual(['message', 'field_event', 'status', 'field_event']);
      expect(parseMetaWebhook(body)[3]).toEqual({ kind: 'field_event', field: 'brand_new_field', entryId: '9', value: { a: 1 } });
    });

    it('matches the profile name on wa_id and tolerates an empty wa_id contact', () => {
      const [message] = messages(parseMetaWebhook(messagesBody({
        contacts: [{ profile: { name: 'Nobody' }, wa_id: '', user_id: 'US.1' }, { profile: { name: 'Maya' }, wa_id: '14155550123' }],
        messages: [inbound({ type: 'text', text: { body: 'x' } })],
      })));
      expect(message?.profileName).toBe('Maya');
    });

    it('never throws on wrongly typed properties anywhere', () => {
      const bodies: unknown[] = [
        { object: 'whatsapp_business_account', entry: [null, 1, { changes: 'x' }, { id: {}, changes: [null] }] },
        messagesBody({ messages: 'x', statuses: { 0: 1 }, errors: 5, contacts: 'y' }),
        messagesBody({ metadata: [] }),
        messagesBody({ messages: [inbound({ type: 'toString' }), inbound({ type: '__proto__' }), inbound({ type: 'location', location: { latitude: '1', longitude: 2 } })] }),
        messagesBody({ messages: Array.from({ length: 5000 }, (_, i) => (i % 2 ? i : inbound({ id: `w${i}`, type: 'text', text: { body: 'x' } }))) }),
      ];
      for (const body of bodies) {
        expect(() => parseMetaWebhook(body)).not.toThrow();
      }
      expect(parseMetaWebhook(bodies[4])).toHaveLength(5000);
      expect(messages(parseMetaWebhook(bodies[3])).map((m) => m.type)).toEqual(['unsupported', 'unsupported', 'unsupported']);
    });

    it('dead-letters a messages change that carries none of messages, statuses or errors', () => {
      const items = parseMetaWebhook(messagesBody({ calls: [{ id: 'c1' }] }));
      expect(items).toEqual([expect.objectContaining({ reason: 'unhandled_field', field: 'messages' })]);
    });
  });
});
