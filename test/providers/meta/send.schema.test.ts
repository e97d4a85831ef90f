import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  buildMetaSendRequest, isFreeFormMessage, metaSendRequestSchema, outboundMessageSchema, withTarget,
  type OutboundMessage,
} from '../../../src/providers/meta/send.schema.js';

/** Parses and returns "path: message" lines, or [] when valid. */
function problems(input: unknown): string[] {
  const result = outboundMessageSchema.safeParse(input);
  return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
}
const buttons = (n: number, title = (i: number) => `Option ${i}`) =>
  Array.from({ length: n }, (_, i) => ({ type: 'reply', reply: { id: `b${i}`, title: title(i) } }));
const buttonMessage = (action: unknown) => ({ type: 'interactive', interactive: { type: 'button', body: { text: 'Pick one' }, action } });
const listMessage = (sections: unknown) => ({
  type: 'interactive',
  interactive: { type: 'list', body: { text: 'Menu' }, action: { button: 'Open', sections } },
});
const rows = (n: number, prefix = 'r') => Array.from({ length: n }, (_, i) => ({ id: `${prefix}${i}`, title: `Row ${i}` }));

describe('outboundMessageSchema', () => {
  it('accepts a 4096-character text body and refuses 4097', () => {
    expect(problems({ type: 'text', text: { body: 'a'.repeat(4096) } })).toEqual([]);
    expect(problems({ type: 'text', text: { body: 'a'.repeat(4097) } })).toEqual([expect.stringMatching(/^text\.body: .*4096/)]);
  });

  it('refuses an empty text body, an unknown type and unknown keys', () => {
    expect(problems({ type: 'text', text: { body: '' } })).toHaveLength(1);
    expect(problems({ type: 'location', location: {} })).toEqual([expect.stringMatching(/^type: type must be one of: text, /)]);
    expect(problems({ type: 'text', text: { body: 'hi', bold: true } })).toEqual(['text: Unrecognized key: "bold"']);
  });

  it('accepts 3 reply buttons and refuses 4', () => {
    expect(problems(buttonMessage({ buttons: buttons(3) }))).toEqual([]);
    expect(problems(buttonMessage({ buttons: buttons(4) }))).toEqual([expect.stringMatching(/^interactive\.action\.buttons: /)]);
  });

  it('refuses a 21-character button title', () => {
    expect(problems(buttonMessage({ buttons: buttons(1, () => 'x'.repeat(20)) }))).toEqual([]);
    expect(problems(buttonMessage({ buttons: buttons(1, () => 'x'.repeat(21)) })))
      .toEqual([expect.stringMatching(/^interactive\.action\.buttons\.0\.reply\.title: /)]);
  });

  it('refuses duplicate button ids', () => {
    const dup = [{ type: 'reply', reply: { id: 'yes', title: 'Yes' } }, { type: 'reply', reply: { id: 'yes', title: 'Sure' } }];
    expect(problems(buttonMessage({ buttons: dup })))
      .toEqual(['interactive.action.buttons.1.reply.id: duplicate button id "yes": button ids must be unique']);
  });

  it('limits a list to 10 rows in total with unique ids and titled sections', () => {
    expect(problems(listMessage([{ rows: rows(10) }]))).toEqual([]);
    expect(problems(listMessage([{ title: 'A', rows: rows(6, 'a') }, { title: 'B', rows: rows(5, 'b') }])))
      .toEqual([expect.stringMatching(/^interactive\.action\.sections: .*at most 10 rows/)]);
    expect(problems(listMessage([{ title: 'A', rows: rows(2) }, { title: 'B', rows: rows(2) }])))
      .toEqual(expect.arrayContaining([expect.stringMatching(/sections\.1\.rows\.0\.id: duplicate row id "r0"/)]));
    expect(problems(listMessage([{ rows: rows(1, 'a') }, { title: 'B', rows: rows(1, 'b') }])))
      .toEqual([expect.stringMatching(/sections\.0\.title: section title is required/)]);
  });

  it('requires exactly one of id or link on media', () => {
    expect(problems({ type: 'image', image: { id: '1234' } })).toEqual([]);
    expect(problems({ type: 'image', image: { link: 'https://example.com/a.png', caption: 'hi' } })).toEqual([]);
    expect(problems({ type: 'image', image: {} })).toEqual([expect.stringMatching(/^image: provide exactly one of id .* or link/)]);
    expect(problems({ type: 'video', video: { id: '1', link: 'https://example.com/v.mp4' } })).toHaveLength(1);
    expect(problems({ type: 'document', document: { link: 'ftp://example.com/a.pdf' } })).toEqual(['document.link: link must be an http or https URL']);
  });

  it('allows caption on image/video/document only and filename on document only', () => {
    expect(problems({ type: 'audio', audio: { id: '1', caption: 'no' } })).toEqual(['audio.caption: caption is only allowed on image, video and document']);
    expect(problems({ type: 'sticker', sticker: { id: '1', caption: 'no' } })).toHaveLength(1);
    expect(problems({ type: 'document', document: { id: '1', caption: 'c', filename: 'a.pdf' } })).toEqual([]);
    expect(problems({ type: 'image', image: { id: '1', filename: 'a.png' } })).toEqual(['image.filename: filename is only allowed on document']);
    expect(problems({ type: 'image', image: { id: '1', caption: 'c'.repeat(1025) } })).toHaveLength(1);
  });

  it('accepts context on a text reply and refuses it on reaction and mark_as_read', () => {
    expect(problems({ type: 'text', text: { body: 'ok' }, context: { message_id: 'wamid.A' } })).toEqual([]);
    expect(problems({ type: 'reaction', reaction: { message_id: 'wamid.A', emoji: '\u{1F44D}' }, context: { message_id: 'wamid.A' } }))
      .toEqual(['context: context (reply/quote) is not allowed on reaction']);
    expect(problems({ type: 'mark_as_read', mark_as_read: { message_id: 'wamid.A' }, context: { message_id: 'wamid.A' } })).toHaveLength(1);
  });

  it('accepts a single emoji or "" as a reaction and refuses text', () => {
    for (const emoji of ['', '\u{1F44D}', '\u{1F44D}\u{1F3FD}', '\u2764\uFE0F', '\u{1F1E7}\u{1F1F7}', '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}']) {
      expect(problems({ type: 'reaction', reaction: { message_id: 'wamid.A', emoji } }), emoji).toEqual([]);
    }
    for (const emoji of ['ok', '\u{1F44D}\u{1F44D}', 'a']) {
      expect(problems({ type: 'reaction', reaction: { message_id: 'wamid.A', emoji } }), emoji).toHaveLength(1);
    }
  });

  it('checks the template name pattern and keeps unknown parameter keys', () => {
    const template = (name: string) => ({
      type: 'template',
      template: {
        name, language: { code: 'en_US', policy: 'deterministic' },
        components: [
          { type: 'body', parameters: [{ type: 'text', parameter_name: 'code', text: '482913' }] },
          { type: 'button', sub_type: 'url', index: 0, parameters: [{ type: 'text', text: '482913' }] },
        ],
      },
    });
    expect(problems(template('verification_code'))).toEqual([]);
    expect(problems(template('Verification-Code'))).toEqual([expect.stringMatching(/^template\.name: template name must be/)]);
    expect(problems(template('a'.repeat(513)))).toHaveLength(1);
    const parsed = outboundMessageSchema.parse(template('order_update'));
    expect(parsed.type === 'template' && parsed.template.components?.[0]?.parameters?.[0]).toMatchObject({ parameter_name: 'code' });
  });

  it('extends with target keys through withTarget and still refuses unknown keys', () => {
    const schema = withTarget({ thread_id: z.string().optional(), to: z.string().optional() });
    expect(schema.safeParse({ thread_id: 't1', type: 'text', text: { body: 'hi' } }).success).toBe(true);
    expect(schema.safeParse({ threadId: 't1', type: 'text', text: { body: 'hi' } }).success).toBe(false);
  });
});

describe('buildMetaSendRequest', () => {
  it('builds the Graph API body with the type object under its key and context', () => {
    const message = outboundMessageSchema.parse({ type: 'text', text: { body: 'hi', preview_url: true }, context: { message_id: 'wamid.Q' } });
    const body = buildMetaSendRequest('+14155550123', message);
    expect(body).toEqual({
      messaging_product: 'whatsapp', recipient_type: 'individual', to: '+14155550123', type: 'text',
      text: { body: 'hi', preview_url: true }, context: { message_id: 'wamid.Q' },
    });
    expect(metaSendRequestSchema.safeParse(body).success).toBe(true);
  });

  it('addresses a customer known only by a BSUID with recipient and no to, which the wire schema accepts', () => {
    const message = outboundMessageSchema.parse({ type: 'text', text: { body: 'hi' } });
    const body = buildMetaSendRequest({ bsuid: 'US.13491208655302741918' }, message);
    expect(body).toEqual({ messaging_product: 'whatsapp', recipient_type: 'individual', recipient: 'US.13491208655302741918', type: 'text', text: { body: 'hi' } });
    expect(metaSendRequestSchema.safeParse(body).success).toBe(true);
    expect(buildMetaSendRequest({ e164: '+14155550123' }, message)).toMatchObject({ to: '+14155550123' });
    expect(metaSendRequestSchema.safeParse({ ...body, recipient: undefined }).success).toBe(false);
    expect(metaSendRequestSchema.safeParse({ ...body, recipient: 'US.' }).success).toBe(false);
  });

  it('adds + to a bare wa_id and builds interactive bodies the wire schema accepts', () => {
    const message = outboundMessageSchema.parse(buttonMessage({ buttons: buttons(2) }));
    const body = buildMetaSendRequest('14155550123', message);
    expect(body).toMatchObject({ to: '+14155550123', type: 'interactive', interactive: { type: 'button' } });
    expect(body).not.toHaveProperty('context');
    expect(metaSendRequestSchema.safeParse(body).success).toBe(true);
  });

  it('builds a read receipt for mark_as_read', () => {
    const plain: OutboundMessage = { type: 'mark_as_read', mark_as_read: { message_id: 'wamid.IN' } };
    expect(buildMetaSendRequest('+14155550123', plain)).toEqual({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.IN' });
    const typing = outboundMessageSchema.parse({ type: 'mark_as_read', mark_as_read: { message_id: 'wamid.IN', typing_indicator: { type: 'text' } } });
    const body = buildMetaSendRequest('+14155550123', typing);
    expect(body).toEqual({ messaging_product: 'whatsapp', status: 'read', message_id: 'wamid.IN', typing_indicator: { type: 'text' } });
    expect(metaSendRequestSchema.safeParse(body).success).toBe(true);
  });
});

describe('isFreeFormMessage', () => {
  it('is false only for template and mark_as_read', () => {
    expect(isFreeFormMessage('template')).toBe(false);
    expect(isFreeFormMessage('mark_as_read')).toBe(false);
    expect(isFreeFormMessage('text')).toBe(true);
    expect(isFreeFormMessage('reaction')).toBe(true);
  });
});
