/**
 * `wahub doctor` (SPEC §2.6): every proof query passes on a clean database full of data, and in a
 * database whose constraints and trigger were dropped by hand, each violation seeded with raw SQL
 * is reported by its check — for the whole database and per organization (`--org`). Also through
 * the real CLI process (exit code, JSON and the human table).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CheckResult, runChecks } from '../../src/consistency/consistency.service.js';
import { connectPhoneNumber } from '../../src/numbers/numbers.service.js';
import { runWahub } from '../helpers/cli.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { testCipher, uniqueDigits } from '../helpers/factories.js';
import {
  ciphertextStartingWithEAA, insertContact, insertInbound, insertNumber, insertOrg, insertOutbound, insertOutbox, insertThread, insertWaba, seedWorld, type World,
} from './seed.js';

const CHECKS = [
  'duplicate_contacts', 'duplicate_bsuid_contacts', 'contacts_without_identity', 'duplicate_inbound_wamids', 'phone_number_connected_twice', 'waba_connected_twice', 'waba_reference_mismatch',
  'disconnected_number_with_token', 'orphans', 'outbox_without_message', 'status_consistency', 'tokens_encrypted', 'twilio_number_shape',
];

const failing = (results: CheckResult[]) => results.filter((r) => !r.ok).map((r) => r.name).sort();
const check = (results: CheckResult[], name: string) => results.find((r) => r.name === name)!;

/** Rows of a consistent life: a sent-and-read message, a failed one, a status parked for an unknown wamid, a disconnected number. */
async function seedHistory(db: TestDatabase['db'], w: World): Promise<void> {
  const read = await insertOutbound(db, w.orgId, w.threadId, w.numberRef, { status: 'read', wamid: `wamid.${uniqueDigits()}` });
  await insertOutbox(db, w.orgId, read, w.threadId, w.numberRef, 'done');
  const failed = await insertOutbound(db, w.orgId, w.threadId, w.numberRef, { status: 'failed' });
  await insertOutbox(db, w.orgId, failed, w.threadId, w.numberRef, 'failed');
  await sql`INSERT INTO pending_statuses (org_id, phone_number_ref, provider_message_id, status, provider_timestamp, payload)
            VALUES (${w.orgId}, ${w.numberRef}, ${`wamid.unknown-${uniqueDigits()}`}, 'delivered', now(), '{}')`.execute(db);
  await insertNumber(db, w.orgId, w.wabaRef, { status: 'disconnected' });
}

describe('runChecks on a clean database', () => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(4);
    for (let i = 0; i < 3; i++) await seedHistory(t.db, await seedWorld(t.db));
    // Connected through the application as well (real ciphertexts, WABA shared by two numbers).
    const org = await insertOrg(t.db);
    const wabaId = uniqueDigits();
    for (let i = 0; i < 2; i++) {
      await connectPhoneNumber(t.db, testCipher, { orgId: org, wabaId, phoneNumberId: uniqueDigits(), displayPhoneNumber: `1555${uniqueDigits(7)}`, accessToken: `EAAclean${i}` });
    }
  });
  afterAll(async () => {
    await t?.drop();
  });

  it('passes every check, and names every invariant', async () => {
    const results = await runChecks(t.db, {}, testCipher);

    expect(results.map((r) => r.name).sort()).toEqual([...CHECKS].sort());
    expect(failing(results)).toEqual([]);
    expect(results.every((r) => r.violations.length === 0 && r.description.length > 10)).toBe(true);
  });

  it('does not take a ciphertext that happens to start with "EAA" for a plaintext token when it decrypts', async () => {
    const org = await insertOrg(t.db);
    const ciphertext = ciphertextStartingWithEAA('EAAreal-token');
    expect(ciphertext.startsWith('EAA')).toBe(true);
    expect(testCipher.decrypt({ ciphertext, keyId: 'test1' })).toBe('EAAreal-token');
    await insertNumber(t.db, org, await insertWaba(t.db, org), { token: { ciphertext, keyId: 'test1' } });

    const results = await runChecks(t.db, { orgId: org }, testCipher);

    expect(check(results, 'tokens_encrypted').violations).toEqual([]);
  });

  it('wahub doctor prints the table, says all invariants hold and exits 0', async () => {
    const [human, json] = await Promise.all([runWahub(['doctor'], { databaseUrl: t.url }), runWahub(['doctor', '--json'], { databaseUrl: t.url })]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout).toContain('all invariants hold');
    for (const name of CHECKS) expect(human.stdout).toMatch(new RegExp(`^ok\\s+${name}\\s`, 'm'));

    expect(json.code, json.stderr).toBe(0);
    const body = JSON.parse(json.stdout) as { ok: boolean; checks: CheckResult[] };
    expect(body.ok).toBe(true);
    expect(body.checks.map((c) => c.name).sort()).toEqual([...CHECKS].sort());
  });
});

describe('runChecks after constraints were dropped and violations seeded with raw SQL', () => {
  let t: TestDatabase;
  /** Per check: the organization holding the violation and the subjects the check must name. */
  const seeded: Record<string, { orgId: string; subjects: string[]; details?: RegExp[] }> = {};
  let cleanOrg: string;

  beforeAll(async () => {
    t = await createTestDatabase(4);
    const db = t.db;
    await sql`
      DROP INDEX contacts_org_id_e164_key;
      DROP INDEX contacts_org_id_bsuid_key;
      ALTER TABLE contacts DROP CONSTRAINT contacts_identity_check;
      DROP INDEX messages_provider_message_id_key;
      DROP INDEX phone_numbers_connected_phone_number_id_key;
      DROP INDEX wabas_connected_waba_id_key;
      ALTER TABLE phone_numbers DROP CONSTRAINT phone_numbers_waba_fkey;
      ALTER TABLE phone_numbers DROP CONSTRAINT phone_numbers_disconnected_token_check;
      ALTER TABLE phone_numbers DROP CONSTRAINT phone_numbers_provider_ids_check;
      ALTER TABLE contacts DROP CONSTRAINT contacts_client_fkey;
      ALTER TABLE threads DROP CONSTRAINT threads_contact_fkey;
      ALTER TABLE messages DROP CONSTRAINT messages_thread_fkey;
      ALTER TABLE message_outbox DROP CONSTRAINT message_outbox_message_fkey;
      DROP TRIGGER messages_status_forward_only ON messages;
    `.execute(db);

    const clean = await seedWorld(db);
    await seedHistory(db, clean);
    cleanOrg = clean.orgId;

    {
      const w = await seedWorld(db);
      const e164 = (await db.selectFrom('contacts').select('e164').where('id', '=', w.contactId).executeTakeFirstOrThrow()).e164;
      await insertContact(db, w.orgId, w.clientId, e164!);
      seeded.duplicate_contacts = { orgId: w.orgId, subjects: [`${w.orgId} ${e164}`] };
    }
    {
      const w = await seedWorld(db);
      const bsuid = 'US.7700900123456';
      for (const _ of [1, 2]) await db.insertInto('contacts').values({ org_id: w.orgId, client_id: w.clientId, e164: null, bsuid }).execute();
      seeded.duplicate_bsuid_contacts = { orgId: w.orgId, subjects: [`${w.orgId} ${bsuid}`] };
    }
    {
      const w = await seedWorld(db);
      const { id } = await db.insertInto('contacts').values({ org_id: w.orgId, client_id: w.clientId, e164: null, bsuid: null })
        .returning('id').executeTakeFirstOrThrow();
      seeded.contacts_without_identity = { orgId: w.orgId, subjects: [id] };
    }
    {
      const w = await seedWorld(db);
      await insertInbound(db, w.orgId, w.threadId, w.numberRef, w.inboundWamid);
      seeded.duplicate_inbound_wamids = { orgId: w.orgId, subjects: [w.inboundWamid] };
    }
    {
      const holder = await seedWorld(db);
      const org = await insertOrg(db);
      await insertNumber(db, org, await insertWaba(db, org), { phoneNumberId: holder.phoneNumberId });
      seeded.phone_number_connected_twice = { orgId: org, subjects: [holder.phoneNumberId], details: [/2 connected rows in 2 organizations/] };
    }
    {
      const holder = await seedWorld(db);
      const org = await insertOrg(db);
      await insertWaba(db, org, holder.wabaId);
      seeded.waba_connected_twice = { orgId: org, subjects: [holder.wabaId] };
    }
    {
      // A connected number under a disconnected WABA, a number whose WABA is in another
      // organization, and a number whose WABA row does not exist.
      const w = await seedWorld(db);
      await sql`UPDATE wabas SET disconnected_at = now() WHERE id = ${w.wabaRef}`.execute(db);
      const foreignWaba = await insertWaba(db, await insertOrg(db));
      const foreign = uniqueDigits();
      await insertNumber(db, w.orgId, foreignWaba, { phoneNumberId: foreign });
      const missing = uniqueDigits();
      await insertNumber(db, w.orgId, randomUUID(), { phoneNumberId: missing });
      seeded.waba_reference_mismatch = {
        orgId: w.orgId, subjects: [w.phoneNumberId, foreign, missing],
        details: [/number connected but WABA \d+ disconnected/, /number in .+, its WABA \d+ in /, /WABA row missing/],
      };
    }
    {
      const w = await seedWorld(db);
      await sql`UPDATE phone_numbers SET status = 'disconnected' WHERE id = ${w.numberRef}`.execute(db);
      seeded.disconnected_number_with_token = { orgId: w.orgId, subjects: [w.phoneNumberId] };
    }
    {
      const w = await seedWorld(db);
      const contact = await insertContact(db, w.orgId, randomUUID());
      const thread = await insertThread(db, w.orgId, w.numberRef, randomUUID());
      const otherNumber = await insertNumber(db, w.orgId, w.wabaRef);
      const wrongNumber = await insertOutbound(db, w.orgId, w.threadId, otherNumber);
      const noThread = await insertOutbound(db, w.orgId, randomUUID(), w.numberRef);
      seeded.orphans = { orgId: w.orgId, subjects: [`contact ${contact}`, `thread ${thread}`, `message ${wrongNumber}`, `message ${noThread}`] };
    }
    {
      const w = await seedWorld(db);
      const outbox = await insertOutbox(db, w.orgId, randomUUID(), w.threadId, w.numberRef);
      seeded.outbox_without_message = { orgId: w.orgId, subjects: [`outbox ${outbox}`] };
    }
    {
      const w = await seedWorld(db);
      const noWamid = await insertOutbound(db, w.orgId, w.threadId, w.numberRef, { status: 'delivered' });
      // A status that went backwards (the trigger is gone): read → queued while its outbox row is done.
      const wamid = `wamid.${uniqueDigits()}`;
      const regressed = await insertOutbound(db, w.orgId, w.threadId, w.numberRef, { status: 'read', wamid });
      await insertOutbox(db, w.orgId, regressed, w.threadId, w.numberRef, 'done');
      await sql`UPDATE messages SET status = 'queued' WHERE id = ${regressed}`.execute(db);
      const failedButSent = await insertOutbound(db, w.orgId, w.threadId, w.numberRef, { status: 'sent', wamid: `wamid.${uniqueDigits()}` });
      await insertOutbox(db, w.orgId, failedButSent, w.threadId, w.numberRef, 'failed');
      const pendingButDelivered = await insertOutbound(db, w.orgId, w.threadId, w.numberRef, { status: 'delivered', wamid: `wamid.${uniqueDigits()}` });
      await insertOutbox(db, w.orgId, pendingButDelivered, w.threadId, w.numberRef, 'pending');
      const pending = (await sql<{ id: string }>`
        INSERT INTO pending_statuses (org_id, phone_number_ref, provider_message_id, status, provider_timestamp, payload)
        VALUES (${w.orgId}, ${w.numberRef}, ${wamid}, 'read', now(), '{}') RETURNING id`.execute(db)).rows[0]!.id;
      seeded.status_consistency = {
        orgId: w.orgId,
        subjects: [`message ${noWamid}`, `message ${regressed}`, `message ${failedButSent}`, `message ${pendingButDelivered}`, `pending status ${pending}`],
        details: [/status delivered without a wamid/, /outbox done but message queued/, /outbox failed but message sent/, /outbox pending but message delivered/, /never applied/],
      };
    }
    {
      const w = await seedWorld(db);
      const plaintext = uniqueDigits();
      await insertNumber(db, w.orgId, w.wabaRef, { phoneNumberId: plaintext, token: { ciphertext: `EAAGm0PX4ZCpsBA${randomBytes(24).toString('hex')}`, keyId: 'test1' } });
      const garbage = uniqueDigits();
      await insertNumber(db, w.orgId, w.wabaRef, { phoneNumberId: garbage, token: { ciphertext: randomBytes(60).toString('base64url'), keyId: 'test1' } });
      const unknownKey = uniqueDigits();
      await insertNumber(db, w.orgId, w.wabaRef, { phoneNumberId: unknownKey, token: { ...testCipher.encrypt('EAAsecret'), keyId: 'retired' } });
      seeded.tokens_encrypted = {
        orgId: w.orgId, subjects: [plaintext, garbage, unknownKey],
        details: [/looks like plaintext/, /does not decrypt .*key id test1/, /does not decrypt .*key id retired/],
      };
    }
    {
      // Twilio senders: one under a WABA, one without an account SID, one whose id is not its number.
      const w = await seedWorld(db);
      const twilio = (wabaRef: string | null, sid: string | null, phoneNumberId: (e164: string) => string) => {
        const e164 = `+1555${uniqueDigits(7)}`;
        return sql`
          INSERT INTO phone_numbers (org_id, waba_ref, provider, phone_number_id, display_phone_number, e164, twilio_account_sid)
          VALUES (${w.orgId}, ${wabaRef}, 'twilio', ${phoneNumberId(e164)}, ${e164.slice(1)}, ${e164}, ${sid})
          RETURNING phone_number_id`.execute(db).then((r) => (r.rows[0] as { phone_number_id: string }).phone_number_id);
      };
      const sid = 'AC0f1e2d3c4b5a69788796a5b4c3d2e1f0';
      const withWaba = await twilio(w.wabaRef, sid, (e164) => `whatsapp:${e164}`);
      const noSid = await twilio(null, null, (e164) => `whatsapp:${e164}`);
      const wrongId = await twilio(null, sid, () => uniqueDigits());
      seeded.twilio_number_shape = {
        orgId: w.orgId, subjects: [withWaba, noSid, wrongId],
        details: [/Twilio number with a WABA/, /missing or malformed account SID/, /is not whatsapp:\+/],
      };
    }
  });

  afterAll(async () => {
    await t?.drop();
  });

  it('seeds one violation for every check', () => {
    expect(Object.keys(seeded).sort()).toEqual([...CHECKS].sort());
  });

  it('reports every seeded violation under its check', async () => {
    const results = await runChecks(t.db, {}, testCipher);

    expect(failing(results)).toEqual([...CHECKS].sort());
    for (const [name, expected] of Object.entries(seeded)) {
      const { violations } = check(results, name);
      expect(violations.map((v) => v.subject).sort(), name).toEqual([...expected.subjects].sort());
      for (const [index, pattern] of (expected.details ?? []).entries()) {
        expect(violations.find((v) => v.subject === expected.subjects[index])?.detail, `${name} ${expected.subjects[index]}`).toMatch(pattern);
      }
    }
  });

  it('scoped to one organization (--org), reports only that organization\'s violations', async () => {
    expect(failing(await runChecks(t.db, { orgId: cleanOrg }, testCipher))).toEqual([]);
    for (const [name, expected] of Object.entries(seeded)) {
      const results = await runChecks(t.db, { orgId: expected.orgId }, testCipher);
      expect(failing(results), name).toEqual([name]);
      expect(check(results, name).violations.map((v) => v.subject).sort(), name).toEqual([...expected.subjects].sort());
    }
  });

  it('without keys still flags plaintext-looking tokens', async () => {
    const results = await runChecks(t.db, { orgId: seeded.tokens_encrypted!.orgId });
    expect(check(results, 'tokens_encrypted').violations.map((v) => v.detail)).toEqual(['token looks like plaintext']);
  });

  it('wahub doctor --json exits 1 with ok:false and every failed check; --org of a clean organization exits 0', async () => {
    const [all, scoped, clean] = await Promise.all([
      runWahub(['doctor', '--json'], { databaseUrl: t.url }),
      runWahub(['doctor', '--json', '--org', seeded.orphans!.orgId], { databaseUrl: t.url }),
      runWahub(['doctor', '--org', cleanOrg], { databaseUrl: t.url }),
    ]);
    expect(all.code, all.stderr).toBe(1);
    const body = JSON.parse(all.stdout) as { ok: boolean; checks: CheckResult[] };
    expect(body.ok).toBe(false);
    expect(failing(body.checks)).toEqual([...CHECKS].sort());
    expect(check(body.checks, 'waba_connected_twice').violations.map((v) => v.subject)).toEqual(seeded.waba_connected_twice!.subjects);

    expect(scoped.code).toBe(1);
    expect(failing((JSON.parse(scoped.stdout) as { checks: CheckResult[] }).checks)).toEqual(['orphans']);

    expect(clean.code, clean.stderr).toBe(0);
    expect(clean.stdout).toContain('all invariants hold');
  });

  it('wahub doctor (table) marks the failed checks and exits 1', async () => {
    const human = await runWahub(['doctor'], { databaseUrl: t.url });
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`${CHECKS.length} invariant(s) violated`);
    expect(human.stdout).toMatch(/^FAIL\s+outbox_without_message\s+1 violation\(s\), e\.g\. outbox \d+: message [0-9a-f-]{36} missing/m);
  });
});
