/**
 * Delivery statuses move forward only (SPEC §3: queued < sending < sent < delivered < read;
 * `failed` is terminal from any state), both through status webhooks and, as a last line of
 * defence, through the `messages_status_forward_only` trigger.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MessageStatus } from '../../src/db/schema.js';
import { useAppBed } from '../helpers/bed.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import {
  createTestNumber, createTestOrg, statusWebhook, textWebhook, uniqueDigits, type TestNumber, type TestOrg,
} from '../helpers/factories.js';
import { insertOutboundMessage, insertThread, messageStatus, postWebhook } from './helpers.js';

const CUSTOMER = '14155550123';

const UNDELIVERABLE = {
  code: 131026,
  title: 'Message undeliverable',
  message: 'Message undeliverable',
  error_data: { details: 'Message failed to send because the recipient is not on WhatsApp.' },
};

describe('status webhooks for outbound messages', () => {
  const bed = useAppBed(4);
  let org: TestOrg;
  let number: TestNumber;
  let threadId: string;

  beforeAll(async () => {
    org = await createTestOrg(bed.t.db);
    number = await createTestNumber(bed.t.db, org.orgId);
    ({ threadId } = await insertThread(bed.t.db, { orgId: org.orgId, phoneNumberRef: number.id, e164: `+${CUSTOMER}` }));
  });

  /** A new outbound message with its own wamid. */
  async function outbound(status: MessageStatus = 'sent'): Promise<{ id: string; wamid: string }> {
    const wamid = `wamid.out-${uniqueDigits(12)}`;
    const id = await insertOutboundMessage(bed.t.db, { orgId: org.orgId, threadId, phoneNumberRef: number.id, wamid, status });
    return { id, wamid };
  }

  async function postStatus(wamid: string, status: string, errors?: unknown[]): Promise<void> {
    const body = statusWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, wamid, status, recipient: CUSTOMER, errors });
    const response = await postWebhook(bed.app, body);
    expect(response.statusCode, response.body).toBe(200);
  }

  it('moves a message forward through sent, delivered and read', async () => {
    const message = await outbound('queued');
    await postStatus(message.wamid, 'sent');
    expect((await messageStatus(bed.t.db, message.id)).status).toBe('sent');
    await postStatus(message.wamid, 'delivered');
    expect((await messageStatus(bed.t.db, message.id)).status).toBe('delivered');
    await postStatus(message.wamid, 'read');
    expect((await messageStatus(bed.t.db, message.id)).status).toBe('read');
  });

  it('leaves read when delivered and then sent arrive after it', async () => {
    const message = await outbound('sent');
    await postStatus(message.wamid, 'read');
    await postStatus(message.wamid, 'delivered');
    await postStatus(message.wamid, 'sent');
    expect(await messageStatus(bed.t.db, message.id)).toEqual({ status: 'read', error_code: null, error_title: null });
  });

  it('marks a delivered message failed with the error code and title', async () => {
    const message = await outbound('sent');
    await postStatus(message.wamid, 'delivered');
    await postStatus(message.wamid, 'failed', [UNDELIVERABLE]);
    expect(await messageStatus(bed.t.db, message.id)).toEqual({ status: 'failed', error_code: 131026, error_title: 'Message undeliverable' });
  });

  it('keeps a failed message failed, with its error, when read arrives later', async () => {
    const message = await outbound('sent');
    await postStatus(message.wamid, 'failed', [UNDELIVERABLE]);
    await postStatus(message.wamid, 'read');
    await postStatus(message.wamid, 'delivered');
    expect(await messageStatus(bed.t.db, message.id)).toEqual({ status: 'failed', error_code: 131026, error_title: 'Message undeliverable' });
  });

  it('keeps the first failure when a second failed status with another error arrives', async () => {
    const message = await outbound('sent');
    await postStatus(message.wamid, 'failed', [UNDELIVERABLE]);
    await postStatus(message.wamid, 'failed', [{ code: 131047, title: 'Re-engagement message' }]);
    expect(await messageStatus(bed.t.db, message.id)).toEqual({ status: 'failed', error_code: 131026, error_title: 'Message undeliverable' });
  });

  it('never changes an inbound message when a status names its wamid', async () => {
    const wamid = `wamid.in-${uniqueDigits(12)}`;
    const inbound = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from: CUSTOMER, wamid });
    expect((await postWebhook(bed.app, inbound)).statusCode).toBe(200);
    await postStatus(wamid, 'read');
    const row = await bed.t.db.selectFrom('messages').select(['direction', 'status']).where('provider_message_id', '=', wamid).executeTakeFirstOrThrow();
    expect(row).toEqual({ direction: 'inbound', status: 'received' });
  });
});

describe('messages_status_forward_only trigger', () => {
  let t: TestDatabase;
  let org: TestOrg;
  let number: TestNumber;
  let threadId: string;

  beforeAll(async () => {
    t = await createTestDatabase(2);
    org = await createTestOrg(t.db);
    number = await createTestNumber(t.db, org.orgId);
    ({ threadId } = await insertThread(t.db, { orgId: org.orgId, phoneNumberRef: number.id, e164: `+${CUSTOMER}` }));
  });
  afterAll(async () => {
    await t?.drop();
  });

  async function outbound(status: MessageStatus): Promise<string> {
    return insertOutboundMessage(t.db, { orgId: org.orgId, threadId, phoneNumberRef: number.id, wamid: `wamid.trg-${uniqueDigits(12)}`, status });
  }

  it('refuses a raw UPDATE from read back to sent with check_violation (23514)', async () => {
    const id = await outbound('read');
    const update = sql`UPDATE messages SET status = 'sent' WHERE id = ${id} AND status = 'read'`.execute(t.db);
    await expect(update).rejects.toMatchObject({ code: '23514' });
    expect((await messageStatus(t.db, id)).status).toBe('read');
  });

  it('refuses a raw UPDATE that leaves failed with check_violation (23514)', async () => {
    const id = await outbound('failed');
    await expect(sql`UPDATE messages SET status = 'delivered' WHERE id = ${id}`.execute(t.db)).rejects.toMatchObject({ code: '23514' });
    expect((await messageStatus(t.db, id)).status).toBe('failed');
  });

  it('allows a raw UPDATE that moves forward or to failed', async () => {
    const id = await outbound('sent');
    await sql`UPDATE messages SET status = 'delivered' WHERE id = ${id}`.execute(t.db);
    expect((await messageStatus(t.db, id)).status).toBe('delivered');
    await sql`UPDATE messages SET status = 'failed' WHERE id = ${id}`.execute(t.db);
    expect((await messageStatus(t.db, id)).status).toBe('failed');
  });
});
