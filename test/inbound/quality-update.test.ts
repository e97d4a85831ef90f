/**
 * `phone_number_quality_update` (PROTOCOL.md §2.4): variants of the quality_update.json fixture.
 * The tier lives on the phone_numbers row only (SPEC §2.1); an update no number matches is kept.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useAppBed } from '../helpers/bed.js';
import { countRows, createTestNumber, createTestOrg, type TestOrg } from '../helpers/factories.js';
import { metaFixtureBytes, postWebhook } from './helpers.js';

const WABA_1 = '100000000000001';
const PHONE_1 = '200000000000001';
const WABA_2 = '100000000000002';
const PHONE_2 = '200000000000002';

type Json = Record<string, any>;

describe('POST /webhooks/whatsapp phone_number_quality_update variants of quality_update.json', () => {
  const bed = useAppBed(4);
  let org: TestOrg;

  beforeAll(async () => {
    org = await createTestOrg(bed.t.db);
    await createTestNumber(bed.t.db, org.orgId, { wabaId: WABA_1, phoneNumberId: PHONE_1, displayPhoneNumber: '15550100001' });
    await createTestNumber(bed.t.db, org.orgId, { wabaId: WABA_2, phoneNumberId: PHONE_2, displayPhoneNumber: '15550100002' });
  });

  /** quality_update.json with its change value edited. */
  function qualityUpdate(edit: (value: Json) => void): string {
    const body = JSON.parse(metaFixtureBytes('quality_update.json').toString('utf8')) as Json;
    edit(body.entry[0].changes[0].value as Json);
    return JSON.stringify(body);
  }

  const tiers = async () => bed.t.db.selectFrom('phone_numbers').select(['phone_number_id', 'messaging_limit_tier']).orderBy('phone_number_id').execute();

  it('reads max_daily_conversations_per_business when current_limit is gone (Meta removes it in Feb 2026)', async () => {
    const body = qualityUpdate((value) => {
      delete value.current_limit;
      value.max_daily_conversations_per_business = 'TIER_10K';
    });
    expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    expect(await tiers()).toEqual([
      { phone_number_id: PHONE_1, messaging_limit_tier: 'TIER_10K' },
      { phone_number_id: PHONE_2, messaging_limit_tier: null },
    ]);
    expect(await countRows(bed.t.db, 'webhook_dead_letters')).toBe(0);
  });

  it('keeps an update whose display number is not a number of that WABA as a dead letter and changes no number', async () => {
    const before = await tiers();
    const body = qualityUpdate((value) => {
      value.display_phone_number = '15550100002'; // phone 2's display, but entry.id is WABA 1
    });
    expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    expect(await tiers()).toEqual(before);
    const rows = await bed.t.db.selectFrom('webhook_dead_letters').select(['reason', 'field', 'waba_id']).execute();
    expect(rows).toEqual([{ reason: 'unhandled_field', field: 'phone_number_quality_update', waba_id: WABA_1 }]);
  });
});
