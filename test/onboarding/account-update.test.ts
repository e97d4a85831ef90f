/**
 * `account_update` webhooks (PROTOCOL.md §2.4, §5.8), signed and posted to the hub:
 * PARTNER_ADDED links `waba_info.waba_id` (never `entry.id`, the partner's business id) only when
 * exactly one organization has an unexpired signup state that can own it (to its newest state's
 * operator), and otherwise keeps it as a dead letter `ambiguous_partner`; PARTNER_REMOVED and
 * PARTNER_APP_UNINSTALLED disconnect the WABA's numbers and wipe their tokens; every event is
 * recorded in `account_events`, once per delivery.
 */
import { sql } from 'kysely';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { GraphApiClient } from '../../src/providers/meta/graph.client.js';
import { deliverInbound } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { createTestNumber, createTestOperator, createTestOrg, textWebhook, uniqueDigits } from '../helpers/factories.js';
import { accountUpdateWebhook, partnerAddedFixture, postWebhook, startSignup } from './helpers.js';

// signup/start makes no Graph call; the client only enables the signup routes.
const graph = new GraphApiClient({ baseUrl: 'http://127.0.0.1:9', version: 'v24.0', timeoutMs: 1000 });
const bed = useAppBed(undefined, { graph });

afterAll(async () => {
  await graph.close();
});

// "Most recent unexpired state" is global to the database: each case starts with none unexpired.
beforeEach(async () => {
  await expireAllStates();
});

async function expireAllStates(): Promise<void> {
  await sql`UPDATE oauth_states SET created_at = now() - interval '20 minutes', expires_at = now() - interval '10 minutes'`.execute(bed.t.db);
}

async function eventsOf(wabaId: string) {
  return bed.t.db.selectFrom('account_events').selectAll().where('waba_id', '=', wabaId).orderBy('received_at').execute();
}

/** `wahub_dead_letters_total{reason}` as the metrics endpoint shows it. */
async function deadLetterCount(reason: string): Promise<number> {
  const text = (await bed.app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`wahub_dead_letters_total{reason="${reason}"}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

async function wabaRows(wabaId: string) {
  return bed.t.db.selectFrom('wabas').selectAll().where('waba_id', '=', wabaId).execute();
}

const partnerAdded = (wabaId: string, ownerBusinessId = '400000000000002') => ({ event: 'PARTNER_ADDED', waba_info: { waba_id: wabaId, owner_business_id: ownerBusinessId } });

describe('account_update PARTNER_ADDED', () => {
  it('links waba_info.waba_id of the fixture, not entry.id, to the organization and operator of the one pending signup', async () => {
    const fixture = partnerAddedFixture();
    const orgB = await createTestOrg(bed.t.db);
    const adminB = await createTestOperator(bed.t.db, orgB.orgId, 'admin');
    await startSignup(bed.app, orgB.apiKey);
    await startSignup(bed.app, adminB.apiKey);

    await postWebhook(bed.app, fixture.raw);

    const wabas = await wabaRows(fixture.wabaId);
    expect(wabas.map((w) => [w.org_id, w.owner_business_id, w.disconnected_at])).toEqual([[orgB.orgId, fixture.ownerBusinessId, null]]);
    expect(await wabaRows(fixture.entryId)).toEqual([]);
    const access = await bed.t.db.selectFrom('waba_access').selectAll().where('waba_ref', '=', wabas[0]!.id).execute();
    expect(access.map((a) => [a.org_id, a.operator_id])).toEqual([[orgB.orgId, adminB.operatorId]]);
    const events = await eventsOf(fixture.wabaId);
    expect(events.map((e) => [e.org_id, e.event])).toEqual([[orgB.orgId, 'PARTNER_ADDED']]);
    expect(events[0]!.payload).toEqual(JSON.parse(fixture.raw).entry[0].changes[0].value);
    // The numbers come with the signup itself: PARTNER_ADDED creates none.
    expect(await bed.t.db.selectFrom('phone_numbers').select('id').where('waba_ref', '=', wabas[0]!.id).execute()).toEqual([]);
  });

  it('keeps it as a dead letter ambiguous_partner, links nothing and counts it, when two organizations have a pending signup', async () => {
    const orgA = await createTestOrg(bed.t.db);
    const orgB = await createTestOrg(bed.t.db);
    await startSignup(bed.app, orgA.apiKey);
    await startSignup(bed.app, orgB.apiKey);
    const wabaId = uniqueDigits();
    const before = await deadLetterCount('ambiguous_partner');

    await postWebhook(bed.app, accountUpdateWebhook(partnerAdded(wabaId)));

    expect(await wabaRows(wabaId)).toEqual([]);
    expect((await eventsOf(wabaId)).map((e) => [e.org_id, e.event])).toEqual([[null, 'PARTNER_ADDED']]);
    const letters = await bed.t.db.selectFrom('webhook_dead_letters').selectAll().where('waba_id', '=', wabaId).execute();
    expect(letters.map((l) => [l.reason, l.org_id, l.field])).toEqual([['ambiguous_partner', null, 'account_update']]);
    expect(await deadLetterCount('ambiguous_partner')).toBe(before + 1);
  });

  it('links to the one organization of several with a pending signup that already holds a WABA of the same business', async () => {
    const orgA = await createTestOrg(bed.t.db);
    const orgB = await createTestOrg(bed.t.db);
    const businessId = uniqueDigits();
    await createTestNumber(bed.t.db, orgB.orgId);
    await bed.t.db.updateTable('wabas').set({ owner_business_id: businessId }).where('org_id', '=', orgB.orgId).execute();
    await startSignup(bed.app, orgB.apiKey);
    await startSignup(bed.app, orgA.apiKey);
    const wabaId = uniqueDigits();

    await postWebhook(bed.app, accountUpdateWebhook(partnerAdded(wabaId, businessId)));

    expect((await wabaRows(wabaId)).map((w) => w.org_id)).toEqual([orgB.orgId]);
  });

  it('ignores an expired state even when it is the newest: the latest unexpired one wins', async () => {
    const orgA = await createTestOrg(bed.t.db);
    const orgC = await createTestOrg(bed.t.db);
    await startSignup(bed.app, orgA.apiKey);
    await startSignup(bed.app, orgC.apiKey);
    // C's state is the newest but expired; A's is older and still valid.
    await sql`UPDATE oauth_states SET created_at = now() - interval '2 seconds', expires_at = now() - interval '1 second'
              WHERE org_id = ${orgC.orgId}`.execute(bed.t.db);
    await sql`UPDATE oauth_states SET created_at = now() - interval '5 minutes' WHERE org_id = ${orgA.orgId}`.execute(bed.t.db);
    const wabaId = uniqueDigits();

    await postWebhook(bed.app, accountUpdateWebhook(partnerAdded(wabaId)));

    expect((await wabaRows(wabaId)).map((w) => w.org_id)).toEqual([orgA.orgId]);
  });

  it('records the event with no organization when every state has expired, and links nothing', async () => {
    const org = await createTestOrg(bed.t.db);
    await startSignup(bed.app, org.apiKey);
    await expireAllStates();
    const wabaId = uniqueDigits();

    await postWebhook(bed.app, accountUpdateWebhook(partnerAdded(wabaId)));

    expect(await wabaRows(wabaId)).toEqual([]);
    expect((await eventsOf(wabaId)).map((e) => [e.org_id, e.event])).toEqual([[null, 'PARTNER_ADDED']]);
  });

  it('links a state that was already used by its signup (the webhook usually follows the completion)', async () => {
    const org = await createTestOrg(bed.t.db);
    await startSignup(bed.app, org.apiKey);
    await sql`UPDATE oauth_states SET consumed_at = now() WHERE org_id = ${org.orgId}`.execute(bed.t.db);
    const wabaId = uniqueDigits();

    await postWebhook(bed.app, accountUpdateWebhook(partnerAdded(wabaId)));

    expect((await wabaRows(wabaId)).map((w) => w.org_id)).toEqual([org.orgId]);
  });

  it('leaves a WABA connected in another organization where it is, records the event and still answers 200', async () => {
    const owner = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, owner.orgId);
    const other = await createTestOrg(bed.t.db);
    await startSignup(bed.app, other.apiKey);
    // A message in the same webhook must still be stored: the refused link only rolls back to its savepoint.
    const wamid = `wamid.partner-${uniqueDigits()}`;
    const body = JSON.parse(accountUpdateWebhook(partnerAdded(number.wabaId))) as { entry: unknown[] };
    const message = JSON.parse(textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from: '14155550123', wamid })) as { entry: unknown[] };
    body.entry.push(...message.entry);

    await postWebhook(bed.app, JSON.stringify(body));

    expect((await wabaRows(number.wabaId)).map((w) => [w.org_id, w.disconnected_at])).toEqual([[owner.orgId, null]]);
    expect((await eventsOf(number.wabaId)).map((e) => [e.org_id, e.event])).toEqual([[null, 'PARTNER_ADDED']]);
    expect(await bed.t.db.selectFrom('messages').select('org_id').where('provider_message_id', '=', wamid).execute()).toEqual([{ org_id: owner.orgId }]);
    expect(await bed.t.db.selectFrom('waba_access').select('org_id').where('org_id', '=', other.orgId).execute()).toEqual([]);
  });

  it('keeps the other changes of the same webhook when the link of one WABA is refused', async () => {
    const owner = await createTestOrg(bed.t.db);
    const taken = await createTestNumber(bed.t.db, owner.orgId);
    const org = await createTestOrg(bed.t.db);
    await startSignup(bed.app, org.apiKey);
    const free = uniqueDigits();
    const envelope = JSON.parse(accountUpdateWebhook(partnerAdded(taken.wabaId))) as { entry: Array<{ changes: unknown[] }> };
    envelope.entry[0]!.changes.push({ field: 'account_update', value: partnerAdded(free) });

    await postWebhook(bed.app, JSON.stringify(envelope));

    expect((await wabaRows(free)).map((w) => w.org_id)).toEqual([org.orgId]);
    expect((await eventsOf(free)).map((e) => e.org_id)).toEqual([org.orgId]);
    expect((await eventsOf(taken.wabaId)).map((e) => e.org_id)).toEqual([null]);
  });

  it('accepts a numeric waba_id', async () => {
    const org = await createTestOrg(bed.t.db);
    await startSignup(bed.app, org.apiKey);
    const wabaId = uniqueDigits(12);

    await postWebhook(bed.app, accountUpdateWebhook({ event: 'PARTNER_ADDED', waba_info: { waba_id: Number(wabaId), owner_business_id: '400000000000002' } }));

    expect((await wabaRows(wabaId)).map((w) => w.org_id)).toEqual([org.orgId]);
  });

  it('records a redelivered PARTNER_ADDED once and grants the operator once', async () => {
    const org = await createTestOrg(bed.t.db);
    await startSignup(bed.app, org.apiKey);
    const wabaId = uniqueDigits();
    const payload = accountUpdateWebhook(partnerAdded(wabaId));

    await postWebhook(bed.app, payload);
    await postWebhook(bed.app, payload);

    expect(await eventsOf(wabaId)).toHaveLength(1);
    const wabas = await wabaRows(wabaId);
    expect(wabas).toHaveLength(1);
    expect(await bed.t.db.selectFrom('waba_access').select('operator_id').where('waba_ref', '=', wabas[0]!.id).execute()).toHaveLength(1);
  });
});

describe.each(['PARTNER_REMOVED', 'PARTNER_APP_UNINSTALLED'])('account_update %s', (event) => {
  it('disconnects every number of the WABA, wipes their tokens and keeps their history', async () => {
    const org = await createTestOrg(bed.t.db);
    const first = await createTestNumber(bed.t.db, org.orgId);
    const second = await createTestNumber(bed.t.db, org.orgId, { wabaId: first.wabaId });
    const elsewhere = await createTestNumber(bed.t.db, org.orgId);
    await deliverInbound(bed.app, bed.t.db, first);

    await postWebhook(bed.app, accountUpdateWebhook({ event, waba_info: { waba_id: first.wabaId, owner_business_id: '400000000000002' } }));

    const numbers = await bed.t.db.selectFrom('phone_numbers').selectAll().where('org_id', '=', org.orgId).execute();
    const byId = new Map(numbers.map((n) => [n.id, n]));
    for (const id of [first.id, second.id]) {
      expect(byId.get(id)).toMatchObject({ status: 'disconnected', access_token_ciphertext: null, access_token_key_id: null });
    }
    expect(byId.get(elsewhere.id)).toMatchObject({ status: 'active', access_token_key_id: 'test1' });
    expect((await wabaRows(first.wabaId))[0]!.disconnected_at).toBeInstanceOf(Date);
    expect((await eventsOf(first.wabaId)).map((e) => [e.org_id, e.event])).toEqual([[org.orgId, event]]);
    expect(await bed.t.db.selectFrom('messages').select('id').where('phone_number_ref', '=', first.id).execute()).toHaveLength(1);

    // The number no longer routes: a message to it is dead-lettered, not filed under the old organization.
    await postWebhook(bed.app, textWebhook({ wabaId: first.wabaId, phoneNumberId: first.phoneNumberId, from: '14155550123', wamid: `wamid.after-${uniqueDigits()}` }));
    expect(await bed.t.db.selectFrom('messages').select('id').where('phone_number_ref', '=', first.id).execute()).toHaveLength(1);
    expect(await bed.t.db.selectFrom('webhook_dead_letters').select('phone_number_id').where('phone_number_id', '=', first.phoneNumberId).execute()).toHaveLength(1);
  });

  it('records the event once when Meta redelivers it', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const payload = accountUpdateWebhook({ event, waba_info: { waba_id: number.wabaId, owner_business_id: '400000000000002' } });

    await postWebhook(bed.app, payload);
    await postWebhook(bed.app, payload);

    expect(await eventsOf(number.wabaId)).toHaveLength(1);
  });

  it('records the event for a WABA nobody holds without touching anything', async () => {
    const wabaId = uniqueDigits();

    await postWebhook(bed.app, accountUpdateWebhook({ event, waba_info: { waba_id: wabaId, owner_business_id: '400000000000002' } }));

    expect((await eventsOf(wabaId)).map((e) => [e.org_id, e.event])).toEqual([[null, event]]);
    expect(await wabaRows(wabaId)).toEqual([]);
  });
});

describe('account_update other events', () => {
  it('records every other event with its payload', async () => {
    const before = await bed.t.db.selectFrom('account_events').select('id').execute();
    const values = [
      { event: 'ACCOUNT_VIOLATION', violation_info: { violation_type: 'SCAM' } },
      { event: 'DISABLED_UPDATE', ban_info: { waba_ban_state: 'DISABLE', waba_ban_date: '2026-01-01' } },
      { event: 'BUSINESS_PRIMARY_LOCATION_COUNTRY_UPDATE', country: 'DE' },
    ];

    for (const value of values) await postWebhook(bed.app, accountUpdateWebhook(value, uniqueDigits()));

    const rows = await bed.t.db.selectFrom('account_events').selectAll().where('id', 'not in', before.length ? before.map((b) => b.id) : ['00000000-0000-0000-0000-000000000000']).execute();
    expect(rows.map((r) => r.event).sort()).toEqual(values.map((v) => v.event).sort());
    for (const value of values) expect(rows.find((r) => r.event === value.event)!.payload).toEqual(value);
    expect(await bed.t.db.selectFrom('webhook_dead_letters').select('id').where('field', '=', 'account_update').where('reason', '<>', 'ambiguous_partner').execute()).toEqual([]);
  });

  it('records a PARTNER_ADDED without waba_info instead of failing the webhook', async () => {
    const org = await createTestOrg(bed.t.db);
    await startSignup(bed.app, org.apiKey);
    const marker = uniqueDigits();

    await postWebhook(bed.app, accountUpdateWebhook({ event: 'PARTNER_ADDED', note: marker }));

    const rows = await bed.t.db.selectFrom('account_events').selectAll().where(sql<boolean>`payload->>'note' = ${marker}`).execute();
    expect(rows.map((r) => [r.org_id, r.waba_id, r.event])).toEqual([[null, null, 'PARTNER_ADDED']]);
  });
});
