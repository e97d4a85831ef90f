/**
 * `POST /v1/messages` with `type: template` is checked against the registry of the number's WABA
 * before anything is queued: each refusal is a 422 with its code (and `details` per offending
 * path for parameters), and writes nothing — not even the contact or thread the send would open.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { bearer, customerWaId } from '../helpers/api.js';
import { useAppBed } from '../helpers/bed.js';
import { countRows, createTestNumber, createTestOrg, type TestNumber, type TestOrg } from '../helpers/factories.js';
import { approvedTemplate, seedTemplates, TEST_TEMPLATES } from '../helpers/templates.js';

const bed = useAppBed();
let org: TestOrg;
let number: TestNumber;

const REGISTRY = [
  ...TEST_TEMPLATES,
  approvedTemplate('order_shipped', 'Hi {{1}}, order {{2}} ships on {{3}}.'),
  approvedTemplate('order_shipped', 'Olá {{1}}, pedido {{2}} sai em {{3}}.', { language: 'pt_BR' }),
  approvedTemplate('named_greeting', 'Hi {{first_name}}, your total is {{total}}.', { parameterFormat: 'named' }),
  approvedTemplate('paused_promo', 'Sale!', { status: 'PAUSED', category: 'MARKETING' }),
  approvedTemplate('receipt_doc', 'Your receipt.', {
    more: [{ type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Thanks' }, { type: 'URL', text: 'Track', url: 'https://shop.example/track/{{1}}' }] }],
    components: [{ type: 'HEADER', format: 'DOCUMENT' }, { type: 'BODY', text: 'Your receipt.' }, {
      type: 'BUTTONS', buttons: [{ type: 'QUICK_REPLY', text: 'Thanks' }, { type: 'URL', text: 'Track', url: 'https://shop.example/track/{{1}}' }],
    }],
  }),
];

beforeAll(async () => {
  org = await createTestOrg(bed.t.db);
  number = await createTestNumber(bed.t.db, org.orgId);
  await seedTemplates(bed.t.db, org.orgId, number.wabaId, REGISTRY);
});

function send(template: Record<string, unknown>, from = number.phoneNumberId) {
  return bed.app.inject({
    method: 'POST', url: '/v1/messages', headers: bearer(org.apiKey),
    payload: { from_phone_number_id: from, to: `+${customerWaId()}`, type: 'template', template },
  });
}

async function written() {
  return Promise.all((['contacts', 'threads', 'messages', 'message_outbox'] as const).map((table) => countRows(bed.t.db, table, org.orgId)));
}

async function expectRefused(template: Record<string, unknown>, code: string, from?: string) {
  const before = await written();
  const response = await send(template, from);
  expect(response.statusCode, response.body).toBe(422);
  expect(response.json().error.code).toBe(code);
  expect(await written()).toEqual(before);
  return response.json().error as { code: string; message: string; details?: Array<{ path: string; message: string }> };
}

const en = { code: 'en_US' };
const text = (value: string) => ({ type: 'text', text: value });

describe('POST /v1/messages type template: refusals before queueing', () => {
  it('refuses a template the registry does not know with template_not_found', async () => {
    await expectRefused({ name: 'no_such_template', language: en }, 'template_not_found');
  });

  it('refuses a language the template does not have with template_language_not_found, naming the ones it has', async () => {
    const error = await expectRefused({ name: 'order_shipped', language: { code: 'es_MX' } }, 'template_language_not_found');
    expect(error.message).toContain('en_US, pt_BR');
  });

  it('refuses a template that is not approved with template_not_approved', async () => {
    const error = await expectRefused({ name: 'paused_promo', language: en }, 'template_not_approved');
    expect(error.message).toContain('PAUSED');
  });

  it('refuses a positional template with the wrong parameter count', async () => {
    const error = await expectRefused({ name: 'order_shipped', language: en, components: [{ type: 'body', parameters: [text('Maya'), text('4512')] }] }, 'template_parameters_mismatch');
    expect(error.details).toEqual([{ path: 'template.components[0].parameters', message: 'expected 3 parameter(s), got 2' }]);
  });

  it('refuses a named template whose parameter names do not match, path by path', async () => {
    const error = await expectRefused({
      name: 'named_greeting', language: en,
      components: [{ type: 'body', parameters: [{ ...text('Maya'), parameter_name: 'first_name' }, { ...text('10'), parameter_name: 'amount' }] }],
    }, 'template_parameters_mismatch');
    expect(error.details).toEqual([
      { path: 'template.components[0].parameters[1].parameter_name', message: 'must be one of first_name, total' },
      { path: 'template.components[0].parameters', message: 'missing named parameter(s): total' },
    ]);
  });

  it('refuses a wrong header format, a button index out of range, a wrong sub_type and a bad currency', async () => {
    const error = await expectRefused({
      name: 'receipt_doc', language: en,
      components: [
        { type: 'header', parameters: [{ type: 'image', image: { link: 'https://cdn.example/r.png' } }] },
        { type: 'button', sub_type: 'quick_reply', index: 5, parameters: [] },
        { type: 'button', sub_type: 'quick_reply', index: 1, parameters: [text('x')] },
      ],
    }, 'template_parameters_mismatch');
    expect(error.details?.map((d) => d.path)).toEqual([
      'template.components[0].parameters[0].type', 'template.components[1].index', 'template.components[2].sub_type',
    ]);
    const currency = await expectRefused({
      name: 'scale_test', language: en, components: [{ type: 'body', parameters: [{ type: 'currency', currency: { fallback_value: '$1', code: 'usd', amount_1000: 1.5 } }] }],
    }, 'template_parameters_mismatch');
    expect(currency.details?.map((d) => d.path)).toEqual([
      'template.components[0].parameters[0].currency.code', 'template.components[0].parameters[0].currency.amount_1000',
    ]);
  });

  it('refuses the first template send of a WABA never synced when the hub cannot sync (no Graph client)', async () => {
    const unsynced = await createTestNumber(bed.t.db, org.orgId, {}, { templates: false });
    const error = await expectRefused({ name: 'hello_world', language: en }, 'templates_not_synced', unsynced.phoneNumberId);
    expect(error.message).toContain('/v1/templates/sync');
  });
});

describe('POST /v1/messages type template: sends that fit', () => {
  it('queues positional, named, media-header and button sends exactly as given', async () => {
    const templates = [
      { name: 'order_shipped', language: { code: 'pt_BR' }, components: [{ type: 'body', parameters: [text('Maya'), text('4512'), { type: 'date_time', date_time: { fallback_value: 'amanhã' } }] }] },
      { name: 'named_greeting', language: en, components: [{ type: 'body', parameters: [{ ...text('Maya'), parameter_name: 'first_name' }, { type: 'currency', parameter_name: 'total', currency: { fallback_value: '$10.50', code: 'USD', amount_1000: 10500 } }] }] },
      {
        name: 'receipt_doc', language: en, components: [
          { type: 'header', parameters: [{ type: 'document', document: { link: 'https://cdn.example/r.pdf', filename: 'r.pdf' } }] },
          { type: 'button', sub_type: 'url', index: 1, parameters: [text('4512')] },
        ],
      },
    ];
    for (const template of templates) {
      const response = await send(template);
      expect(response.statusCode, response.body).toBe(202);
      const row = await bed.t.db.selectFrom('messages').select('content').where('id', '=', response.json().id).executeTakeFirstOrThrow();
      expect(row.content).toEqual(template);
    }
  });
});

describe('POST /v1/contacts/{id}/otp with the registry', () => {
  it('fails clearly when the authentication template is not approved, writing nothing', async () => {
    const paused = await createTestNumber(bed.t.db, org.orgId);
    await seedTemplates(bed.t.db, org.orgId, paused.wabaId, TEST_TEMPLATES.map((t) => (t.name === 'verification_code' ? { ...t, status: 'PAUSED' } : t)));
    const opened = await bed.app.inject({
      method: 'POST', url: '/v1/threads', headers: bearer(org.apiKey), payload: { from_phone_number_id: paused.phoneNumberId, phone: `+${customerWaId()}` },
    });
    expect(opened.statusCode, opened.body).toBe(201);
    const before = await written();
    const response = await bed.app.inject({
      method: 'POST', url: `/v1/contacts/${opened.json().contact_id}/otp`, headers: bearer(org.apiKey), payload: { from_phone_number_id: paused.phoneNumberId },
    });
    expect(response.statusCode, response.body).toBe(422);
    expect(response.json().error).toMatchObject({ code: 'template_not_approved' });
    expect(response.json().error.message).toContain('verification_code');
    expect(await written()).toEqual(before);
  });
});
