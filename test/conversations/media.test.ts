import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTrustedMediaUrl } from '../../src/providers/meta/media.client.js';
import { bearer, customerWaId, inboundWamid } from '../helpers/api.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestNumber, createTestOrg, signedHeaders } from '../helpers/factories.js';
import { type Hub, startHub } from '../onboarding/helpers.js';

describe('GET /v1/messages/{id}/media', () => {
  let t: TestDatabase;
  let hub: Hub;

  beforeAll(async () => {
    t = await createTestDatabase(4);
    hub = await startHub(t.db);
  });
  afterAll(async () => {
    await hub?.close();
    await t?.drop();
  });

  it('streams an inbound document from Meta (the simulator) as an attachment, with the number\'s token', async () => {
    const org = await createTestOrg(t.db);
    const number = await createTestNumber(t.db, org.orgId);
    const payload = JSON.stringify({
      object: 'whatsapp_business_account',
      entry: [{ id: number.wabaId, changes: [{ field: 'messages', value: {
        messaging_product: 'whatsapp', metadata: { display_phone_number: number.displayPhoneNumber, phone_number_id: number.phoneNumberId },
        contacts: [{ profile: { name: 'Maya' }, wa_id: customerWaId() }],
        messages: [{ from: customerWaId(), id: inboundWamid(), timestamp: String(Math.floor(Date.now() / 1000)), type: 'document',
          document: { id: '778899', mime_type: 'application/pdf', sha256: 'abc', filename: 'invoice "March".pdf', caption: 'my invoice' } }],
      } }] }],
    });
    expect((await hub.app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(payload), payload })).statusCode).toBe(200);
    const message = await t.db.selectFrom('messages').select('id').where('org_id', '=', org.orgId).executeTakeFirstOrThrow();

    const response = await hub.app.inject({ method: 'GET', url: `/v1/messages/${message.id}/media`, headers: bearer(org.apiKey) });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.body).toBe('simulated WhatsApp media 778899\n');
    expect(response.headers['content-disposition']).toBe('attachment; filename="invoice _March_.pdf"');

    const stranger = await createTestOrg(t.db, 'Stranger');
    expect((await hub.app.inject({ method: 'GET', url: `/v1/messages/${message.id}/media`, headers: bearer(stranger.apiKey) })).statusCode).toBe(404);
  });

  it('follows only Meta media hosts or the configured Graph base', () => {
    expect(isTrustedMediaUrl('https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1', 'https://graph.facebook.com')).toBe(true);
    expect(isTrustedMediaUrl('http://lookaside.fbsbx.com/x', 'https://graph.facebook.com')).toBe(false);
    expect(isTrustedMediaUrl('https://evil.example/fbsbx.com', 'https://graph.facebook.com')).toBe(false);
    expect(isTrustedMediaUrl('http://127.0.0.1:4000/simulator/_simulator/media/1', 'http://127.0.0.1:4000/simulator')).toBe(true);
    expect(isTrustedMediaUrl('http://127.0.0.1:4000/other', 'http://127.0.0.1:4000/simulator')).toBe(false);
  });
});
