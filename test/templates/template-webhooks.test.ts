/**
 * The three template webhook fields (docs/PROTOCOL-NOTES.md "Message templates") update the
 * registry in the webhook's transaction, with `template.*` events; replays change nothing; only a
 * WABA nobody connected, or a payload without a template identity, is dead-lettered.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { useAppBed } from '../helpers/bed.js';
import { countRows, createTestNumber, createTestOrg, type TestNumber, type TestOrg } from '../helpers/factories.js';
import { postWebhook } from '../inbound/helpers.js';

const bed = useAppBed();
let org: TestOrg;
let number: TestNumber;

beforeAll(async () => {
  org = await createTestOrg(bed.t.db);
  number = await createTestNumber(bed.t.db, org.orgId);
});

function webhook(wabaId: string, field: string, value: Record<string, unknown>): string {
  return JSON.stringify({ object: 'whatsapp_business_account', entry: [{ id: wabaId, time: 1767269800, changes: [{ field, value }] }] });
}

function identity(name: string, language = 'en_US') {
  return { message_template_id: 600000000000001, message_template_name: name, message_template_language: language };
}

async function template(name: string) {
  return bed.t.db.selectFrom('templates').selectAll().where('org_id', '=', org.orgId).where('name', '=', name).executeTakeFirstOrThrow();
}

async function events(templateId: string) {
  const rows = await bed.t.db.selectFrom('outbox_events').select(['event_type', 'payload']).where('aggregate_id', '=', templateId).orderBy('created_at').execute();
  return rows.map((row) => ({ type: row.event_type, payload: row.payload as Record<string, unknown> }));
}

describe('POST /webhooks/whatsapp message_template_status_update', () => {
  it('creates a stub for a template never synced and records each status move once', async () => {
    const pending = webhook(number.wabaId, 'message_template_status_update', { event: 'PENDING', ...identity('spring_sale'), reason: 'NONE', message_template_category: 'MARKETING' });
    const rejected = webhook(number.wabaId, 'message_template_status_update', {
      event: 'REJECTED', ...identity('spring_sale'), reason: 'PROMOTIONAL', message_template_category: 'MARKETING',
    });
    for (const body of [pending, pending, rejected, rejected]) expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    const row = await template('spring_sale');
    expect(row).toMatchObject({ status: 'REJECTED', rejection_reason: 'PROMOTIONAL', category: 'MARKETING', meta_template_id: '600000000000001', synced_at: null });
    expect((await events(row.id)).map((e) => [e.type, e.payload.previous_status, e.payload.status])).toEqual([
      ['template.status_changed', 'UNKNOWN', 'PENDING'],
      ['template.status_changed', 'PENDING', 'REJECTED'],
    ]);
  });

  it('leaves the status of a FLAGGED template alone (a quality warning, not a status)', async () => {
    await postWebhook(bed.app, webhook(number.wabaId, 'message_template_status_update', { event: 'APPROVED', ...identity('flag_me'), reason: 'NONE' }));
    await postWebhook(bed.app, webhook(number.wabaId, 'message_template_status_update', { event: 'FLAGGED', ...identity('flag_me'), reason: 'NONE' }));
    expect((await template('flag_me')).status).toBe('APPROVED');
  });
});

describe('POST /webhooks/whatsapp template_category_update', () => {
  it('moves the category once and keeps the previous one; an impending change changes nothing', async () => {
    await postWebhook(bed.app, webhook(number.wabaId, 'message_template_status_update', { event: 'APPROVED', ...identity('receipt'), reason: 'NONE', message_template_category: 'UTILITY' }));
    const impending = webhook(number.wabaId, 'template_category_update', { ...identity('receipt'), correct_category: 'MARKETING', new_category: 'UTILITY', category_update_timestamp: 1767400000 });
    expect((await postWebhook(bed.app, impending)).statusCode).toBe(200);
    expect(await template('receipt')).toMatchObject({ category: 'UTILITY', previous_category: null });
    const done = webhook(number.wabaId, 'template_category_update', { ...identity('receipt'), previous_category: 'UTILITY', new_category: 'MARKETING' });
    for (const body of [done, done]) expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    const row = await template('receipt');
    expect(row).toMatchObject({ category: 'MARKETING', previous_category: 'UTILITY', status: 'APPROVED' });
    expect((await events(row.id)).map((e) => e.type)).toEqual(['template.status_changed', 'template.category_changed']);
  });
});

describe('POST /webhooks/whatsapp message_template_quality_update', () => {
  it('stores the new quality score once', async () => {
    const body = webhook(number.wabaId, 'message_template_quality_update', { previous_quality_score: 'GREEN', new_quality_score: 'RED', ...identity('quality_one', 'pt_BR') });
    for (const _ of [1, 2]) expect((await postWebhook(bed.app, body)).statusCode).toBe(200);
    const row = await template('quality_one');
    expect(row).toMatchObject({ language: 'pt_BR', quality_score: 'RED', status: 'UNKNOWN' });
    expect((await events(row.id)).map((e) => [e.type, e.payload.previous_quality_score, e.payload.quality_score])).toEqual([['template.quality_changed', 'GREEN', 'RED']]);
  });
});

describe('POST /webhooks/whatsapp template fields that cannot be applied', () => {
  it('dead-letters a template webhook of a WABA nobody connected, and one without a template name', async () => {
    const before = await countRows(bed.t.db, 'webhook_dead_letters');
    await postWebhook(bed.app, webhook('999999999999999', 'message_template_status_update', { event: 'APPROVED', ...identity('orphan') }));
    await postWebhook(bed.app, webhook(number.wabaId, 'message_template_quality_update', { new_quality_score: 'RED', message_template_language: 'en_US' }));
    const rows = await bed.t.db.selectFrom('webhook_dead_letters').select(['reason', 'field']).orderBy('created_at').offset(before).execute();
    expect(rows).toEqual([
      { reason: 'unroutable_waba', field: 'message_template_status_update' },
      { reason: 'invalid_template_update', field: 'message_template_quality_update' },
    ]);
  });
});
