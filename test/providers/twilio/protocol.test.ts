/**
 * Twilio protocol pieces without HTTP: error classification (PROTOCOL.md §3.4 classes for Twilio
 * codes), the Messages API form built from a wahub message, and the webhook parser's status mapping.
 */
import { describe, expect, it } from 'vitest';
import { outboundMessageSchema } from '../../../src/providers/meta/send.schema.js';
import { classifyTwilioError } from '../../../src/providers/twilio/errors.js';
import { TwilioMessagesClient } from '../../../src/providers/twilio/messages.client.js';
import { buildTwilioSendRequest } from '../../../src/providers/twilio/send.request.js';
import { parseTwilioForm, parseTwilioWebhook } from '../../../src/providers/twilio/webhook.parser.js';
import type { ParsedStatus } from '../../../src/providers/types.js';
import { twilioFixture } from '../../helpers/twilio.js';

const AT = new Date('2026-01-01T12:00:00Z');

describe('classifyTwilioError', () => {
  it.each([
    [63016, 400, 'permanent'], // outside the 24 h window, like Meta 131047
    [21211, 400, 'permanent'], // invalid To
    [63003, 400, 'permanent'], // recipient not on WhatsApp
    [63024, 400, 'permanent'],
    [20429, 429, 'retryable'], // too many requests
    [63018, 429, 'retryable'], // channel rate limit
    [63017, 429, 'retryable'],
    [20500, 500, 'retryable'],
    [20003, 401, 'reauth'], // bad credentials
    [99999, 400, 'permanent'], // unknown code
    [99999, 503, 'retryable'], // unknown code on a 5xx
  ] as const)('classifies code %i (HTTP %i) as %s', (code, status, expected) => {
    expect(classifyTwilioError(code, status)).toBe(expected);
  });

  it.each([
    [null, 'retryable'], [503, 'retryable'], [500, 'retryable'], [429, 'retryable'], [408, 'retryable'], [401, 'reauth'], [400, 'permanent'], [404, 'permanent'],
  ] as const)('classifies a response without a Twilio code and HTTP %s as %s', (status, expected) => {
    expect(classifyTwilioError(null, status)).toBe(expected);
  });
});

describe('TwilioMessagesClient.sendMessage to a business-scoped user ID', () => {
  it('fails permanently with a clear reason, without calling Twilio (Twilio addresses customers by phone number)', async () => {
    const client = new TwilioMessagesClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 100 });
    const result = await client.sendMessage({
      from: { phoneNumberId: 'whatsapp:+15550100001', e164: '+15550100001', accountSid: `AC${'0'.repeat(32)}` }, credential: 'token',
      to: { bsuid: 'US.13491208655302741918' }, message: outboundMessageSchema.parse({ type: 'text', text: { body: 'hi' } }),
    });
    expect(result).toEqual({ ok: false, error: expect.objectContaining({ class: 'permanent', title: expect.stringMatching(/Twilio cannot send to a business-scoped user ID/) }) });
    await client.close();
  });
});

describe('buildTwilioSendRequest', () => {
  const build = (message: unknown, callback?: string) => buildTwilioSendRequest('+15550100001', '+14155550123', outboundMessageSchema.parse(message), callback);

  it('sends text as Body between whatsapp: addresses, with the StatusCallback', () => {
    expect(build({ type: 'text', text: { body: 'Hi' } }, 'https://hub.test/webhooks/twilio/status')).toEqual({
      ok: true,
      form: [['To', 'whatsapp:+14155550123'], ['From', 'whatsapp:+15550100001'], ['Body', 'Hi'], ['StatusCallback', 'https://hub.test/webhooks/twilio/status']],
    });
  });

  it('names a template by Content SID with named or positional ContentVariables', () => {
    const positional = build({ type: 'template', template: { name: 'HX0123456789abcdef0123456789abcdef', language: { code: 'en' }, components: [{ type: 'body', parameters: [{ type: 'text', text: 'A' }, { type: 'text', text: 'B' }] }] } });
    expect(positional).toEqual({ ok: true, form: [['To', 'whatsapp:+14155550123'], ['From', 'whatsapp:+15550100001'], ['ContentSid', 'HX0123456789abcdef0123456789abcdef'], ['ContentVariables', '{"1":"A","2":"B"}']] });
    const named = build({ type: 'template', template: { name: 'HX0123456789abcdef0123456789abcdef', language: { code: 'en' }, components: [{ type: 'body', parameters: [{ type: 'text', parameter_name: 'first_name', text: 'Maya' }] }] } });
    expect(named.ok && named.form.at(-1)).toEqual(['ContentVariables', '{"first_name":"Maya"}']);
  });

  it.each([
    ['a Meta template name', { type: 'template', template: { name: 'hello_world', language: { code: 'en_US' } } }, /Content SID/],
    ['a non-text template parameter', { type: 'template', template: { name: 'HX0123456789abcdef0123456789abcdef', language: { code: 'en' }, components: [{ type: 'body', parameters: [{ type: 'currency', currency: {} }] }] } }, /text body parameters/],
    ['media by Meta media id', { type: 'image', image: { id: '123' } }, /give a link/],
    ['an interactive message', { type: 'interactive', interactive: { type: 'button', body: { text: 'Pick' }, action: { buttons: [{ type: 'reply', reply: { id: 'a', title: 'A' } }] } } }, /interactive messages cannot/],
    ['a read receipt', { type: 'mark_as_read', mark_as_read: { message_id: 'SM1' } }, /mark_as_read messages cannot/],
  ])('refuses %s as a permanent error', (_label, message, title) => {
    const result = build(message);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toMatchObject({ class: 'permanent', code: null, title: expect.stringMatching(title) });
  });
});

describe('parseTwilioWebhook statuses', () => {
  const status = (value: string, extra: Record<string, string> = {}) => parseTwilioWebhook({
    MessageSid: 'SM1', MessageStatus: value, From: 'whatsapp:+15550100001', To: 'whatsapp:+14155550123', AccountSid: 'AC1', ...extra,
  }, AT);

  it.each([['sent', 'sent'], ['delivered', 'delivered'], ['read', 'read'], ['failed', 'failed'], ['undelivered', 'failed'], ['canceled', 'failed']])('maps %s to %s', (value, expected) => {
    expect(status(value)).toEqual([expect.objectContaining({ kind: 'status', provider: 'twilio', status: expected, providerMessageId: 'SM1', phoneNumberId: 'whatsapp:+15550100001', recipientId: '14155550123', wabaId: null })]);
  });

  it.each(['queued', 'accepted', 'sending', 'scheduled'])('yields nothing for %s (it moves no message)', (value) => {
    expect(status(value)).toEqual([]);
  });

  it('dead-letters an unknown status value', () => {
    expect(status('teleported')).toEqual([expect.objectContaining({ kind: 'dead_letter', provider: 'twilio', reason: 'invalid_status' })]);
  });

  it('parses the undelivered fixture into a failed status with 63016', () => {
    const [item] = parseTwilioWebhook(parseTwilioForm(twilioFixture('status_undelivered.txt')), AT) as ParsedStatus[];
    expect(item).toMatchObject({
      status: 'failed', providerMessageId: 'SM041648e63693060b1519bef2e1225079', phoneNumberId: 'whatsapp:+15550100001', recipientId: '5511987654321',
      timestamp: AT, errors: [{ code: 63016, title: 'Failed to send freeform message because you are outside the allowed window', message: null, details: null }],
    });
  });

  it('dead-letters an inbound message without MessageSid or a whatsapp: From', () => {
    expect(parseTwilioWebhook({ To: 'whatsapp:+15550100001', From: '+14155550123', Body: 'x' }, AT))
      .toEqual([expect.objectContaining({ kind: 'dead_letter', reason: 'invalid_message', detail: 'inbound message without a valid MessageSid, From' })]);
  });

  it('replaces NUL in values after the signature was checked', () => {
    const [item] = parseTwilioWebhook({ MessageSid: 'SM2', To: 'whatsapp:+15550100001', From: 'whatsapp:+14155550123', Body: 'a\u0000b', ProfileName: 'M\u0000' }, AT);
    expect(item).toMatchObject({ kind: 'message', content: { body: 'a\uFFFDb' }, profileName: 'M\uFFFD' });
  });
});
