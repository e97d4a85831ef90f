/**
 * Moving a number between organizations (`moveNumber`, `wahub number move`): the whole WABA moves
 * in one audited transaction; the source keeps its history with the rows disconnected and tokens
 * wiped; the target gets the numbers active with the new token; webhooks route to the target.
 */
import { describe, expect, it } from 'vitest';
import type { Db } from '../../src/db/database.js';
import { moveNumber } from '../../src/numbers/move.service.js';
import { deliverInbound } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { runWahub } from '../helpers/cli.js';
import { createTestNumber, createTestOrg, testCipher, uniqueDigits } from '../helpers/factories.js';

const bed = useAppBed();

async function rowsOf(db: Db, orgId: string) {
  return {
    wabas: await db.selectFrom('wabas').selectAll().where('org_id', '=', orgId).execute(),
    numbers: await db.selectFrom('phone_numbers').selectAll().where('org_id', '=', orgId).orderBy('phone_number_id').execute(),
    threads: await db.selectFrom('threads').select(['id', 'phone_number_ref']).where('org_id', '=', orgId).execute(),
    messages: await db.selectFrom('messages').select(['id', 'phone_number_ref']).where('org_id', '=', orgId).execute(),
    audit: await db.selectFrom('audit_log').selectAll().where('org_id', '=', orgId).orderBy('id').execute(),
  };
}

/** Organization A with one WABA of two numbers (throughput 20 on the first), and an inbound conversation on each. */
async function setup() {
  const orgA = await createTestOrg(bed.t.db);
  const orgB = await createTestOrg(bed.t.db);
  const first = await createTestNumber(bed.t.db, orgA.orgId, { accessToken: 'token-of-a' });
  const second = await createTestNumber(bed.t.db, orgA.orgId, { wabaId: first.wabaId, accessToken: 'token-of-a' });
  await bed.t.db.updateTable('phone_numbers').set({ throughput_mps: 20 }).where('id', '=', first.id).execute();
  await deliverInbound(bed.app, bed.t.db, first);
  await deliverInbound(bed.app, bed.t.db, second);
  return { orgA, orgB, first, second };
}

describe('moveNumber', () => {
  it('moves the whole WABA: A keeps its history with the numbers disconnected and tokens wiped, B gets them active with the new token', async () => {
    const { orgA, orgB, first, second } = await setup();
    const before = await rowsOf(bed.t.db, orgA.orgId);

    const result = await moveNumber(bed.t.db, testCipher, { phoneNumberId: second.phoneNumberId, toOrgId: orgB.orgId, accessToken: 'token-of-b', actor: 'cli:ops@example.test', reason: 'customer sold the brand' });

    expect(result).toEqual({
      waba_id: first.wabaId, from_org_id: orgA.orgId, to_org_id: orgB.orgId, phone_number_ids: [first.phoneNumberId, second.phoneNumberId].sort(),
    });
    const a = await rowsOf(bed.t.db, orgA.orgId);
    expect(a.wabas.map((w) => [w.id, w.disconnected_at instanceof Date])).toEqual([[before.wabas[0]!.id, true]]);
    expect(a.numbers.map((n) => [n.id, n.status, n.access_token_ciphertext, n.access_token_key_id])).toEqual(
      before.numbers.map((n) => [n.id, 'disconnected', null, null]),
    );
    expect(a.threads).toEqual(before.threads);
    expect(a.messages.sort((x, y) => x.id.localeCompare(y.id))).toEqual(before.messages.sort((x, y) => x.id.localeCompare(y.id)));
    expect(a.messages).toHaveLength(2);

    const b = await rowsOf(bed.t.db, orgB.orgId);
    expect(b.wabas.map((w) => [w.waba_id, w.disconnected_at])).toEqual([[first.wabaId, null]]);
    expect(b.numbers.map((n) => [n.phone_number_id, n.status, n.display_phone_number, n.throughput_mps])).toEqual(
      [[first.phoneNumberId, 'active', first.displayPhoneNumber, 20], [second.phoneNumberId, 'active', second.displayPhoneNumber, 80]]
        .sort((x, y) => String(x[0]).localeCompare(String(y[0]))),
    );
    for (const n of b.numbers) expect(testCipher.decrypt({ ciphertext: n.access_token_ciphertext!, keyId: n.access_token_key_id! })).toBe('token-of-b');
    expect(b.threads).toEqual([]);

    const details = { waba_id: first.wabaId, phone_number_ids: result.phone_number_ids, from_org_id: orgA.orgId, to_org_id: orgB.orgId, reason: 'customer sold the brand' };
    expect(a.audit.map((e) => [e.action, e.actor, e.subject, e.details])).toEqual([['waba.moved_out', 'cli:ops@example.test', first.wabaId, details]]);
    expect(b.audit.map((e) => [e.action, e.actor, e.subject, e.details])).toEqual([['waba.moved_in', 'cli:ops@example.test', first.wabaId, details]]);
    expect(JSON.stringify([a.audit, b.audit])).not.toContain('token-of-b');

    // Webhooks now route to B.
    const { threadId } = await deliverInbound(bed.app, bed.t.db, first);
    const thread = await bed.t.db.selectFrom('threads').select(['org_id', 'phone_number_ref']).where('id', '=', threadId).executeTakeFirstOrThrow();
    expect(thread).toEqual({ org_id: orgB.orgId, phone_number_ref: b.numbers.find((n) => n.phone_number_id === first.phoneNumberId)!.id });
  });

  it('moving back reattaches the source organization\'s old rows, with their history', async () => {
    const { orgA, orgB, first } = await setup();
    const before = await rowsOf(bed.t.db, orgA.orgId);
    await moveNumber(bed.t.db, testCipher, { phoneNumberId: first.phoneNumberId, toOrgId: orgB.orgId, accessToken: 'b', actor: 'test', reason: null });

    await moveNumber(bed.t.db, testCipher, { phoneNumberId: first.phoneNumberId, toOrgId: orgA.orgId, accessToken: 'a-again', actor: 'test', reason: null });

    const a = await rowsOf(bed.t.db, orgA.orgId);
    expect(a.numbers.map((n) => [n.id, n.status])).toEqual(before.numbers.map((n) => [n.id, 'active']));
    expect(a.wabas.map((w) => [w.id, w.disconnected_at])).toEqual([[before.wabas[0]!.id, null]]);
    expect(a.threads).toEqual(before.threads);
    expect((await rowsOf(bed.t.db, orgB.orgId)).numbers.map((n) => [n.status, n.access_token_ciphertext])).toEqual([['disconnected', null], ['disconnected', null]]);
    expect(a.audit.map((e) => e.action)).toEqual(['waba.moved_out', 'waba.moved_in']);
  });

  it('refuses a move to the organization that already holds the number (conflict) and changes nothing', async () => {
    const { orgA, first } = await setup();
    const before = await rowsOf(bed.t.db, orgA.orgId);

    const attempt = moveNumber(bed.t.db, testCipher, { phoneNumberId: first.phoneNumberId, toOrgId: orgA.orgId, accessToken: 'x', actor: 'test', reason: null });

    await expect(attempt).rejects.toMatchObject({ code: 'conflict' });
    expect(await rowsOf(bed.t.db, orgA.orgId)).toEqual(before);
  });

  it('answers not_found for a number no organization holds, and for a disconnected one', async () => {
    const orgB = await createTestOrg(bed.t.db);
    await expect(moveNumber(bed.t.db, testCipher, { phoneNumberId: uniqueDigits(), toOrgId: orgB.orgId, accessToken: 'x', actor: 'test', reason: null }))
      .rejects.toMatchObject({ code: 'not_found' });

    const { first, orgA } = await setup();
    await moveNumber(bed.t.db, testCipher, { phoneNumberId: first.phoneNumberId, toOrgId: orgB.orgId, accessToken: 'x', actor: 'test', reason: null });
    await bed.t.db.updateTable('wabas').set({ disconnected_at: new Date() }).where('org_id', '=', orgB.orgId).execute();
    await bed.t.db.updateTable('phone_numbers').set({ status: 'disconnected', access_token_ciphertext: null, access_token_key_id: null }).where('org_id', '=', orgB.orgId).execute();
    await expect(moveNumber(bed.t.db, testCipher, { phoneNumberId: first.phoneNumberId, toOrgId: orgA.orgId, accessToken: 'x', actor: 'test', reason: null }))
      .rejects.toMatchObject({ code: 'not_found' });
  });

  it('answers not_found for a target organization that does not exist, and rolls back', async () => {
    const { orgA, first } = await setup();
    const before = await rowsOf(bed.t.db, orgA.orgId);

    const attempt = moveNumber(bed.t.db, testCipher, { phoneNumberId: first.phoneNumberId, toOrgId: '00000000-0000-4000-8000-000000000000', accessToken: 'x', actor: 'test', reason: null });

    await expect(attempt).rejects.toMatchObject({ code: 'not_found' });
    expect(await rowsOf(bed.t.db, orgA.orgId)).toEqual(before);
  });

  it('lets exactly one of two simultaneous moves of one WABA win, or applies them one after the other', async () => {
    const { orgA, first, second } = await setup();
    const targets = [await createTestOrg(bed.t.db), await createTestOrg(bed.t.db)];

    const outcomes = await Promise.allSettled(targets.map((target, i) =>
      moveNumber(bed.t.db, testCipher, { phoneNumberId: i === 0 ? first.phoneNumberId : second.phoneNumberId, toOrgId: target.orgId, accessToken: `t${i}`, actor: 'test', reason: null })));

    const moved = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const rejected = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    if (rejected.length > 0) {
      // They overlapped: the loser saw the WABA change under it and changed nothing.
      expect(rejected).toHaveLength(1);
      expect(rejected[0]).toMatchObject({ code: 'conflict' });
    } else {
      // On a loaded machine the first may commit before the second even reads: then the second
      // moves the WABA on from where the first put it, never from the organization it left.
      const [earlier, later] = moved[0]!.to_org_id === moved[1]!.from_org_id ? moved : [moved[1]!, moved[0]!];
      expect(earlier!.from_org_id).toBe(orgA.orgId);
      expect(later!.from_org_id).toBe(earlier!.to_org_id);
    }
    const connected = await bed.t.db.selectFrom('phone_numbers').select('org_id').where('phone_number_id', 'in', [first.phoneNumberId, second.phoneNumberId])
      .where('status', '<>', 'disconnected').execute();
    expect(connected).toHaveLength(2);
    expect(new Set(connected.map((c) => c.org_id)).size).toBe(1);
    expect(connected[0]!.org_id).not.toBe(orgA.orgId);
  });
});

describe('wahub number move', () => {
  it('moves the WABA and prints the result as JSON', async () => {
    const { orgA, orgB, first, second } = await setup();

    const run = await runWahub([
      'number', 'move', '--phone-number-id', first.phoneNumberId, '--to-org', orgB.orgId, '--access-token', 'cli-token-of-b', '--actor', 'cli:ops', '--reason', 'ticket 42', '--json',
    ], { databaseUrl: bed.t.url });

    expect(run.code, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      waba_id: first.wabaId, from_org_id: orgA.orgId, to_org_id: orgB.orgId, phone_number_ids: [first.phoneNumberId, second.phoneNumberId].sort(),
    });
    const b = await rowsOf(bed.t.db, orgB.orgId);
    expect(b.numbers.map((n) => testCipher.decrypt({ ciphertext: n.access_token_ciphertext!, keyId: n.access_token_key_id! }))).toEqual(['cli-token-of-b', 'cli-token-of-b']);
    expect(b.audit.map((e) => [e.action, e.actor, (e.details as { reason: string }).reason])).toEqual([['waba.moved_in', 'cli:ops', 'ticket 42']]);
    expect(run.stdout + run.stderr).not.toContain('cli-token-of-b');

    const again = await runWahub(['number', 'move', '--phone-number-id', first.phoneNumberId, '--to-org', orgB.orgId, '--access-token', 'x', '--actor', 'cli:ops', '--json'], { databaseUrl: bed.t.url });
    expect(again.code).toBe(1);
    expect(JSON.parse(again.stdout).error.code).toBe('conflict');
  });
});
