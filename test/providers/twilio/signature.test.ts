/**
 * `X-Twilio-Signature` (PROTOCOL.md §7.3): HMAC-SHA1 over the URL and the sorted parameters,
 * base64, checked against Twilio's documented test vectors and the shared fixtures, tolerant of an
 * explicit or missing port as twilio-node's `validateRequest` is.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { computeTwilioSignature, urlPortVariants, verifyTwilioSignature } from '../../../src/providers/twilio/signature.js';
import { parseTwilioForm } from '../../../src/providers/twilio/webhook.parser.js';
import { FIXTURE_AUTH_TOKEN, twilioFixture } from '../../helpers/twilio.js';

const DOC_URL = 'https://mycompany.com/myapp.php?foo=1&bar=2';
const DOC_TOKEN = '12345';
/** Twilio's "Webhooks security" page example (current version of the page; PROTOCOL.md §7.3 [TW-GIST]). */
const DOC_PARAMS = { CallSid: 'CA1234567890ABCDE', Caller: '+12349013030', Digits: '1234', From: '+12349013030', To: '+18005551212' };
const DOC_SIGNATURE = '0/KCTR6DLpKmkAf8muzZqo1nDgQ=';
/** The same example in the page's older version (Caller/From +14158675310), as pinned by many SDK ports. */
const OLD_DOC_PARAMS = { ...DOC_PARAMS, Caller: '+14158675310', From: '+14158675310' };
const OLD_DOC_SIGNATURE = 'GvWf1cFY/Q7PnoempGyD5oXAezc=';

describe('Twilio request signatures', () => {
  it('computes the documented test vectors', () => {
    expect(computeTwilioSignature(DOC_TOKEN, DOC_URL, DOC_PARAMS)).toBe(DOC_SIGNATURE);
    expect(computeTwilioSignature(DOC_TOKEN, DOC_URL, OLD_DOC_PARAMS)).toBe(OLD_DOC_SIGNATURE);
    expect(verifyTwilioSignature(DOC_TOKEN, DOC_SIGNATURE, DOC_URL, DOC_PARAMS)).toBe(true);
    expect(verifyTwilioSignature(DOC_TOKEN, OLD_DOC_SIGNATURE, DOC_URL, OLD_DOC_PARAMS)).toBe(true);
  });

  it('does not depend on the order the parameters arrive in', () => {
    const reversed = Object.fromEntries(Object.entries(DOC_PARAMS).reverse());
    expect(computeTwilioSignature(DOC_TOKEN, DOC_URL, reversed)).toBe(DOC_SIGNATURE);
  });

  it.each([
    ['a tampered parameter', DOC_TOKEN, DOC_SIGNATURE, DOC_URL, { ...DOC_PARAMS, Digits: '9999' }],
    ['an added parameter', DOC_TOKEN, DOC_SIGNATURE, DOC_URL, { ...DOC_PARAMS, Extra: '' }],
    ['another query string', DOC_TOKEN, DOC_SIGNATURE, 'https://mycompany.com/myapp.php?foo=1&bar=3', DOC_PARAMS],
    ['another scheme', DOC_TOKEN, DOC_SIGNATURE, DOC_URL.replace('https', 'http'), DOC_PARAMS],
    ['another auth token', 'other', DOC_SIGNATURE, DOC_URL, DOC_PARAMS],
    ['a truncated header', DOC_TOKEN, DOC_SIGNATURE.slice(0, -1), DOC_URL, DOC_PARAMS],
    ['an empty header', DOC_TOKEN, '', DOC_URL, DOC_PARAMS],
    ['a missing header', DOC_TOKEN, undefined, DOC_URL, DOC_PARAMS],
    ['a relative URL', DOC_TOKEN, DOC_SIGNATURE, '/myapp.php?foo=1&bar=2', DOC_PARAMS],
  ])('rejects %s', (_label, token, header, url, params) => {
    expect(verifyTwilioSignature(token, header, url, params)).toBe(false);
  });

  it('accepts a signature made with or without the explicit port, like twilio-node', () => {
    const withPort = 'https://mycompany.com:443/myapp.php?foo=1&bar=2';
    // Signed by a back end that kept ":443" in the URL it hashed.
    const data = withPort + Object.keys(DOC_PARAMS).sort().map((k) => k + DOC_PARAMS[k as keyof typeof DOC_PARAMS]).join('');
    const signedWithPort = createHmac('sha1', DOC_TOKEN).update(data).digest('base64');
    expect(signedWithPort).not.toBe(DOC_SIGNATURE);
    expect(verifyTwilioSignature(DOC_TOKEN, signedWithPort, DOC_URL, DOC_PARAMS)).toBe(true);
    expect(verifyTwilioSignature(DOC_TOKEN, DOC_SIGNATURE, withPort, DOC_PARAMS)).toBe(true);
    expect(urlPortVariants(DOC_URL)).toEqual([withPort, DOC_URL]);
    expect(urlPortVariants('http://example.test:8080/hook')).toEqual(['http://example.test:8080/hook', 'http://example.test/hook']);
    // WHATWG normalisation drops a default port, as in twilio-node's getExpectedTwilioSignature.
    expect(computeTwilioSignature(DOC_TOKEN, withPort, DOC_PARAMS)).toBe(DOC_SIGNATURE);
  });

  it('signs every value of a repeated parameter, sorted', () => {
    const repeated = { MediaUrl: ['https://b.test/2', 'https://a.test/1'], Body: 'x' };
    const expected = computeTwilioSignature(DOC_TOKEN, DOC_URL, { Body: 'x', MediaUrl: ['https://a.test/1', 'https://b.test/2'] });
    expect(computeTwilioSignature(DOC_TOKEN, DOC_URL, repeated)).toBe(expected);
    expect(parseTwilioForm('MediaUrl=https%3A%2F%2Fb.test%2F2&Body=x&MediaUrl=https%3A%2F%2Fa.test%2F1')).toEqual(repeated);
  });

  it.each([
    ['inbound_text.txt', 'https://api.example.test/webhooks/twilio/whatsapp', 'FF+ReYKt8TDlUd7iRQ0j/lq6xlA='],
    ['status_undelivered.txt', 'https://api.example.test/webhooks/twilio/status', 'XMqZXKBid/pB78uatDx57pSfyi4='],
  ])('verifies the shared fixture %s with its documented signature', (name, url, signature) => {
    const params = parseTwilioForm(twilioFixture(name));
    expect(computeTwilioSignature(FIXTURE_AUTH_TOKEN, url, params)).toBe(signature);
    expect(verifyTwilioSignature(FIXTURE_AUTH_TOKEN, signature, url, params)).toBe(true);
    expect(verifyTwilioSignature(FIXTURE_AUTH_TOKEN, signature, url, { ...params, Body: 'changed' })).toBe(false);
  });
});
