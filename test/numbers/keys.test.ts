/**
 * Tokens at rest (SPEC §2.4): AES-256-GCM with key ids; `rotateTokenKeys` re-encrypts every token
 * to the newest key, in batches with progress, safely re-runnable and concurrent; a token that does
 * not decrypt is counted and left alone; a dump of the whole database (and the hub's logs) holds no
 * plaintext token after numbers were connected by signup, by hand, re-tokened and moved.
 */
import { randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { sql } from 'kysely';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/database.js';
import { rotateTokenKeys, type RotationProgress } from '../../src/numbers/keys.service.js';
import { moveNumber } from '../../src/numbers/move.service.js';
import { connectPhoneNumber } from '../../src/numbers/numbers.service.js';
import { setPhoneNumberToken } from '../../src/outbound/number-queue.service.js';
import { TokenCipher } from '../../src/shared/token-cipher.js';
import { bearer } from '../helpers/api.js';
import { runWahub, TEST_TOKEN_KEYS } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestNumber, createTestOrg, testCipher, uniqueDigits } from '../helpers/factories.js';
import { completeSignup, issueCode, postWebhook, simNumbers, startHub, startSignup, accountUpdateWebhook } from '../onboarding/helpers.js';

const keyA = { id: 'keyA', key: randomBytes(32) };
const keyB = { id: 'keyB', key: randomBytes(32) };
const cipherA = new TokenCipher([keyA]);
const cipherBA = new TokenCipher([keyB, keyA]);
const cipherB = new TokenCipher([keyB]);

// Each case gets a database of its own: rotation works on every row of the database.
const databases: TestDatabase[] = [];
async function freshDb(): Promise<Db> {
  const t = await createTestDatabase(6);
  databases.push(t);
  return t.db;
}
afterEach(async () => {
  while (databases.length > 0) await databases.pop()!.drop();
});

/** Connects `count` numbers with tokens encrypted by `cipher`; returns phone_number_id → plaintext token. */
async function connectNumbers(db: Db, cipher: TokenCipher, count: number): Promise<Map<string, string>> {
  const org = await createTestOrg(db);
  const tokens = new Map<string, string>();
  const wabaId = uniqueDigits();
  for (let i = 0; i < count; i++) {
    const phoneNumberId = uniqueDigits();
    const token = `EAArot${randomBytes(12).toString('hex')}`;
    await connectPhoneNumber(db, cipher, { orgId: org.orgId, wabaId, phoneNumberId, displayPhoneNumber: `1555${uniqueDigits(7)}`, accessToken: token });
    tokens.set(phoneNumberId, token);
  }
  return tokens;
}

async function storedTokens(db: Db) {
  return db.selectFrom('phone_numbers').select(['phone_number_id', 'access_token_ciphertext', 'access_token_key_id']).orderBy('phone_number_id').execute();
}

describe('rotateTokenKeys', () => {
  it('re-encrypts every token to the newest key in batches with progress, and a second run rotates nothing', async () => {
    const db = await freshDb();
    const tokens = await connectNumbers(db, cipherA, 5);
    const org = await createTestOrg(db);
    await createTestNumber(db, org.orgId).then((n) => sql`UPDATE phone_numbers SET status = 'disconnected', access_token_ciphertext = NULL, access_token_key_id = NULL WHERE id = ${n.id}`.execute(db));
    const progress: RotationProgress[] = [];

    const result = await rotateTokenKeys(db, cipherBA, { batchSize: 2, onProgress: (p) => progress.push(p) });

    // The disconnected number has no token: nothing to rotate there.
    expect(result).toEqual({ total: 5, rotated: 5, failed: 0, keyId: 'keyB' });
    expect(progress).toEqual([{ total: 5, rotated: 2, failed: 0 }, { total: 5, rotated: 4, failed: 0 }, { total: 5, rotated: 5, failed: 0 }]);
    for (const row of await storedTokens(db)) {
      if (row.access_token_ciphertext === null) continue;
      expect(row.access_token_key_id).toBe('keyB');
      // Only the new key is needed from now on.
      expect(cipherB.decrypt({ ciphertext: row.access_token_ciphertext, keyId: 'keyB' })).toBe(tokens.get(row.phone_number_id));
    }

    const again: RotationProgress[] = [];
    expect(await rotateTokenKeys(db, cipherBA, { batchSize: 2, onProgress: (p) => again.push(p) })).toEqual({ total: 0, rotated: 0, failed: 0, keyId: 'keyB' });
    expect(again).toEqual([]);
  });

  it('counts a token that does not decrypt as failed and leaves it as it is; re-running still reports it', async () => {
    const db = await freshDb();
    const tokens = await connectNumbers(db, cipherA, 3);
    const [tampered, retired] = [...tokens.keys()];
    const original = await storedTokens(db);
    const tamperedRow = original.find((r) => r.phone_number_id === tampered)!;
    const flipped = `${tamperedRow.access_token_ciphertext!.slice(0, -2)}${tamperedRow.access_token_ciphertext!.endsWith('AA') ? 'BB' : 'AA'}`;
    await sql`UPDATE phone_numbers SET access_token_ciphertext = ${flipped} WHERE phone_number_id = ${tampered}`.execute(db);
    await sql`UPDATE phone_numbers SET access_token_key_id = 'retired' WHERE phone_number_id = ${retired}`.execute(db);
    const before = await storedTokens(db);

    const result = await rotateTokenKeys(db, cipherBA, { batchSize: 100 });

    expect(result).toEqual({ total: 3, rotated: 1, failed: 2, keyId: 'keyB' });
    const after = await storedTokens(db);
    for (const id of [tampered, retired]) {
      expect(after.find((r) => r.phone_number_id === id)).toEqual(before.find((r) => r.phone_number_id === id));
    }
    expect(await rotateTokenKeys(db, cipherBA)).toEqual({ total: 2, rotated: 0, failed: 2, keyId: 'keyB' });
  });

  it('rotates each token exactly once when several rotations run at the same time', async () => {
    const db = await freshDb();
    const tokens = await connectNumbers(db, cipherA, 40);

    const results = await Promise.all(Array.from({ length: 4 }, () => rotateTokenKeys(db, cipherBA, { batchSize: 7 })));

    expect(results.reduce((sum, r) => sum + r.rotated, 0)).toBe(40);
    expect(results.every((r) => r.failed === 0)).toBe(true);
    for (const row of await storedTokens(db)) {
      expect(cipherB.decrypt({ ciphertext: row.access_token_ciphertext!, keyId: row.access_token_key_id! })).toBe(tokens.get(row.phone_number_id));
    }
  });

  it('wahub keys rotate --json re-encrypts to the first key of TOKEN_ENCRYPTION_KEYS and reports progress on stderr', async () => {
    const db = await freshDb();
    const tokens = await connectNumbers(db, testCipher, 3);
    const newKey = { id: 'new1', key: randomBytes(32) };
    const url = databases.at(-1)!.url;

    const run = await runWahub(['keys', 'rotate', '--json'], { databaseUrl: url, tokenKeys: `new1:${newKey.key.toString('base64')},${TEST_TOKEN_KEYS}` });

    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({ total: 3, rotated: 3, failed: 0, keyId: 'new1', subscription_secrets: { rotated: 0, failed: 0 } });
    expect(run.stderr).toContain('rotated 3/3');
    const onlyNew = new TokenCipher([newKey]);
    for (const row of await storedTokens(db)) {
      expect(row.access_token_key_id).toBe('new1');
      expect(onlyNew.decrypt({ ciphertext: row.access_token_ciphertext!, keyId: 'new1' })).toBe(tokens.get(row.phone_number_id));
    }
  });
});

/** Every row of every table of the public schema, as text (information_schema lists the tables and their text-like columns). */
async function dumpDatabase(db: Db): Promise<{ text: string; columns: string[] }> {
  const columns = await sql<{ table_name: string; column_name: string }>`
    SELECT c.table_name, c.column_name FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_schema = c.table_schema AND t.table_name = c.table_name
    WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE'
      AND c.data_type IN ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY', 'bytea')
    ORDER BY c.table_name, c.ordinal_position`.execute(db);
  const parts: string[] = [];
  for (const { table_name: table, column_name: column } of columns.rows) {
    const rows = await sql<{ v: string | null }>`SELECT ${sql.ref(column)}::text AS v FROM ${sql.table(table)}`.execute(db);
    for (const row of rows.rows) if (row.v !== null) parts.push(`${table}.${column}=${row.v}`);
  }
  return { text: parts.join('\n'), columns: columns.rows.map((c) => `${c.table_name}.${c.column_name}`) };
}

describe('a database dump', () => {
  it('holds no plaintext token after signup, manual connect, set-token, move and account_update; nor do the hub\'s logs', async () => {
    const db = await freshDb();
    const lines: string[] = [];
    const logger = pino({ level: 'trace' }, new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } }));
    const hub = await startHub(db, { logger });
    try {
      const org = await createTestOrg(db);
      const plaintext: string[] = [];

      // Embedded Signup (the business token comes from the simulator; the hub stores it encrypted).
      const wabaId = uniqueDigits();
      const code = await issueCode(hub.sim, { waba_id: wabaId, phone_numbers: simNumbers(2) });
      const signup = await completeSignup(hub.app, org.apiKey, { code, state: await startSignup(hub.app, org.apiKey) });
      expect(signup.statusCode, signup.body).toBe(201);
      for (const row of await db.selectFrom('phone_numbers').selectAll().where('org_id', '=', org.orgId).execute()) {
        plaintext.push(testCipher.decrypt({ ciphertext: row.access_token_ciphertext!, keyId: row.access_token_key_id! }));
      }

      // Manual connect through the API and through the service.
      const apiToken = `EAAapi${randomBytes(16).toString('hex')}`;
      const manual = { waba_id: uniqueDigits(), phone_number_id: uniqueDigits(), display_phone_number: `1555${uniqueDigits(7)}`, access_token: apiToken };
      const connected = await hub.app.inject({ method: 'POST', url: '/v1/phone-numbers', headers: bearer(org.apiKey), payload: manual });
      expect(connected.statusCode, connected.body).toBe(201);
      const serviceNumber = await createTestNumber(db, org.orgId, { accessToken: `EAAsvc${randomBytes(16).toString('hex')}` });
      const renewed = `EAArenew${randomBytes(16).toString('hex')}`;
      await setPhoneNumberToken(db, testCipher, { orgId: org.orgId, phoneNumberId: serviceNumber.phoneNumberId, accessToken: renewed });

      // Moved to another organization with yet another token, then Meta removes the partner from the signup's WABA.
      const other = await createTestOrg(db);
      const moveToken = `EAAmove${randomBytes(16).toString('hex')}`;
      await moveNumber(db, testCipher, { phoneNumberId: manual.phone_number_id, toOrgId: other.orgId, accessToken: moveToken, actor: 'test', reason: 'dump' });
      await postWebhook(hub.app, accountUpdateWebhook({ event: 'PARTNER_REMOVED', waba_info: { waba_id: wabaId, owner_business_id: '400000000000001' } }));
      plaintext.push(apiToken, serviceNumber.accessToken, renewed, moveToken);

      const dump = await dumpDatabase(db);

      expect(dump.columns).toEqual(expect.arrayContaining(['phone_numbers.access_token_ciphertext', 'audit_log.details', 'account_events.payload', 'oauth_states.state_hash']));
      // The dump does see the stored credentials, encrypted.
      const stored = await db.selectFrom('phone_numbers').select('access_token_ciphertext').where('access_token_ciphertext', 'is not', null).execute();
      // The moved number in the other organization and the re-tokened one (the signup's WABA was removed).
      expect(stored.length).toBe(2);
      for (const row of stored) expect(dump.text).toContain(row.access_token_ciphertext!);
      expect(plaintext).toHaveLength(6);
      for (const token of plaintext) {
        expect(token.length).toBeGreaterThan(20);
        expect(dump.text.includes(token), 'plaintext token in the dump').toBe(false);
        expect(dump.text.includes(Buffer.from(token).toString('base64')), 'base64 token in the dump').toBe(false);
      }
      expect(dump.text).not.toMatch(/EAA(sim|api|svc|renew|move)/);

      const logs = lines.join('');
      expect(logs).toContain('"event":"oauth_save"');
      for (const token of plaintext) expect(logs.includes(token), 'token in the logs').toBe(false);
    } finally {
      await hub.close();
    }
  });
});
