/**
 * Signed webhooks under attack: a captured webhook replayed with its valid signature (again, later,
 * many times at once) changes nothing; the same body with any one byte changed, or with bytes added
 * or cut, is refused with 401 and writes nothing.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { useAppBed } from '../helpers/bed.js';
import { createTestNumber, createTestOrg, signedHeaders, type TestNumber } from '../helpers/factories.js';
import { postWebhook } from '../inbound/helpers.js';
import { fingerprint } from './routes.js';

const bed = useAppBed(12);
let number: TestNumber;

beforeAll(async () => {
  const org = await createTestOrg(bed.t.db);
  number = await createTestNumber(bed.t.db, org.orgId);
});

/** Two customers' messages, a status for an unknown wamid, an error and an unroutable change: every kind of write. */
function capturedWebhook(tag: string): string {
  const value = (phoneNumberId: string, extra: Record<string, unknown>) => ({
    field: 'messages', value: { messaging_product: 'whatsapp', metadata: { display_phone_number: '15550100001', phone_number_id: phoneNumberId }, ...extra },
  });
  const at = String(Math.floor(Date.now() / 1000));
  return JSON.stringify({
    object: 'whatsapp_business_account',
    entry: [{
      id: number.wabaId,
      changes: [
        value(number.phoneNumberId, {
          contacts: [{ profile: { name: 'Maya' }, wa_id: '14155550123' }, { profile: { name: 'Oliver' }, wa_id: '447700900123' }],
          messages: [
            { from: '14155550123', id: `wamid.${tag}.1`, timestamp: at, type: 'text', text: { body: 'first' } },
            { from: '447700900123', id: `wamid.${tag}.2`, timestamp: at, type: 'image', image: { id: 'media-1', mime_type: 'image/jpeg', sha256: 'abc' } },
          ],
          statuses: [{ id: `wamid.${tag}.out`, status: 'delivered', timestamp: at, recipient_id: '14155550123' }],
          errors: [{ code: 131000, title: 'Something went wrong' }],
        }),
        value('999999999999999', { messages: [{ from: '14155550123', id: `wamid.${tag}.3`, timestamp: at, type: 'text', text: { body: 'unroutable' } }] }),
      ],
    }],
  });
}

describe('POST /webhooks/whatsapp replayed with a valid signature', () => {
  it('changes nothing when replayed later and many times at once', async () => {
    const body = capturedWebhook('replay');
    expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    const stored = await fingerprint(bed.t.db);
    for (let i = 0; i < 3; i++) expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    const concurrent = await Promise.all(Array.from({ length: 10 }, () => postWebhook(bed.app, body)));
    expect(concurrent.map((response) => response.statusCode)).toEqual(Array(10).fill(200));
    expect(await fingerprint(bed.t.db)).toEqual(stored);
  });

  it('stores once when the first delivery and its replays race', async () => {
    const body = capturedWebhook('race');
    const responses = await Promise.all(Array.from({ length: 10 }, () => postWebhook(bed.app, body)));
    expect(responses.map((response) => response.statusCode)).toEqual(Array(10).fill(200));
    const messages = await bed.t.db.selectFrom('messages').select('provider_message_id').where('provider_message_id', 'like', 'wamid.race.%').execute();
    expect(messages.map((m) => m.provider_message_id).sort()).toEqual(['wamid.race.1', 'wamid.race.2']);
    const pending = await bed.t.db.selectFrom('pending_statuses').select('status').where('provider_message_id', '=', 'wamid.race.out').execute();
    expect(pending).toEqual([{ status: 'delivered' }]);
  });
});

describe('POST /webhooks/whatsapp with a body changed after signing', () => {
  it('answers 401 and writes nothing when any one byte is changed', async () => {
    const body = Buffer.from(capturedWebhook('tamper'));
    const headers = signedHeaders(body);
    const before = await fingerprint(bed.t.db);
    await fc.assert(fc.asyncProperty(fc.nat({ max: body.length - 1 }), fc.integer({ min: 1, max: 255 }), async (index, mask) => {
      const tampered = Buffer.from(body);
      tampered[index] = tampered[index]! ^ mask;
      const response = await postWebhook(bed.app, tampered, headers);
      expect(response.statusCode).toBe(401);
      expect(response.json().error.code).toBe('invalid_signature');
    }), { numRuns: 150 });
    expect(await fingerprint(bed.t.db)).toEqual(before);
  });

  it('answers 401 and writes nothing when bytes are appended or cut', async () => {
    const body = capturedWebhook('resize');
    const headers = signedHeaders(body);
    const before = await fingerprint(bed.t.db);
    for (const changed of [`${body} `, `${body}\n`, body.slice(0, -1), body.slice(1), `${body}{}`, body.replace('first', 'first\u0000')]) {
      const response = await postWebhook(bed.app, changed, headers);
      expect(response.statusCode).toBe(401);
    }
    expect(await fingerprint(bed.t.db)).toEqual(before);
  });
});
