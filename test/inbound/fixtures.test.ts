/**
 * Every shared Meta fixture (PROTOCOL.md §8.1), posted byte for byte and signed with
 * `test_app_secret`, twice, in shuffled orders, into one organization that owns the two fixture
 * numbers. The outcome must not depend on arrival order or on redelivery.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { signMetaPayload } from '../../src/providers/meta/signature.js';
import { useAppBed } from '../helpers/bed.js';
import {
  TEST_APP_SECRET, countRows, createTestNumber, createTestOrg, signedHeaders, statusWebhook,
  type TestNumber, type TestOrg,
} from '../helpers/factories.js';
import {
  insertOutboundMessage, insertThread, messageStatus, metaFixtureBytes, metaFixtureNames, postWebhook, seededRandom, shuffled,
} from './helpers.js';

/** PROTOCOL.md §8 conventions. */
const WABA_1 = '100000000000001';
const PHONE_1 = '200000000000001';
const WABA_2 = '100000000000002';
const PHONE_2 = '200000000000002';

/** Outbound wamid of status_sent/delivered/read (WABA2/phone2, Priya). */
const WAMID_APPOINTMENT = 'wamid.HBgMOTE5ODEyMzQ1Njc4FQIAERgSMUNBMDVCQzJDQTg4RDRFMEQwAA==';
/** Outbound wamid of status_failed (WABA1/phone1, Ana). */
const WAMID_FAILED = 'wamid.HBgNNTUxMTk4NzY1NDMyMRUCABEYEjYwQjY0OENBNzMzNjg5ODg0RQA=';

/** PROTOCOL.md §8.1, "Expected X-Hub-Signature-256" (a sample of the table). */
const EXPECTED_SIGNATURES: Record<string, { bytes: number; header: string }> = {
  'text.json': { bytes: 988, header: 'sha256=1d2396ec7b1aee5690b02ae33a9ec48e12c2bab6248357857bd6c41ae13bcf76' },
  'reaction.json': { bytes: 1066, header: 'sha256=9ec314a144ae6d999fce144c056078fe9ccbc939ba51df318c0688109e2a3198' },
  'status_failed.json': { bytes: 1237, header: 'sha256=6d5bbb9e56df1311c719c9db94d59248ff3d90834429ada29f02b00d5b5fa65d' },
  'quality_update.json': { bytes: 471, header: 'sha256=fa1670b75a633247093300d6ab2bb022ee9ea40e10a739784cf8dc688c5a6122' },
  'account_update_partner_added.json': { bytes: 424, header: 'sha256=3befd27b4261c8c705de35941e1d45cf562710cafdf5542ddc0c47b8ecf0f1b8' },
};

type Json = Record<string, any>;

interface FixtureMessage {
  phoneNumberId: string;
  from: string;
  wamid: string;
  timestamp: number;
  profileName: string | undefined;
}

/** Every `messages[]` item of every fixture, with its business number and the sender's profile name. */
function fixtureMessages(names: string[]): FixtureMessage[] {
  const found: FixtureMessage[] = [];
  for (const name of names) {
    const body = JSON.parse(metaFixtureBytes(name).toString('utf8')) as Json;
    for (const entry of body.entry as Json[]) {
      for (const change of entry.changes as Json[]) {
        const value = change.value as Json;
        for (const message of (value.messages ?? []) as Json[]) {
          const contact = ((value.contacts ?? []) as Json[]).find((c) => c.wa_id === message.from);
          found.push({
            phoneNumberId: value.metadata.phone_number_id,
            from: message.from,
            wamid: message.id,
            timestamp: Number(message.timestamp),
            profileName: contact?.profile?.name,
          });
        }
      }
    }
  }
  return found;
}

describe('POST /webhooks/whatsapp with every shared Meta fixture', () => {
  const bed = useAppBed();
  let org: TestOrg;
  let phone1: TestNumber;
  let phone2: TestNumber;
  let appointmentMessageId: string;
  let failedMessageId: string;
  const names = metaFixtureNames();
  const seed = Date.now() >>> 0;
  const answers: { round: number; name: string; status: number; body: string }[] = [];
  const orders: string[][] = [];

  beforeAll(async () => {
    org = await createTestOrg(bed.t.db, 'Fixture org');
    phone1 = await createTestNumber(bed.t.db, org.orgId, { wabaId: WABA_1, phoneNumberId: PHONE_1, displayPhoneNumber: '15550100001' });
    phone2 = await createTestNumber(bed.t.db, org.orgId, { wabaId: WABA_2, phoneNumberId: PHONE_2, displayPhoneNumber: '15550100002' });

    // The outbound messages the status fixtures refer to, as a send would have left them.
    const priya = await insertThread(bed.t.db, { orgId: org.orgId, phoneNumberRef: phone2.id, e164: '+919812345678' });
    appointmentMessageId = await insertOutboundMessage(bed.t.db, {
      orgId: org.orgId, threadId: priya.threadId, phoneNumberRef: phone2.id, wamid: WAMID_APPOINTMENT, status: 'queued',
    });
    const ana = await insertThread(bed.t.db, { orgId: org.orgId, phoneNumberRef: phone1.id, e164: '+5511987654321' });
    failedMessageId = await insertOutboundMessage(bed.t.db, {
      orgId: org.orgId, threadId: ana.threadId, phoneNumberRef: phone1.id, wamid: WAMID_FAILED, status: 'sent',
    });

    const random = seededRandom(seed);
    for (const round of [1, 2]) {
      let order = shuffled(names, random);
      // The second round must really be another order (21 files: a repeat is unlikely, but possible).
      while (round === 2 && order.join() === orders[0]!.join()) order = shuffled(names, random);
      orders.push(order);
      for (const name of order) {
        const bytes = metaFixtureBytes(name);
        const response = await postWebhook(bed.app, bytes, signedHeaders(bytes));
        answers.push({ round, name, status: response.statusCode, body: response.body });
      }
    }
  });

  it('finds the 21 fixture files of PROTOCOL.md §8.1 and the 2 template fixtures of wahub', () => {
    expect(names).toHaveLength(23);
    expect(names).toEqual(expect.arrayContaining(['template_status_update.json', 'template_category_update.json', 'template_quality_update.json']));
    expect(names).toContain('multi_message_batch.json');
  });

  it('signs the fixtures exactly as PROTOCOL.md §8.1 lists', () => {
    for (const [name, expected] of Object.entries(EXPECTED_SIGNATURES)) {
      const bytes = metaFixtureBytes(name);
      expect(bytes.length, name).toBe(expected.bytes);
      expect(signMetaPayload(TEST_APP_SECRET, bytes), name).toBe(expected.header);
      expect(signedHeaders(bytes)['x-hub-signature-256'], name).toBe(expected.header);
    }
  });

  it('answers 200 to every fixture in both shuffled rounds', () => {
    expect(orders[1], `seed ${seed}`).not.toEqual(orders[0]);
    expect(answers).toHaveLength(names.length * 2);
    for (const answer of answers) {
      expect({ round: answer.round, name: answer.name, status: answer.status }, `seed ${seed}: ${answer.body}`)
        .toEqual({ round: answer.round, name: answer.name, status: 200 });
    }
  });

  it('stores every inbound message once, however often and in whatever order it arrives', async () => {
    const expected = fixtureMessages(names);
    expect(expected).toHaveLength(16); // 13 single-message fixtures + 3 in multi_message_batch
    const rows = await bed.t.db.selectFrom('messages').select(['provider_message_id', 'direction', 'status'])
      .where('org_id', '=', org.orgId).where('direction', '=', 'inbound').execute();
    expect(rows.map((row) => row.provider_message_id).sort()).toEqual(expected.map((m) => m.wamid).sort());
    expect(rows.every((row) => row.status === 'received')).toBe(true);
    // 16 inbound + the 2 outbound messages created for the status fixtures.
    expect(await countRows(bed.t.db, 'messages')).toBe(expected.length + 2);
  });

  it('creates one contact and one client per customer and one thread per (number, customer)', async () => {
    const messages = fixtureMessages(names);
    const customers = new Set([...messages.map((m) => m.from), '919812345678', '5511987654321']);
    const pairs = new Set([...messages.map((m) => `${m.phoneNumberId}:${m.from}`), `${PHONE_2}:919812345678`, `${PHONE_1}:5511987654321`]);
    expect(customers.size).toBe(4);
    expect(pairs.size).toBe(4);
    expect(await countRows(bed.t.db, 'contacts')).toBe(customers.size);
    expect(await countRows(bed.t.db, 'clients')).toBe(customers.size);
    expect(await countRows(bed.t.db, 'threads')).toBe(pairs.size);

    const threads = await bed.t.db.selectFrom('threads')
      .innerJoin('contacts', 'contacts.id', 'threads.contact_id')
      .innerJoin('phone_numbers', 'phone_numbers.id', 'threads.phone_number_ref')
      .select(['phone_numbers.phone_number_id', 'contacts.wa_id', 'threads.last_inbound_at', 'threads.status'])
      .execute();
    expect(new Set(threads.map((row) => `${row.phone_number_id}:${row.wa_id}`))).toEqual(pairs);
    // The customer service window starts at the newest message of each thread, whatever the order.
    for (const thread of threads) {
      const newest = Math.max(...messages.filter((m) => m.phoneNumberId === thread.phone_number_id && m.from === thread.wa_id).map((m) => m.timestamp));
      expect(thread.last_inbound_at?.getTime(), `${thread.phone_number_id}:${thread.wa_id}`).toBe(newest * 1000);
      expect(thread.status).toBe('open');
    }
  });

  it('stores the profile name of each customer on the contact', async () => {
    const contacts = await bed.t.db.selectFrom('contacts').select(['e164', 'wa_id', 'profile_name', 'last_active_at']).orderBy('e164').execute();
    expect(contacts.map(({ e164, wa_id, profile_name }) => ({ e164, wa_id, profile_name }))).toEqual([
      { e164: '+14155550123', wa_id: '14155550123', profile_name: 'Maya Chen' },
      { e164: '+447700900123', wa_id: '447700900123', profile_name: 'Oliver Hughes' },
      { e164: '+5511987654321', wa_id: '5511987654321', profile_name: 'Ana Souza' },
      { e164: '+919812345678', wa_id: '919812345678', profile_name: 'Priya Sharma' },
    ]);
    const maya = contacts.find((c) => c.wa_id === '14155550123');
    expect(maya?.last_active_at?.getTime()).toBe(1767269501 * 1000); // her newest message, in the batch
  });

  it('moves the sent/delivered/read message to read whatever the arrival order', async () => {
    expect(await messageStatus(bed.t.db, appointmentMessageId), `seed ${seed}`).toEqual({ status: 'read', error_code: null, error_title: null });
  });

  it('marks the failed message failed with the error code 131047 and its title', async () => {
    expect(await messageStatus(bed.t.db, failedMessageId)).toEqual({ status: 'failed', error_code: 131047, error_title: 'Re-engagement message' });
  });

  it('leaves no pending status for a wamid it knows', async () => {
    const pending = await bed.t.db.selectFrom('pending_statuses').select('provider_message_id')
      .where('provider_message_id', 'in', [WAMID_APPOINTMENT, WAMID_FAILED]).execute();
    expect(pending).toEqual([]);
  });

  it('dead-letters only the PARTNER_ADDED no pending signup can own: every other field of the fixtures is processed', async () => {
    const rows = await bed.t.db.selectFrom('webhook_dead_letters').select(['reason', 'field', 'waba_id', 'phone_number_id']).orderBy('field').execute();
    // PARTNER_ADDED with no pending Embedded Signup to own it is kept, never linked to a guess.
    expect(rows).toEqual([{ reason: 'ambiguous_partner', field: 'account_update', waba_id: WABA_2, phone_number_id: null }]);
  });

  it('keeps one registry row for order_shipped with its status, category move and quality, whatever the order', async () => {
    const rows = await bed.t.db.selectFrom('templates')
      .select(['name', 'language', 'meta_template_id', 'status', 'category', 'previous_category', 'quality_score', 'synced_at'])
      .where('name', '=', 'order_shipped').execute();
    expect(rows, `seed ${seed}`).toEqual([{
      name: 'order_shipped', language: 'en_US', meta_template_id: '500000000000001', status: 'APPROVED', category: 'MARKETING',
      previous_category: 'UTILITY', quality_score: 'GREEN', synced_at: null,
    }]);
    const events = await bed.t.db.selectFrom('outbox_events').select('event_type').where('aggregate_type', '=', 'template').orderBy('event_type').execute();
    expect(events.map((e) => e.event_type)).toEqual(['template.category_changed', 'template.quality_changed', 'template.status_changed']);
  });

  it('records account_update PARTNER_ADDED once, keyed on waba_info.waba_id (not entry.id)', async () => {
    const rows = await bed.t.db.selectFrom('account_events').select(['event', 'waba_id', 'org_id']).execute();
    // No Embedded Signup state is pending in this database, so the WABA is not linked to anyone.
    expect(rows).toEqual([{ event: 'PARTNER_ADDED', waba_id: WABA_2, org_id: null }]);
  });

  it('applies quality_update (WABA1, display 15550100001, TIER_UNLIMITED) to phone 1 only', async () => {
    const fixture = JSON.parse(metaFixtureBytes('quality_update.json').toString('utf8')) as Json;
    const value = fixture.entry[0].changes[0].value as Json;
    expect([fixture.entry[0].id, value.display_phone_number, value.current_limit]).toEqual([WABA_1, '15550100001', 'TIER_UNLIMITED']);
    const numbers = await bed.t.db.selectFrom('phone_numbers').select(['phone_number_id', 'messaging_limit_tier']).orderBy('phone_number_id').execute();
    expect(numbers).toEqual([
      { phone_number_id: PHONE_1, messaging_limit_tier: 'TIER_UNLIMITED' },
      { phone_number_id: PHONE_2, messaging_limit_tier: null },
    ]);
  });

  it('stores each content shape as the fixture sent it', async () => {
    const byWamid = async (wamid: string) => bed.t.db.selectFrom('messages').select(['type', 'content', 'raw'])
      .where('provider_message_id', '=', wamid).executeTakeFirstOrThrow();

    const text = await byWamid('wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQ4NDMwNDZDMDQ2RThGOTRGRDQzNAA=');
    expect(text.type).toBe('text');
    expect(text.content).toEqual({ body: 'Hi! Is my order #4512 shipping today?' });

    const image = await byWamid('wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQ0RjUwNUE3N0MyMjY4QzZDQzUxNwA=');
    expect(image.type).toBe('image');
    expect(image.content).toMatchObject({ id: '1100000000000001', caption: 'The box arrived damaged', mime_type: 'image/jpeg' });

    const location = await byWamid('wamid.HBgMNDQ3NzAwOTAwMTIzFQIAEhgUMzczRUEzN0U2QUE5OEQwQTkxQTIA');
    expect(location.type).toBe('location');
    expect(location.content).toMatchObject({ latitude: 51.501009, longitude: -0.141588, name: 'Pickup point' });

    const unsupported = await byWamid('wamid.HBgLMTQxNTU1NTAxMjMVAgASGBRBQzE5MjI4QUUxQjRBOEEzN0M5NwA=');
    expect(unsupported.type).toBe('unsupported');
    expect(unsupported.content).toMatchObject({ unsupported_type: 'poll', errors: [{ code: 131051, title: 'Message type unknown' }] });
    expect(unsupported.raw).toMatchObject({ type: 'unsupported', unsupported: { type: 'poll' } });

    const reaction = await byWamid('wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQwOThBQUJFNjhEQTU0QTgwRjY5QwA=');
    expect(reaction.content).toEqual({ message_id: 'wamid.HBgLMTQxNTU1NTAxMjMVAgARGBI4QzAyMTQ5NUEyREI0ODRCNEUA', emoji: '\u{1F44D}' });

    const video = await byWamid('wamid.HBgNNTUxMTk4NzY1NDMyMRUCABIYFDk4OUQ1MDY2NTJDN0UxRjBFMjE5AA==');
    expect(video.content).toMatchObject({ id: '1100000000000003', caption: 'Unboxing', context: { forwarded: true } });

    const batchImage = await byWamid('wamid.HBgLMTQxNTU1NTAxMjMVAgASGBQyRERGOTkwRUExMTIyRjg4NjlFMgA=');
    expect(batchImage.type).toBe('image');
    expect(batchImage.content).toEqual({ id: '1100000000000006', mime_type: 'image/jpeg', sha256: 'Nn3kQ8vB1xC5zL2mJ7hG4fD9sA0pO6iU3yT8rE1wQ2e=' });
  });

  it('keeps a status for an unknown wamid in pending_statuses once, even when posted 3 times', async () => {
    const wamid = 'wamid.UNKNOWN-OUTBOUND-0001';
    const body = statusWebhook({ wabaId: WABA_1, phoneNumberId: PHONE_1, wamid, status: 'delivered', recipient: '14155550123' });
    const messagesBefore = await countRows(bed.t.db, 'messages');
    for (let i = 0; i < 3; i++) expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    const pending = await bed.t.db.selectFrom('pending_statuses').select(['status', 'phone_number_ref', 'org_id'])
      .where('provider_message_id', '=', wamid).execute();
    expect(pending).toEqual([{ status: 'delivered', phone_number_ref: phone1.id, org_id: org.orgId }]);
    expect(await countRows(bed.t.db, 'messages')).toBe(messagesBefore);
  });
});

describe('POST /webhooks/whatsapp with the status fixtures in every order', () => {
  const bed = useAppBed(4);
  let org: TestOrg;
  let number: TestNumber;
  let threadId: string;

  beforeAll(async () => {
    org = await createTestOrg(bed.t.db);
    number = await createTestNumber(bed.t.db, org.orgId, { wabaId: WABA_2, phoneNumberId: PHONE_2, displayPhoneNumber: '15550100002' });
    ({ threadId } = await insertThread(bed.t.db, { orgId: org.orgId, phoneNumberRef: number.id, e164: '+919812345678' }));
  });

  const permutations = [
    ['status_sent.json', 'status_delivered.json', 'status_read.json'],
    ['status_sent.json', 'status_read.json', 'status_delivered.json'],
    ['status_delivered.json', 'status_sent.json', 'status_read.json'],
    ['status_delivered.json', 'status_read.json', 'status_sent.json'],
    ['status_read.json', 'status_sent.json', 'status_delivered.json'],
    ['status_read.json', 'status_delivered.json', 'status_sent.json'],
  ];

  it.each(permutations.map((order) => [order.join(' → '), order] as const))('ends at read for %s', async (_title, order) => {
    // The fixtures name one wamid, so each order starts from a fresh outbound message owning it.
    await bed.t.db.deleteFrom('messages').where('org_id', '=', org.orgId).where('provider_message_id', '=', WAMID_APPOINTMENT).execute();
    const messageId = await insertOutboundMessage(bed.t.db, { orgId: org.orgId, threadId, phoneNumberRef: number.id, wamid: WAMID_APPOINTMENT, status: 'sent' });
    for (const name of order) {
      expect((await postWebhook(bed.app, metaFixtureBytes(name))).statusCode, name).toBe(200);
    }
    expect(await messageStatus(bed.t.db, messageId)).toEqual({ status: 'read', error_code: null, error_title: null });
    expect(await countRows(bed.t.db, 'pending_statuses', org.orgId)).toBe(0);
  });
});
