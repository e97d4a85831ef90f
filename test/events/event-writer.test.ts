/**
 * Domain events are written in the same transaction as the change (SPEC §3 outbox_events): inbound
 * webhooks, POST /v1/messages, the dispatcher's completions and number connections each leave
 * exactly the events of what they changed, correlated with the request id that caused them.
 */
import { describe, expect, it } from 'vitest';
import { withTransaction } from '../../src/db/database.js';
import { recordSends } from '../../src/conversations/message-status.js';
import { bearer, customerWaId, deliverInbound, inboundWamid } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import {
  createTestNumber, createTestOrg, signedHeaders, statusWebhook, type TestNumber, type TestOrg, textWebhook,
} from '../helpers/factories.js';
import { eventsOf } from './helpers.js';

const bed = useAppBed(5);

async function freshOrg(): Promise<{ org: TestOrg; number: TestNumber }> {
  const org = await createTestOrg(bed.t.db);
  const number = await createTestNumber(bed.t.db, org.orgId);
  return { org, number };
}

describe('events of inbound webhooks', () => {
  it('writes contact.created, conversation.started and message.received with the webhook request id', async () => {
    const { org, number } = await freshOrg();
    const from = customerWaId();
    const payload = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from, wamid: inboundWamid(), body: 'secret words' });
    const response = await bed.app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: { ...signedHeaders(payload), 'x-request-id': 'req-inbound-1' }, payload });
    expect(response.statusCode).toBe(200);

    const events = (await eventsOf(bed.t.db, org.orgId)).filter((e) => e.event_type !== 'phone_number.connected');
    expect(events.map((e) => e.event_type)).toEqual(['contact.created', 'conversation.started', 'message.received']);
    expect(events.every((e) => e.correlation_id === 'req-inbound-1' && e.published_at === null && e.event_version === 1)).toBe(true);
    const [contact, conversation, received] = events;
    expect(contact!.payload).toMatchObject({ e164: `+${from}`, wa_id: from });
    expect(conversation!.payload).toMatchObject({ contact_id: contact!.aggregate_id });
    expect(received!.payload).toMatchObject({
      thread_id: conversation!.aggregate_id, contact_id: contact!.aggregate_id, phone_number_ref: number.id,
      phone_number_id: number.phoneNumberId, direction: 'inbound', type: 'text', status: 'received',
    });
    // The same keys as every other message event (insertMessageEvents), never the content.
    expect(Object.keys(received!.payload).sort()).toEqual([
      'contact_id', 'direction', 'error_code', 'error_title', 'message_id', 'phone_number_id', 'phone_number_ref', 'provider_message_id', 'status',
      'thread_id', 'type',
    ]);
    expect(received!.payload).toMatchObject({ message_id: received!.aggregate_id, error_code: null, error_title: null });
    expect(Object.keys(contact!.payload).sort()).toEqual(['bsuid', 'client_id', 'contact_id', 'e164', 'parent_bsuid', 'username', 'wa_id']);
    expect(JSON.stringify(received!.payload)).not.toContain('secret words');
    expect(received!.metadata).toEqual({ source: 'webhook' });
  });

  it('writes only message.received for a known customer, and nothing for a redelivered webhook', async () => {
    const { org, number } = await freshOrg();
    const first = await deliverInbound(bed.app, bed.t.db, number);
    const before = (await eventsOf(bed.t.db, org.orgId)).length;
    const wamid = inboundWamid();
    await deliverInbound(bed.app, bed.t.db, number, { from: first.from, wamid });
    await deliverInbound(bed.app, bed.t.db, number, { from: first.from, wamid });
    const added = (await eventsOf(bed.t.db, org.orgId)).slice(before);
    expect(added.map((e) => e.event_type)).toEqual(['message.received']);
  });
});

describe('events of outbound messages and statuses', () => {
  it('follows a message from message.queued through sent and delivered to failed', async () => {
    const { org, number } = await freshOrg();
    const to = `+${customerWaId()}`;
    const send = await bed.app.inject({
      method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey, { 'x-request-id': 'req-send-1' }),
      payload: { from_phone_number_id: number.phoneNumberId, to, type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } },
    });
    expect(send.statusCode).toBe(202);
    const messageId = send.json<{ id: string }>().id;
    let events = (await eventsOf(bed.t.db, org.orgId)).filter((e) => e.event_type !== 'phone_number.connected');
    expect(events.map((e) => [e.event_type, e.correlation_id])).toEqual([
      ['contact.created', 'req-send-1'], ['conversation.started', 'req-send-1'], ['message.queued', 'req-send-1'],
    ]);

    // What the dispatcher's completion batch does after Meta accepted the send.
    const wamid = `wamid.out-${messageId}`;
    await withTransaction(bed.t.db, async (tx) => {
      await recordSends(tx, [{ orgId: org.orgId, messageId, phoneNumberRef: number.id, wamid, correlationId: 'req-send-1' }]);
    });
    for (const status of ['delivered', 'delivered']) {
      const payload = statusWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, wamid, status, recipient: to.slice(1) });
      expect((await bed.app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(payload), payload })).statusCode).toBe(200);
    }
    const failed = statusWebhook({
      wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, wamid, status: 'failed', recipient: to.slice(1),
      errors: [{ code: 131026, title: 'Message undeliverable' }],
    });
    expect((await bed.app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(failed), payload: failed })).statusCode).toBe(200);

    events = (await eventsOf(bed.t.db, org.orgId)).filter((e) => e.aggregate_id === messageId);
    expect(events.map((e) => [e.event_type, e.payload.status])).toEqual([
      ['message.queued', 'queued'], ['message.status_changed', 'sent'], ['message.status_changed', 'delivered'], ['message.failed', 'failed'],
    ]);
    expect(events.at(-1)!.payload).toMatchObject({ message_id: messageId, error_code: 131026, error_title: 'Message undeliverable', direction: 'outbound' });
  });

  it('writes no event for a refused send (the transaction rolled back)', async () => {
    const { org, number } = await freshOrg();
    const before = (await eventsOf(bed.t.db, org.orgId)).length;
    const send = await bed.app.inject({
      method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey),
      payload: { from_phone_number_id: number.phoneNumberId, to: `+${customerWaId()}`, type: 'text', text: { body: 'hi' } },
    });
    expect(send.json()).toMatchObject({ error: { code: 'outside_customer_service_window' } });
    expect((await eventsOf(bed.t.db, org.orgId)).length).toBe(before);
  });
});

describe('events of phone numbers', () => {
  it('writes phone_number.connected when a number is connected', async () => {
    const { org, number } = await freshOrg();
    const events = await eventsOf(bed.t.db, org.orgId);
    expect(events.map((e) => e.event_type)).toEqual(['phone_number.connected']);
    expect(events[0]!.payload).toMatchObject({ phone_number_ref: number.id, phone_number_id: number.phoneNumberId, waba_id: number.wabaId, created: true });
  });
});
