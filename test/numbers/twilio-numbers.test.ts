/**
 * Twilio senders as phone numbers (migration 0007): `wahub number add --provider twilio` stores
 * `phone_number_id = whatsapp:<E.164>`, no WABA, the account SID in clear and the Auth Token
 * encrypted like Meta tokens, so `wahub keys rotate` and `wahub doctor` cover it; the database
 * refuses a Twilio row shaped like a Meta one and the reverse; a sender is connected in one
 * organization at a time.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runChecks } from '../../src/consistency/consistency.service.js';
import { migrateDown, migrationStatus } from '../../src/db/migrate.js';
import { rotateTokenKeys } from '../../src/numbers/keys.service.js';
import { listPhoneNumbers } from '../../src/numbers/phone-numbers.repository.js';
import { connectTwilioNumber } from '../../src/numbers/numbers.service.js';
import { TokenCipher } from '../../src/shared/token-cipher.js';
import { runWahub } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { createTestNumber, createTestOrg, testCipher, uniqueDigits } from '../helpers/factories.js';

const ACCOUNT_SID = 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0';

/** A random E.164 number in the +1 555 range. */
function senderNumber(): string {
  return `+1555${uniqueDigits(7)}`;
}

describe('Twilio numbers', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(4);
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('adds a Twilio sender from the CLI with the auth token encrypted and no WABA', async () => {
    const org = await createTestOrg(t.db);
    const phone = senderNumber();
    const result = await runWahub(
      ['number', 'add', '--org', org.orgId, '--provider', 'twilio', '--account-sid', ACCOUNT_SID, '--auth-token', 'cli-twilio-secret', '--phone', phone, '--json'],
      { databaseUrl: t.url },
    );
    expect(result.code, result.stderr).toBe(0);
    const printed = JSON.parse(result.stdout) as { id: string; phone_number_id: string };
    expect(printed.phone_number_id).toBe(`whatsapp:${phone}`);
    const row = await t.db.selectFrom('phone_numbers').selectAll().where('id', '=', printed.id).executeTakeFirstOrThrow();
    expect(row).toMatchObject({
      org_id: org.orgId, provider: 'twilio', waba_ref: null, twilio_account_sid: ACCOUNT_SID, phone_number_id: `whatsapp:${phone}`,
      e164: phone, display_phone_number: phone.slice(1), status: 'active', access_token_key_id: 'test1',
    });
    expect(row.access_token_ciphertext).not.toContain('cli-twilio-secret');
    expect(testCipher.decrypt({ ciphertext: row.access_token_ciphertext!, keyId: row.access_token_key_id! })).toBe('cli-twilio-secret');
    const listed = await listPhoneNumbers(t.db, org.orgId);
    expect(listed).toEqual([expect.objectContaining({ phone_number_id: `whatsapp:${phone}`, provider: 'twilio', waba_id: null })]);
  });

  it('refuses a Twilio add without its credentials, naming the missing flags', async () => {
    const org = await createTestOrg(t.db);
    const result = await runWahub(['number', 'add', '--org', org.orgId, '--provider', 'twilio', '--phone', senderNumber(), '--json'], { databaseUrl: t.url });
    expect(result.code).toBe(1);
    expect(JSON.parse(result.stdout)).toEqual({ error: { code: 'validation_failed', message: '--provider twilio needs --account-sid, --auth-token' } });
  });

  it('refuses a malformed account SID or phone before writing', async () => {
    const org = await createTestOrg(t.db);
    await expect(connectTwilioNumber(t.db, testCipher, { orgId: org.orgId, accountSid: 'ACxyz', authToken: 'x', phone: senderNumber() }))
      .rejects.toMatchObject({ code: 'validation_failed' });
    await expect(connectTwilioNumber(t.db, testCipher, { orgId: org.orgId, accountSid: ACCOUNT_SID, authToken: 'x', phone: '15550100001' }))
      .rejects.toMatchObject({ code: 'validation_failed' });
    expect(await listPhoneNumbers(t.db, org.orgId)).toEqual([]);
  });

  it('connects a sender in one organization at a time, and reconnecting replaces the token in place', async () => {
    const [a, b] = [await createTestOrg(t.db), await createTestOrg(t.db)];
    const phone = senderNumber();
    const first = await connectTwilioNumber(t.db, testCipher, { orgId: a.orgId, accountSid: ACCOUNT_SID, authToken: 'one', phone });
    await expect(connectTwilioNumber(t.db, testCipher, { orgId: b.orgId, accountSid: ACCOUNT_SID, authToken: 'two', phone }))
      .rejects.toMatchObject({ code: 'conflict' });
    const again = await connectTwilioNumber(t.db, testCipher, { orgId: a.orgId, accountSid: ACCOUNT_SID, authToken: 'three', phone, throughputMps: 10 });
    expect(again).toMatchObject({ id: first.id, created: false });
    const row = await t.db.selectFrom('phone_numbers').selectAll().where('id', '=', first.id).executeTakeFirstOrThrow();
    expect(testCipher.decrypt({ ciphertext: row.access_token_ciphertext!, keyId: row.access_token_key_id! })).toBe('three');
    expect(row.throughput_mps).toBe(10);
  });

  it('refuses rows that mix the providers\' shapes', async () => {
    const org = await createTestOrg(t.db);
    const meta = await createTestNumber(t.db, org.orgId);
    const twilio = await connectTwilioNumber(t.db, testCipher, { orgId: org.orgId, accountSid: ACCOUNT_SID, authToken: 'x', phone: senderNumber() });
    const refusals = [
      sql`UPDATE phone_numbers SET waba_ref = NULL WHERE id = ${meta.id}`,
      sql`UPDATE phone_numbers SET twilio_account_sid = ${ACCOUNT_SID} WHERE id = ${meta.id}`,
      sql`UPDATE phone_numbers SET phone_number_id = 'whatsapp:+15550000000' WHERE id = ${twilio.id}`,
      sql`UPDATE phone_numbers SET twilio_account_sid = 'AC123' WHERE id = ${twilio.id}`,
      sql`UPDATE phone_numbers SET waba_ref = (SELECT waba_ref FROM phone_numbers WHERE id = ${meta.id}) WHERE id = ${twilio.id}`,
    ];
    for (const statement of refusals) {
      await expect(statement.execute(t.db)).rejects.toMatchObject({ constraint: 'phone_numbers_provider_ids_check' });
    }
  });

  it('passes wahub doctor, and doctor proves the Twilio shape without trusting the constraint', async () => {
    const org = await createTestOrg(t.db);
    const twilio = await connectTwilioNumber(t.db, testCipher, { orgId: org.orgId, accountSid: ACCOUNT_SID, authToken: 'x', phone: senderNumber() });
    expect((await runChecks(t.db, { orgId: org.orgId }, testCipher)).filter((check) => !check.ok)).toEqual([]);
    // The constraint is dropped and the row broken inside a transaction that is then rolled back.
    const rollback = new Error('roll back');
    const outcome = await t.db.transaction().execute(async (tx) => {
      await sql`ALTER TABLE phone_numbers DROP CONSTRAINT phone_numbers_provider_ids_check`.execute(tx);
      await sql`UPDATE phone_numbers SET phone_number_id = 'whatsapp:+15550000001' WHERE id = ${twilio.id}`.execute(tx);
      const failed = (await runChecks(tx, { orgId: org.orgId }, testCipher)).filter((check) => !check.ok);
      expect(failed.map((check) => [check.name, check.violations])).toEqual([
        ['twilio_number_shape', [{ subject: 'whatsapp:+15550000001', detail: expect.stringContaining('is not whatsapp:+') }]],
      ]);
      throw rollback;
    }).catch((error: unknown) => error);
    expect(outcome).toBe(rollback);
  });

  it('re-encrypts Twilio auth tokens with wahub keys rotate like Meta tokens', async () => {
    const own = await createTestDatabase(2);
    try {
      const oldKey = { id: 'old', key: randomBytes(32) };
      const newKey = { id: 'new', key: randomBytes(32) };
      const org = await createTestOrg(own.db);
      const number = await connectTwilioNumber(own.db, new TokenCipher([oldKey]), { orgId: org.orgId, accountSid: ACCOUNT_SID, authToken: 'rotate-me', phone: senderNumber() });
      const result = await rotateTokenKeys(own.db, new TokenCipher([newKey, oldKey]));
      expect(result).toMatchObject({ total: 1, rotated: 1, failed: 0, keyId: 'new' });
      const row = await own.db.selectFrom('phone_numbers').selectAll().where('id', '=', number.id).executeTakeFirstOrThrow();
      expect(new TokenCipher([newKey]).decrypt({ ciphertext: row.access_token_ciphertext!, keyId: row.access_token_key_id! })).toBe('rotate-me');
    } finally {
      await own.drop();
    }
  });

  it('refuses to revert migration 0007 while Twilio numbers exist', async () => {
    const own = await createTestDatabase(2);
    try {
      const org = await createTestOrg(own.db);
      await connectTwilioNumber(own.db, testCipher, { orgId: org.orgId, accountSid: ACCOUNT_SID, authToken: 'x', phone: senderNumber() });
      // Migrations after 0007 revert freely; 0007 itself refuses.
      const applied = async () => (await migrationStatus(own.db)).filter((m) => m.executedAt !== null).map((m) => m.name);
      while ((await applied()).at(-1) !== '0007_twilio') await migrateDown(own.db);
      await expect(migrateDown(own.db)).rejects.toThrow(/0007_twilio/);
    } finally {
      await own.drop();
    }
  });
});
