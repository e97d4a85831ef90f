/**
 * Nothing grows or sticks for ever (issue 19): the retention jobs delete old pending statuses,
 * dead letters, account events and audit log rows in batches and count them; a signed webhook
 * whose storing keeps failing (not a database outage) becomes a dead letter `store_failed` after
 * WEBHOOK_STORE_MAX_ATTEMPTS and is answered 200.
 */
import { sql } from 'kysely';
import { afterAll, describe, expect, it } from 'vitest';
import { withTransaction } from '../../src/db/database.js';
import { insertAccountEvent } from '../../src/onboarding/account-events.repository.js';
import { recordDeadLetter } from '../../src/ops/dead-letters.service.js';
import { purgeExpiredRows } from '../../src/ops/retention.service.js';
import { insertAuditLog } from '../../src/tenancy/audit-log.repository.js';
import { useAppBed } from '../helpers/bed.js';
import { createTestNumber, createTestOrg, signedHeaders, textWebhook, uniqueDigits } from '../helpers/factories.js';

const bed = useAppBed();

/** A counter of `/metrics` by its label text, e.g. `table="audit_log"`. */
async function metric(name: string, labels: string): Promise<number> {
  const text = (await bed.app.inject({ method: 'GET', url: '/metrics' })).body;
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

const SETTINGS = { pendingStatusesDays: 7, deadLettersDays: 30, accountEventsDays: 365, auditLogDays: 365 };

describe('purgeExpiredRows', () => {
  it('deletes, in batches, only the rows older than each retention, and counts them by table', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const marker = uniqueDigits();
    for (let i = 0; i < 6; i++) {
      await bed.t.db.insertInto('pending_statuses').values({
        org_id: org.orgId, phone_number_ref: number.id, provider_message_id: `wamid.${marker}.${i}`, status: 'delivered', provider_timestamp: new Date(), payload: JSON.stringify({}),
      }).execute();
      await recordDeadLetter(bed.t.db, {
        orgId: org.orgId, provider: 'meta', reason: 'unhandled_field', detail: 'x', wabaId: marker, phoneNumberId: null, field: `f${i}`, payload: { i }, rawBody: null, correlationId: null,
      });
      await withTransaction(bed.t.db, (tx) => insertAccountEvent(tx, { orgId: org.orgId, wabaId: marker, entryId: `${marker}${i}`, event: 'ACCOUNT_UPDATE', payload: { i } }));
      await insertAuditLog(bed.t.db, { orgId: org.orgId, actor: 'test', action: 'retention.test', subject: marker, details: { i } });
    }
    // Rows 0–3 are older than each retention, rows 4–5 a day younger than it.
    const age = (days: number, young: string) => sql`now() - make_interval(days => CASE WHEN ${sql.raw(young)} THEN ${days - 1}::int ELSE ${days + 1}::int END)`;
    await sql`UPDATE pending_statuses SET received_at = ${age(7, "right(provider_message_id, 1)::int >= 4")} WHERE provider_message_id LIKE ${`wamid.${marker}.%`}`.execute(bed.t.db);
    await sql`UPDATE webhook_dead_letters SET created_at = ${age(30, "right(field, 1)::int >= 4")} WHERE waba_id = ${marker}`.execute(bed.t.db);
    await sql`UPDATE account_events SET received_at = ${age(365, "(payload->>'i')::int >= 4")} WHERE waba_id = ${marker}`.execute(bed.t.db);
    await sql`UPDATE audit_log SET created_at = ${age(365, "(details->>'i')::int >= 4")} WHERE subject = ${marker}`.execute(bed.t.db);
    const before = await metric('wahub_retention_deleted_rows_total', 'table="audit_log"');

    const deleted = await purgeExpiredRows(bed.t.db, SETTINGS, 3);

    expect(deleted).toMatchObject({ pending_statuses: 4, webhook_dead_letters: 4, account_events: 4, audit_log: 4 });
    expect(await bed.t.db.selectFrom('pending_statuses').select('provider_message_id').where('provider_message_id', 'like', `wamid.${marker}.%`).orderBy('provider_message_id').execute())
      .toEqual([{ provider_message_id: `wamid.${marker}.4` }, { provider_message_id: `wamid.${marker}.5` }]);
    expect(await bed.t.db.selectFrom('webhook_dead_letters').select('field').where('waba_id', '=', marker).orderBy('field').execute()).toEqual([{ field: 'f4' }, { field: 'f5' }]);
    expect((await bed.t.db.selectFrom('account_events').select('id').where('waba_id', '=', marker).execute())).toHaveLength(2);
    expect((await bed.t.db.selectFrom('audit_log').select('id').where('subject', '=', marker).execute())).toHaveLength(2);
    expect(await metric('wahub_retention_deleted_rows_total', 'table="audit_log"')).toBe(before + 4);

    expect(await purgeExpiredRows(bed.t.db, SETTINGS, 3)).toMatchObject({ pending_statuses: 0, webhook_dead_letters: 0, account_events: 0, audit_log: 0 });
  });
});

describe('POST /webhooks/whatsapp whose storing keeps failing', () => {
  afterAll(async () => {
    await sql`DROP TRIGGER IF EXISTS poison_message ON messages; DROP FUNCTION IF EXISTS poison_message()`.execute(bed.t.db);
  });

  it('answers 500 until WEBHOOK_STORE_MAX_ATTEMPTS (5), then keeps it as a dead letter store_failed and answers 200', async () => {
    const org = await createTestOrg(bed.t.db);
    const number = await createTestNumber(bed.t.db, org.orgId);
    const wamid = `wamid.poison.${uniqueDigits()}`;
    // A stand-in for a bug: the database refuses this one message (not an outage).
    await sql.raw(`CREATE OR REPLACE FUNCTION poison_message() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.provider_message_id LIKE 'wamid.poison.%' THEN RAISE EXCEPTION 'poisoned message'; END IF; RETURN NEW; END $$;
      CREATE OR REPLACE TRIGGER poison_message BEFORE INSERT ON messages FOR EACH ROW EXECUTE FUNCTION poison_message();`).execute(bed.t.db);
    const payload = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from: '14155550123', wamid });
    const post = () => bed.app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(payload), payload });
    const before = await metric('wahub_webhook_store_failures_total', 'provider="meta",outcome="dead_lettered"');

    const statuses = [];
    for (let attempt = 1; attempt <= 5; attempt++) statuses.push((await post()).statusCode);

    expect(statuses).toEqual([500, 500, 500, 500, 200]);
    const letters = await bed.t.db.selectFrom('webhook_dead_letters').select(['reason', 'detail', 'raw_body', 'org_id']).where('reason', '=', 'store_failed').execute();
    expect(letters).toHaveLength(1);
    expect(letters[0]).toMatchObject({ reason: 'store_failed', raw_body: payload, org_id: null });
    expect(letters[0]!.detail).toContain('poisoned message');
    expect(await metric('wahub_webhook_store_failures_total', 'provider="meta",outcome="dead_lettered"')).toBe(before + 1);
    expect(await bed.t.db.selectFrom('messages').select('id').where('provider_message_id', '=', wamid).execute()).toEqual([]);

    // Another webhook is unaffected and stored as usual.
    const other = textWebhook({ wabaId: number.wabaId, phoneNumberId: number.phoneNumberId, from: '14155550123', wamid: `wamid.fine.${uniqueDigits()}` });
    expect((await bed.app.inject({ method: 'POST', url: '/webhooks/whatsapp', headers: signedHeaders(other), payload: other })).statusCode).toBe(200);
  });
});
