/**
 * Configuration of domain events, maintenance and OTPs (issue 5): defaults and validation.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

describe('loadConfig: events, maintenance and OTP', () => {
  it('defaults to HTTP-only events, 7-day retention, 24-hour delivery window and the verification_code template', () => {
    const config = loadConfig({});
    expect(config.natsUrl).toBeUndefined();
    expect(config.events).toEqual({
      natsStream: 'WAHUB_EVENTS', natsSubjectPrefix: 'wahub', relayBatchSize: 100, pollIntervalMs: 250, retentionDays: 7,
      deliveryTimeoutMs: 10_000, deliveryRetryBaseMs: 10_000, deliveryRetryMaxMs: 3_600_000, deliveryGiveUpMs: 86_400_000, subscriptionAllowList: [],
    });
    expect(config.maintenance).toEqual({ intervalMs: 3_600_000, inactiveDays: undefined });
    expect(config.otp).toEqual({ hashKey: undefined, templateName: 'verification_code', templateLanguage: 'en_US' });
  });

  it('reads NATS, retention and an OTP key', () => {
    const key = Buffer.alloc(32, 5);
    const config = loadConfig({
      NATS_URL: 'nats://127.0.0.1:4222', NATS_STREAM: 'EVENTS_2', RETENTION_INACTIVE_DAYS: '365', OTP_HASH_KEY: key.toString('base64'),
      OTP_TEMPLATE_NAME: 'login_code', OTP_TEMPLATE_LANGUAGE: 'pt_BR',
    });
    expect(config.natsUrl).toBe('nats://127.0.0.1:4222');
    expect(config.events.natsStream).toBe('EVENTS_2');
    expect(config.maintenance.inactiveDays).toBe(365);
    expect(config.otp).toEqual({ hashKey: key, templateName: 'login_code', templateLanguage: 'pt_BR' });
  });

  it('reads the event-subscription allow-list (SSRF) and refuses entries that are not hosts, addresses or ranges', () => {
    expect(loadConfig({ EVENT_SUBSCRIPTION_ALLOW_LIST: ' localhost, 10.20.0.0/16 ,::1' }).events.subscriptionAllowList).toEqual(['localhost', '10.20.0.0/16', '::1']);
    expect(() => loadConfig({ EVENT_SUBSCRIPTION_ALLOW_LIST: 'http://x/y' })).toThrow(/EVENT_SUBSCRIPTION_ALLOW_LIST/);
  });

  it('reports bad values of every new variable at once', () => {
    let error: unknown;
    try {
      loadConfig({ NATS_STREAM: 'a b', OTP_HASH_KEY: 'c2hvcnQ=', OTP_TEMPLATE_NAME: 'Bad-Name', RETENTION_INACTIVE_DAYS: '0', EVENT_RETENTION_DAYS: '-1' });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.map((p) => p.split(':')[0]);
    expect(problems.sort()).toEqual(['EVENT_RETENTION_DAYS', 'NATS_STREAM', 'OTP_HASH_KEY', 'OTP_TEMPLATE_NAME', 'RETENTION_INACTIVE_DAYS']);
  });
});
