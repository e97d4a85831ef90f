/**
 * Event subscription secrets at rest: encrypted with the token keys, never stored in plaintext,
 * and re-encrypted to the newest key by `wahub keys rotate`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSubscription } from '../../src/events/subscriptions.service.js';
import { TokenCipher } from '../../src/shared/token-cipher.js';
import { runWahub, TEST_TOKEN_KEYS } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestOrg, testCipher, testEgress } from '../helpers/factories.js';

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase(3);
});
afterAll(async () => {
  await t.drop();
});

describe('wahub keys rotate and event subscription secrets', () => {
  it('re-encrypts subscription secrets with the newest key, keeping them usable', async () => {
    const org = await createTestOrg(t.db);
    const created = await createSubscription(t.db, testCipher, testEgress, { orgId: org.orgId, url: 'https://hooks.example.test/wahub', eventTypes: ['*'], description: null });
    const before = await t.db.selectFrom('event_subscriptions').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(before.secret_key_id).toBe('test1');
    expect(before.secret_ciphertext).not.toContain(created.secret.slice(6));

    const newKey = Buffer.alloc(32, 9);
    const keys = `k2:${newKey.toString('base64')},${TEST_TOKEN_KEYS}`;
    const result = await runWahub(['keys', 'rotate', '--json'], { databaseUrl: t.url, tokenKeys: keys });
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ keyId: 'k2', subscription_secrets: { rotated: 1, failed: 0 } });

    const after = await t.db.selectFrom('event_subscriptions').selectAll().where('id', '=', created.id).executeTakeFirstOrThrow();
    expect(after.secret_key_id).toBe('k2');
    const onlyNewKey = new TokenCipher([{ id: 'k2', key: newKey }]);
    expect(onlyNewKey.decrypt({ ciphertext: after.secret_ciphertext, keyId: after.secret_key_id })).toBe(created.secret);
  });
});
