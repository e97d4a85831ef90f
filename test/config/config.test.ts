import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';

const key = `k1:${Buffer.alloc(32, 3).toString('base64')}`;

describe('loadConfig', () => {
  it('runs in sandbox mode with defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.mode).toBe('sandbox');
    expect(config.port).toBe(3000);
    expect(config.meta.graphApiBaseUrl).toBeUndefined();
    expect(config.outbox.leaseTtlMs).toBe(60_000);
    expect(config.sandbox.statusDelaysMs).toEqual({ sentMs: 500, deliveredMs: 1500, readMs: 3000 });
  });

  it('switches to production mode with META_APP_SECRET and defaults the Graph host', () => {
    const config = loadConfig({ META_APP_SECRET: 's', META_VERIFY_TOKEN: 'v', TOKEN_ENCRYPTION_KEYS: key });
    expect(config.mode).toBe('production');
    expect(config.meta.graphApiBaseUrl).toBe('https://graph.facebook.com');
    expect(config.tokenKeys[0]?.id).toBe('k1');
  });

  it('reports every problem at once', () => {
    let error: unknown;
    try {
      loadConfig({ META_APP_SECRET: 's', PORT: 'abc', DATABASE_URL: 'mysql://x', TOKEN_ENCRYPTION_KEYS: 'k1:short' });
    } catch (thrown) {
      error = thrown;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).toMatch(/PORT/);
    expect(problems).toMatch(/DATABASE_URL/);
    expect(problems).toMatch(/TOKEN_ENCRYPTION_KEYS/);
  });

  it('requires the verify token and keys in production mode', () => {
    expect(() => loadConfig({ META_APP_SECRET: 's' })).toThrow(/META_VERIFY_TOKEN[\s\S]*TOKEN_ENCRYPTION_KEYS/);
  });

  it('defaults the Twilio API host in production, leaves it to the simulator in sandbox mode, and trims PUBLIC_BASE_URL', () => {
    const production = loadConfig({ META_APP_SECRET: 's', META_VERIFY_TOKEN: 'v', TOKEN_ENCRYPTION_KEYS: key, PUBLIC_BASE_URL: 'https://hub.example.com/wahub/' });
    expect(production.twilio).toEqual({ apiBaseUrl: 'https://api.twilio.com', apiTimeoutMs: 10_000 });
    expect(production.publicBaseUrl).toBe('https://hub.example.com/wahub');
    const sandbox = loadConfig({});
    expect(sandbox.twilio.apiBaseUrl).toBeUndefined();
    expect(sandbox.publicBaseUrl).toBeUndefined();
    expect(() => loadConfig({ PUBLIC_BASE_URL: 'ftp://x', TWILIO_API_BASE_URL: 'nope' })).toThrow(/PUBLIC_BASE_URL[\s\S]*TWILIO_API_BASE_URL/);
  });

  it('refreshes leases at a third of their TTL by default and refuses a refresh period not below half of it', () => {
    expect(loadConfig({ OUTBOX_LEASE_TTL_MS: '9000' }).outbox.leaseRefreshMs).toBe(3_000);
    expect(loadConfig({ OUTBOX_LEASE_TTL_MS: '9000', OUTBOX_LEASE_REFRESH_MS: '4499' }).outbox.leaseRefreshMs).toBe(4_499);
    expect(() => loadConfig({ OUTBOX_LEASE_TTL_MS: '9000', OUTBOX_LEASE_REFRESH_MS: '4500' })).toThrow(/OUTBOX_LEASE_REFRESH_MS: must be below half/);
    expect(loadConfig({}).outbox.pairRateLimitMaxMs).toBe(86_400_000);
  });

  it('treats empty variables as unset', () => {
    expect(loadConfig({ META_APP_SECRET: '', DATABASE_URL: '' }).mode).toBe('sandbox');
  });
});
