/** checkTemplateParameters: what fits a template's components, path by path (pure, no database). */
import { describe, expect, it } from 'vitest';
import { checkTemplateParameters, placeholdersOf } from '../../src/templates/template-parameters.js';

const otp = {
  parameter_format: null,
  components: [
    { type: 'BODY', text: '*{{1}}* is your verification code.' },
    { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Copy code', url: 'https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}' }] },
  ],
};

describe('checkTemplateParameters', () => {
  it('reads positional and named placeholders once each, in order', () => {
    expect(placeholdersOf('{{1}} and {{2}} and {{1}}')).toEqual(['1', '2']);
    expect(placeholdersOf('Hi {{ first_name }}, {{total}}')).toEqual(['first_name', 'total']);
  });

  it('accepts the OTP send shape (body code + URL button code) and refuses it without the button', () => {
    const body = { type: 'body', parameters: [{ type: 'text', text: '482913' }] };
    const button = { type: 'button', sub_type: 'url', index: 0, parameters: [{ type: 'text', text: '482913' }] };
    expect(checkTemplateParameters(otp, [body, button])).toEqual([]);
    expect(checkTemplateParameters(otp, [body])).toEqual([{ path: 'template.components[1]', message: 'missing: button 0 (URL) needs a button component with its parameter' }]);
  });

  it('refuses parameters for a template without placeholders, and an unknown component type', () => {
    const plain = { parameter_format: 'positional', components: [{ type: 'BODY', text: 'Hello!' }] };
    expect(checkTemplateParameters(plain, undefined)).toEqual([]);
    expect(checkTemplateParameters(plain, [{ type: 'body', parameters: [{ type: 'text', text: 'x' }] }, { type: 'footer' }])).toEqual([
      { path: 'template.components[1].type', message: 'must be header, body or button for this template' },
      { path: 'template.components[0].parameters', message: 'this component of the template takes no parameters' },
    ]);
  });

  it('requires the single text parameter of a text header with a placeholder, and a media parameter for a media header', () => {
    const header = { parameter_format: 'positional', components: [{ type: 'HEADER', format: 'TEXT', text: 'Sale {{1}}' }, { type: 'BODY', text: 'Hi' }] };
    expect(checkTemplateParameters(header, [])).toEqual([{ path: 'template.components[0]', message: 'missing: the template expects 1 parameter(s) ({{1}})' }]);
    const image = { parameter_format: 'positional', components: [{ type: 'HEADER', format: 'IMAGE' }, { type: 'BODY', text: 'Hi' }] };
    expect(checkTemplateParameters(image, [{ type: 'header', parameters: [{ type: 'image', image: {} }] }])).toEqual([
      { path: 'template.components[0].parameters[0].image', message: 'needs a link or a media id' },
    ]);
  });
});
