/**
 * The golden rules of SPEC §2 for connections: reconnect keeps the row, operators share a WABA, a
 * phone_number_id and a WABA are connected in at most one organization (database refusal → 409),
 * a disconnected WABA can be connected elsewhere, and validate-after-save rolls the whole
 * connection back (`consistency_check_failed`).
 */
import { sql } from 'kysely';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/database.js';
import { connectPhoneNumber } from '../../src/numbers/numbers.service.js';
import { AppError } from '../../src/shared/errors.js';
import { bearer } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { createTestNumber, createTestOperator, createTestOrg, testCipher, uniqueDigits } from '../helpers/factories.js';
import { ciphertextStartingWithEAA, insertNumber } from '../consistency/seed.js';
import { accountUpdateWebhook, postWebhook } from './helpers.js';

const bed = useAppBed();

const decrypt = (row: { access_token_ciphertext: string | null; access_token_key_id: string | null }) =>
  testCipher.decrypt({ ciphertext: row.access_token_ciphertext!, keyId: row.access_token_key_id! });

async function orgRows(db: Db, orgId: string) {
  return {
    wabas: await db.selectFrom('wabas').selectAll().where('org_id', '=', orgId).execute(),
    numbers: await db.selectFrom('phone_numbers').selectAll().where('org_id', '=', orgId).execute(),
    access: await db.selectFrom('waba_access').selectAll().where('org_id', '=', orgId).execute(),
  };
}

/** `POST /v1/phone-numbers` (manual connect). */
async function connectByApi(apiKey: string, values: { wabaId: string; phoneNumberId: string; display?: string; token?: string }) {
  return bed.app.inject({
    method: 'POST', url: '/v1/phone-numbers', headers: bearer(apiKey),
    payload: { waba_id: values.wabaId, phone_number_id: values.phoneNumberId, display_phone_number: values.display ?? `1555${uniqueDigits(7)}`, access_token: values.token ?? 'EAAmanual-token' },
  });
}

describe('connectPhoneNumber', () => {
  it('reconnecting a number in its organization keeps the row (and its id) and replaces the token', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId, { accessToken: 'first-token' });

    const again = await connectPhoneNumber(bed.t.db, testCipher, {
      orgId: org.orgId, wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, displayPhoneNumber: number.displayPhoneNumber, accessToken: 'second-token',
    });

    expect(again).toEqual({ id: number.id, created: false });
    const rows = await orgRows(bed.t.db, org.orgId);
    expect(rows.wabas).toHaveLength(1);
    expect(rows.numbers).toHaveLength(1);
    expect(decrypt(rows.numbers[0]!)).toBe('second-token');
  });

  it('lets two operators share one WABA (one access row each) and grants an operator once', async () => {
    const org = await createTestOrg(bed.t.db);
    const second = await createTestOperator(bed.t.db, org.orgId, 'admin');
    const wabaId = uniqueDigits();
    const base = { orgId: org.orgId, wabaId, accessToken: 'token', displayPhoneNumber: `1555${uniqueDigits(7)}` };

    await connectPhoneNumber(bed.t.db, testCipher, { ...base, phoneNumberId: uniqueDigits(), operatorId: org.operatorId });
    await connectPhoneNumber(bed.t.db, testCipher, { ...base, phoneNumberId: uniqueDigits(), operatorId: second.operatorId });
    await connectPhoneNumber(bed.t.db, testCipher, { ...base, phoneNumberId: uniqueDigits(), operatorId: org.operatorId });

    const rows = await orgRows(bed.t.db, org.orgId);
    expect(rows.wabas).toHaveLength(1);
    expect(rows.numbers).toHaveLength(3);
    expect(rows.access.map((a) => [a.operator_id, a.waba_ref]).sort()).toEqual(
      [[org.operatorId, rows.wabas[0]!.id], [second.operatorId, rows.wabas[0]!.id]].sort(),
    );
  });

  it('is not refused because a stored ciphertext of the WABA happens to start with "EAA" (it decrypts, so it is no plaintext)', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const wabaRef = (await orgRows(bed.t.db, org.orgId)).wabas[0]!.id;
    // 1 IV in 262,144 gives such a ciphertext; seeded directly so the case does not depend on luck.
    await insertNumber(bed.t.db, org.orgId, wabaRef, { token: { ciphertext: ciphertextStartingWithEAA('EAAreal'), keyId: 'test1' } });

    const again = await connectPhoneNumber(bed.t.db, testCipher, {
      orgId: org.orgId, wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, displayPhoneNumber: number.displayPhoneNumber, accessToken: 'renewed',
    });

    expect(again).toEqual({ id: number.id, created: false });
  });

  it('answers not_found for an operator of another organization and saves nothing', async () => {
    const org = await createTestOrg(bed.t.db);
    const stranger = await createTestOrg(bed.t.db);
    const attempt = connectPhoneNumber(bed.t.db, testCipher, {
      orgId: org.orgId, wabaId: uniqueDigits(), phoneNumberId: uniqueDigits(), displayPhoneNumber: '15550100001', accessToken: 'x', operatorId: stranger.operatorId,
    });
    await expect(attempt).rejects.toMatchObject({ code: 'not_found' });
    expect(await orgRows(bed.t.db, org.orgId)).toEqual({ wabas: [], numbers: [], access: [] });
  });
});

describe('POST /v1/phone-numbers across organizations', () => {
  it('refuses A\'s phone_number_id in organization B with 409 conflict and saves nothing in B', async () => {
    const orgA = await createTestOrg(bed.t.db);
    const orgB = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, orgA.orgId);

    const response = await connectByApi(orgB.apiKey, { wabaId: uniqueDigits(), phoneNumberId: number.phoneNumberId });

    expect(response.statusCode).toBe(409);
    expect(response.json().error).toMatchObject({ code: 'conflict', details: { constraint: 'phone_numbers_connected_phone_number_id_key' } });
    expect(response.json().error.message).toContain(number.phoneNumberId);
    expect(await orgRows(bed.t.db, orgB.orgId)).toEqual({ wabas: [], numbers: [], access: [] });
    const a = await orgRows(bed.t.db, orgA.orgId);
    expect(a.numbers.map((n) => [n.id, n.status])).toEqual([[number.id, 'active']]);
  });

  it('refuses A\'s WABA in organization B with 409 conflict, even for a new number', async () => {
    const orgA = await createTestOrg(bed.t.db);
    const orgB = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, orgA.orgId);

    const response = await connectByApi(orgB.apiKey, { wabaId: number.wabaId, phoneNumberId: uniqueDigits() });

    expect(response.statusCode).toBe(409);
    expect(response.json().error).toMatchObject({ code: 'conflict', details: { constraint: 'wabas_connected_waba_id_key' } });
    expect(response.json().error.message).toContain(number.wabaId);
    expect(await orgRows(bed.t.db, orgB.orgId)).toEqual({ wabas: [], numbers: [], access: [] });
  });

  it('lets B connect A\'s WABA and numbers once A\'s WABA was disconnected by PARTNER_REMOVED; A keeps its rows, disconnected and without token', async () => {
    const orgA = await createTestOrg(bed.t.db);
    const orgB = await createTestOrg(bed.t.db);
    const first = await createTestNumber(bed.t.db, orgA.orgId);
    const second = await createTestNumber(bed.t.db, orgA.orgId, { wabaId: first.wabaId });

    await postWebhook(bed.app, accountUpdateWebhook({ event: 'PARTNER_REMOVED', waba_info: { waba_id: first.wabaId, owner_business_id: '400000000000009' } }));

    for (const number of [first, second]) {
      const response = await connectByApi(orgB.apiKey, { wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, display: number.displayPhoneNumber, token: 'token-of-b' });
      expect(response.statusCode, response.body).toBe(201);
    }
    const a = await orgRows(bed.t.db, orgA.orgId);
    expect(a.wabas[0]!.disconnected_at).toBeInstanceOf(Date);
    expect(a.numbers.map((n) => [n.status, n.access_token_ciphertext, n.access_token_key_id])).toEqual([['disconnected', null, null], ['disconnected', null, null]]);
    const b = await orgRows(bed.t.db, orgB.orgId);
    expect(b.wabas.map((w) => [w.waba_id, w.disconnected_at])).toEqual([[first.wabaId, null]]);
    expect(b.numbers.map((n) => n.status)).toEqual(['active', 'active']);
    expect(b.numbers.map(decrypt)).toEqual(['token-of-b', 'token-of-b']);
    expect(b.access.map((x) => x.operator_id)).toEqual([orgB.operatorId]);

    // Now B holds it: A cannot take it back.
    const back = await connectByApi(orgA.apiKey, { wabaId: first.wabaId, phoneNumberId: first.phoneNumberId, display: first.displayPhoneNumber });
    expect(back.statusCode).toBe(409);
    expect(back.json().error.code).toBe('conflict');
  });

  it('reconnecting a disconnected number in its own organization reuses the old row', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    await postWebhook(bed.app, accountUpdateWebhook({ event: 'PARTNER_APP_UNINSTALLED', waba_info: { waba_id: number.wabaId, owner_business_id: '400000000000009' } }));

    const response = await connectByApi(org.apiKey, { wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, display: number.displayPhoneNumber, token: 'fresh' });

    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ id: number.id, phone_number_id: number.phoneNumberId, created: false });
    const rows = await orgRows(bed.t.db, org.orgId);
    expect(rows.wabas.map((w) => w.disconnected_at)).toEqual([null]);
    expect(rows.numbers.map((n) => [n.id, n.status, decrypt(n)])).toEqual([[number.id, 'active', 'fresh']]);
  });

  it('lets only one of many organizations racing for the same phone_number_id connect it', async () => {
    const orgs = await Promise.all(Array.from({ length: 8 }, () => createTestOrg(bed.t.db)));
    const phoneNumberId = uniqueDigits();

    const responses = await Promise.all(orgs.map((org) => connectByApi(org.apiKey, { wabaId: uniqueDigits(), phoneNumberId })));

    expect(responses.map((r) => r.statusCode).sort()).toEqual([201, 409, 409, 409, 409, 409, 409, 409]);
    const rows = await bed.t.db.selectFrom('phone_numbers').select('org_id').where('phone_number_id', '=', phoneNumberId).execute();
    expect(rows).toHaveLength(1);
    // The losers' WABA rows were rolled back with their numbers.
    const wabas = await bed.t.db.selectFrom('wabas').select('org_id').where('org_id', 'in', orgs.map((o) => o.orgId)).execute();
    expect(wabas.map((w) => w.org_id)).toEqual([rows[0]!.org_id]);
  });
});

describe('validate after save', () => {
  // Each case breaks a constraint in a database of its own, so that only the validation stands
  // between the attempt and an inconsistent commit.
  const scratch = useAppBed(5);

  beforeAll(async () => {
    await sql`DROP INDEX phone_numbers_connected_phone_number_id_key`.execute(scratch.t.db);
    await sql`ALTER TABLE phone_numbers DROP CONSTRAINT phone_numbers_disconnected_token_check`.execute(scratch.t.db);
  });

  it('rolls back a connection that would leave a phone_number_id connected in two organizations: 409 consistency_check_failed listing the check', async () => {
    const orgA = await createTestOrg(scratch.t.db);
    const orgB = await createTestOrg(scratch.t.db);
    const number = await createTestNumber(scratch.t.db, orgA.orgId);
    const wabaOfB = uniqueDigits();

    const response = await scratch.app.inject({
      method: 'POST', url: '/v1/phone-numbers', headers: bearer(orgB.apiKey),
      payload: { waba_id: wabaOfB, phone_number_id: number.phoneNumberId, display_phone_number: number.displayPhoneNumber, access_token: 'token-of-b' },
    });

    expect(response.statusCode).toBe(409);
    const error = response.json().error;
    expect(error.code).toBe('consistency_check_failed');
    expect(error.message).toContain('phone_number_connected_twice');
    expect(error.details).toEqual([{ check: 'phone_number_connected_twice', violations: [{ subject: number.phoneNumberId, detail: '2 connected rows in 2 organizations' }] }]);
    // Nothing of the attempt was saved: no WABA, number or access grant in B; A untouched.
    expect(await orgRows(scratch.t.db, orgB.orgId)).toEqual({ wabas: [], numbers: [], access: [] });
    expect((await orgRows(scratch.t.db, orgA.orgId)).numbers.map((n) => [n.id, n.status, decrypt(n)])).toEqual([[number.id, 'active', number.accessToken]]);
  });

  it('rolls back a new number of a WABA whose rows already break an invariant, and the function throws the same AppError', async () => {
    const org = await createTestOrg(scratch.t.db);
    const broken = await createTestNumber(scratch.t.db, org.orgId);
    // Seeded with raw SQL: a disconnected number that kept its token (the check constraint is gone).
    await sql`UPDATE phone_numbers SET status = 'disconnected' WHERE id = ${broken.id}`.execute(scratch.t.db);
    const newcomer = uniqueDigits();

    const attempt = connectPhoneNumber(scratch.t.db, testCipher, {
      orgId: org.orgId, wabaId: broken.wabaId, phoneNumberId: newcomer, displayPhoneNumber: '15550100077', accessToken: 'new', operatorId: org.operatorId,
    });

    const error = await attempt.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: 'consistency_check_failed', details: [{ check: 'disconnected_number_with_token', violations: [{ subject: broken.phoneNumberId }] }] });
    const rows = await orgRows(scratch.t.db, org.orgId);
    expect(rows.numbers.map((n) => n.phone_number_id)).toEqual([broken.phoneNumberId]);
    expect(rows.access).toEqual([]);
  });
});
