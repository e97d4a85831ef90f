/**
 * The database itself refuses every violation of SPEC §2, whatever the application does: each case
 * writes with raw SQL (no service, no repository) and asserts the SQLSTATE and constraint name.
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SQLSTATE } from '../../src/db/errors.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { uniqueDigits } from '../helpers/factories.js';
import {
  insertClient, insertContact, insertInbound, insertNumber, insertOrg, insertOutbound, insertOutbox, insertThread, insertWaba, refusal, seedWorld,
} from './seed.js';

let t: TestDatabase;

beforeAll(async () => {
  t = await createTestDatabase(4);
});

afterAll(async () => {
  await t?.drop();
});

describe('database constraints (raw SQL, bypassing wahub)', () => {
  it('refuses a second contact with the same E.164 number in one organization (23505), not in another one', async () => {
    const w = await seedWorld(t.db);
    const e164 = (await t.db.selectFrom('contacts').select('e164').where('id', '=', w.contactId).executeTakeFirstOrThrow()).e164;

    const error = await refusal(insertContact(t.db, w.orgId, w.clientId, e164!));

    expect(error).toMatchObject({ code: SQLSTATE.uniqueViolation, constraint: 'contacts_org_id_e164_key' });
    const other = await seedWorld(t.db);
    await expect(insertContact(t.db, other.orgId, other.clientId, e164!)).resolves.toBeTruthy();
  });

  it('refuses a second inbound message with the same wamid on one business number (23505), not on another number', async () => {
    const w = await seedWorld(t.db);

    const error = await refusal(insertInbound(t.db, w.orgId, w.threadId, w.numberRef, w.inboundWamid));

    expect(error).toMatchObject({ code: SQLSTATE.uniqueViolation, constraint: 'messages_provider_message_id_key' });
    const otherNumber = await insertNumber(t.db, w.orgId, w.wabaRef);
    const otherThread = await insertThread(t.db, w.orgId, otherNumber, w.contactId);
    await expect(insertInbound(t.db, w.orgId, otherThread, otherNumber, w.inboundWamid)).resolves.toBeTruthy();
  });

  it('refuses a phone_number_id connected in a second organization (23505), but allows a disconnected row there', async () => {
    const w = await seedWorld(t.db);
    const orgB = await insertOrg(t.db);
    const wabaOfB = await insertWaba(t.db, orgB);

    const error = await refusal(insertNumber(t.db, orgB, wabaOfB, { phoneNumberId: w.phoneNumberId }));

    expect(error).toMatchObject({ code: SQLSTATE.uniqueViolation, constraint: 'phone_numbers_connected_phone_number_id_key' });
    const disconnected = await insertNumber(t.db, orgB, wabaOfB, { phoneNumberId: w.phoneNumberId, status: 'disconnected' });
    // …and it may not come back while A holds the number.
    const reconnect = await refusal(sql`UPDATE phone_numbers SET status = 'active' WHERE id = ${disconnected}`.execute(t.db));
    expect(reconnect).toMatchObject({ code: SQLSTATE.uniqueViolation, constraint: 'phone_numbers_connected_phone_number_id_key' });
  });

  it('refuses the same phone_number_id twice in one organization (23505), even disconnected', async () => {
    const w = await seedWorld(t.db);
    await sql`UPDATE phone_numbers SET status = 'disconnected', access_token_ciphertext = NULL, access_token_key_id = NULL WHERE id = ${w.numberRef}`.execute(t.db);

    const error = await refusal(insertNumber(t.db, w.orgId, w.wabaRef, { phoneNumberId: w.phoneNumberId, status: 'disconnected' }));

    expect(error).toMatchObject({ code: SQLSTATE.uniqueViolation, constraint: 'phone_numbers_org_id_phone_number_id_key' });
  });

  it('refuses a WABA connected in a second organization (23505), but allows a disconnected row there', async () => {
    const w = await seedWorld(t.db);
    const orgB = await insertOrg(t.db);

    const error = await refusal(insertWaba(t.db, orgB, w.wabaId));

    expect(error).toMatchObject({ code: SQLSTATE.uniqueViolation, constraint: 'wabas_connected_waba_id_key' });
    await expect(insertWaba(t.db, orgB, w.wabaId, true)).resolves.toBeTruthy();
  });

  it('refuses a second grant of one WABA to one operator (23505)', async () => {
    const w = await seedWorld(t.db);
    const operator = (await sql<{ id: string }>`INSERT INTO operators (org_id, email, role) VALUES (${w.orgId}, 'raw@example.test', 'admin') RETURNING id`.execute(t.db)).rows[0]!.id;
    const grant = () => sql`INSERT INTO waba_access (org_id, operator_id, waba_ref) VALUES (${w.orgId}, ${operator}, ${w.wabaRef})`.execute(t.db);
    await grant();

    expect(await refusal(grant())).toMatchObject({ code: SQLSTATE.uniqueViolation, constraint: 'waba_access_pkey' });
  });

  it('refuses a number whose WABA belongs to another organization (23503)', async () => {
    const w = await seedWorld(t.db);
    const orgB = await insertOrg(t.db);

    const error = await refusal(insertNumber(t.db, orgB, w.wabaRef));

    expect(error).toMatchObject({ code: SQLSTATE.foreignKeyViolation, constraint: 'phone_numbers_waba_fkey' });
  });

  it('refuses a thread that references a contact of another organization (23503, composite key)', async () => {
    const a = await seedWorld(t.db);
    const b = await seedWorld(t.db);

    const error = await refusal(insertThread(t.db, a.orgId, a.numberRef, b.contactId));

    expect(error).toMatchObject({ code: SQLSTATE.foreignKeyViolation, constraint: 'threads_contact_fkey' });
  });

  it('refuses a second thread for one (business number, contact) (23505)', async () => {
    const w = await seedWorld(t.db);

    const error = await refusal(insertThread(t.db, w.orgId, w.numberRef, w.contactId));

    expect(error).toMatchObject({ code: SQLSTATE.uniqueViolation, constraint: 'threads_phone_number_contact_key' });
  });

  it('refuses a message whose thread is on another business number (23503)', async () => {
    const w = await seedWorld(t.db);
    const otherNumber = await insertNumber(t.db, w.orgId, w.wabaRef);

    const error = await refusal(insertOutbound(t.db, w.orgId, w.threadId, otherNumber));

    expect(error).toMatchObject({ code: SQLSTATE.foreignKeyViolation, constraint: 'messages_thread_fkey' });
  });

  it('refuses an outbox row without its message (23503), and one whose message is in another organization', async () => {
    const a = await seedWorld(t.db);
    const b = await seedWorld(t.db);

    const missing = await refusal(insertOutbox(t.db, a.orgId, randomUUID(), a.threadId, a.numberRef));
    const bMessage = await insertOutbound(t.db, b.orgId, b.threadId, b.numberRef);
    const foreign = await refusal(insertOutbox(t.db, a.orgId, bMessage, a.threadId, a.numberRef));

    expect(missing).toMatchObject({ code: SQLSTATE.foreignKeyViolation, constraint: 'message_outbox_message_fkey' });
    expect(foreign).toMatchObject({ code: SQLSTATE.foreignKeyViolation, constraint: 'message_outbox_message_fkey' });
  });

  it('refuses an outbound message reusing an Idempotency-Key of its organization (23505)', async () => {
    const w = await seedWorld(t.db);
    const insert = () => sql`
      INSERT INTO messages (org_id, thread_id, phone_number_ref, direction, type, content, status, idempotency_key, request_hash)
      VALUES (${w.orgId}, ${w.threadId}, ${w.numberRef}, 'outbound', 'text', '{}', 'queued', 'key-1', 'hash')`.execute(t.db);
    await insert();

    expect(await refusal(insert())).toMatchObject({ code: SQLSTATE.uniqueViolation, constraint: 'messages_idempotency_key_key' });
  });

  it('refuses a status that goes backwards, or leaves failed (trigger, 23514)', async () => {
    const w = await seedWorld(t.db);
    const delivered = await insertOutbound(t.db, w.orgId, w.threadId, w.numberRef, { status: 'delivered', wamid: `wamid.${uniqueDigits()}` });
    const failed = await insertOutbound(t.db, w.orgId, w.threadId, w.numberRef, { status: 'failed' });

    const back = await refusal(sql`UPDATE messages SET status = 'sent' WHERE id = ${delivered}`.execute(t.db));
    const revived = await refusal(sql`UPDATE messages SET status = 'read' WHERE id = ${failed}`.execute(t.db));

    expect(back).toMatchObject({ code: SQLSTATE.checkViolation });
    expect(back.message).toContain('cannot go back from delivered to sent');
    expect(revived).toMatchObject({ code: SQLSTATE.checkViolation });
    expect(revived.message).toContain('cannot leave failed');
    // Forward is fine.
    await sql`UPDATE messages SET status = 'read' WHERE id = ${delivered}`.execute(t.db);
    const rows = await t.db.selectFrom('messages').select(['id', 'status']).where('id', 'in', [delivered, failed]).execute();
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({ [delivered]: 'read', [failed]: 'failed' });
  });

  it('refuses a disconnected number that keeps a token (23514), on insert and on update', async () => {
    const w = await seedWorld(t.db);

    const inserted = await refusal(insertNumber(t.db, w.orgId, w.wabaRef, { status: 'disconnected', token: true }));
    const updated = await refusal(sql`UPDATE phone_numbers SET status = 'disconnected' WHERE id = ${w.numberRef}`.execute(t.db));

    expect(inserted).toMatchObject({ code: SQLSTATE.checkViolation, constraint: 'phone_numbers_disconnected_token_check' });
    expect(updated).toMatchObject({ code: SQLSTATE.checkViolation, constraint: 'phone_numbers_disconnected_token_check' });
  });

  it('refuses a ciphertext without its key id, and a key id without ciphertext (23514)', async () => {
    const w = await seedWorld(t.db);

    const noKey = await refusal(insertNumber(t.db, w.orgId, w.wabaRef, { token: { ciphertext: 'c2VjcmV0LWNpcGhlcnRleHQtYnl0ZXMtYWJjZGVmZ2g', keyId: null } }));
    const noCiphertext = await refusal(sql`UPDATE phone_numbers SET access_token_ciphertext = NULL WHERE id = ${w.numberRef}`.execute(t.db));

    expect(noKey).toMatchObject({ code: SQLSTATE.checkViolation, constraint: 'phone_numbers_token_check' });
    expect(noCiphertext).toMatchObject({ code: SQLSTATE.checkViolation, constraint: 'phone_numbers_token_check' });
  });

  it('refuses a contact whose client is in another organization (23503)', async () => {
    const a = await seedWorld(t.db);
    const b = await seedWorld(t.db);

    const error = await refusal(insertContact(t.db, a.orgId, b.clientId));

    expect(error).toMatchObject({ code: SQLSTATE.foreignKeyViolation, constraint: 'contacts_client_fkey' });
    await expect(insertContact(t.db, a.orgId, await insertClient(t.db, a.orgId))).resolves.toBeTruthy();
  });
});
