/**
 * Whether the components of a template send fit the template as the registry holds it (Meta's
 * `components` from `GET /{waba_id}/message_templates`). Pure: no I/O. Sources, quoted in
 * docs/PROTOCOL-NOTES.md "Message templates": Meta "Template components" (header formats, one
 * header text parameter), "Send template messages" (components, parameters, button `sub_type` and
 * `index`, currency and date_time objects), "Authentication templates" (the OTP button reads back
 * as a URL button and takes the code as its one parameter).
 *
 * Placeholders: positional `{{1}}`, `{{2}}`…, named `{{first_name}}` (lower-case letters, digits and
 * underscores), per the template's `parameter_format` (positional when Meta gives none).
 */

/** One offending path of the send, e.g. `template.components[0].parameters[1]`. */
export interface ParameterProblem {
  path: string;
  message: string;
}

type Json = Record<string, unknown>;

const PLACEHOLDER = /\{\{\s*([a-z0-9_]+)\s*\}\}/g;
const MEDIA_FORMATS: Record<string, string> = { IMAGE: 'image', VIDEO: 'video', DOCUMENT: 'document', GIF: 'video', LOCATION: 'location' };
/** Registry button type → the `sub_type` a send names it with (OTP buttons read back as URL). */
const BUTTON_SUB_TYPES: Record<string, string> = {
  QUICK_REPLY: 'quick_reply', URL: 'url', OTP: 'url', COPY_CODE: 'copy_code', FLOW: 'flow', CATALOG: 'catalog', MPM: 'mpm',
};

function isRecord(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Distinct placeholders of a text, in order of first appearance. */
export function placeholdersOf(text: unknown): string[] {
  if (typeof text !== 'string') return [];
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((match) => match[1]!))];
}

function componentOf(components: unknown[], type: string): Json | undefined {
  return components.find((c): c is Json => isRecord(c) && typeof c.type === 'string' && c.type.toUpperCase() === type);
}

/** Shape checks of one text-like parameter (text, currency, date_time) [Send template messages]. */
function checkValueParameter(parameter: Json, path: string, problems: ParameterProblem[]): void {
  if (parameter.type === 'text') {
    if (typeof parameter.text !== 'string' || parameter.text === '') problems.push({ path: `${path}.text`, message: 'a text parameter needs a non-empty text' });
  } else if (parameter.type === 'currency') {
    const currency = isRecord(parameter.currency) ? parameter.currency : {};
    if (typeof currency.fallback_value !== 'string') problems.push({ path: `${path}.currency.fallback_value`, message: 'required string' });
    if (typeof currency.code !== 'string' || !/^[A-Z]{3}$/.test(currency.code)) problems.push({ path: `${path}.currency.code`, message: 'an ISO 4217 code (3 upper-case letters)' });
    if (!Number.isInteger(currency.amount_1000)) problems.push({ path: `${path}.currency.amount_1000`, message: 'an integer: the amount multiplied by 1000' });
  } else if (parameter.type === 'date_time') {
    const dateTime = isRecord(parameter.date_time) ? parameter.date_time : {};
    if (typeof dateTime.fallback_value !== 'string') problems.push({ path: `${path}.date_time.fallback_value`, message: 'required string' });
  } else {
    problems.push({ path: `${path}.type`, message: 'must be text, currency or date_time here' });
  }
}

/**
 * Checks the parameters of one text component (header text or body) against its placeholders:
 * the count for positional templates, the set of `parameter_name`s for named ones.
 */
function checkTextParameters(expected: string[], named: boolean, sent: Json | undefined, path: string, problems: ParameterProblem[]): void {
  const parameters = Array.isArray(sent?.parameters) ? sent.parameters : [];
  if (expected.length === 0) {
    if (parameters.length > 0) problems.push({ path: `${path}.parameters`, message: 'this component of the template takes no parameters' });
    return;
  }
  if (!sent) {
    problems.push({ path, message: `missing: the template expects ${expected.length} parameter(s) (${expected.map((p) => `{{${p}}}`).join(', ')})` });
    return;
  }
  parameters.forEach((parameter, index) => {
    if (isRecord(parameter)) checkValueParameter(parameter, `${path}.parameters[${index}]`, problems);
    else problems.push({ path: `${path}.parameters[${index}]`, message: 'must be an object' });
  });
  if (!named) {
    if (parameters.length !== expected.length) problems.push({ path: `${path}.parameters`, message: `expected ${expected.length} parameter(s), got ${parameters.length}` });
    return;
  }
  const names = parameters.map((p) => (isRecord(p) ? p.parameter_name : undefined));
  names.forEach((name, index) => {
    if (typeof name !== 'string' || !expected.includes(name)) {
      problems.push({ path: `${path}.parameters[${index}].parameter_name`, message: `must be one of ${expected.join(', ')}` });
    }
  });
  const missing = expected.filter((name) => !names.includes(name));
  if (missing.length > 0) problems.push({ path: `${path}.parameters`, message: `missing named parameter(s): ${missing.join(', ')}` });
}

function checkHeader(template: Json | undefined, named: boolean, sent: Json | undefined, path: string, problems: ParameterProblem[]): void {
  const format = typeof template?.format === 'string' ? template.format.toUpperCase() : 'TEXT';
  if (!template || format === 'TEXT') {
    if (!template && sent) problems.push({ path, message: 'the template has no header' });
    else checkTextParameters(placeholdersOf(template?.text), named, sent, path, problems);
    return;
  }
  const mediaType = MEDIA_FORMATS[format];
  const parameters = Array.isArray(sent?.parameters) ? sent.parameters : [];
  const parameter = parameters[0];
  if (!sent || parameters.length !== 1 || !isRecord(parameter)) {
    problems.push({ path: sent ? `${path}.parameters` : path, message: `the template's ${format} header needs exactly one ${mediaType} parameter` });
    return;
  }
  if (parameter.type !== mediaType) {
    problems.push({ path: `${path}.parameters[0].type`, message: `must be ${mediaType} (the template's header is ${format})` });
    return;
  }
  const media = parameter[mediaType!];
  if (mediaType !== 'location' && !(isRecord(media) && (typeof media.link === 'string' || typeof media.id === 'string'))) {
    problems.push({ path: `${path}.parameters[0].${mediaType}`, message: 'needs a link or a media id' });
  }
}

function checkButton(buttons: unknown[], sent: Json, path: string, problems: ParameterProblem[]): void {
  const index = typeof sent.index === 'string' && /^\d+$/.test(sent.index) ? Number(sent.index) : sent.index;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= buttons.length) {
    problems.push({ path: `${path}.index`, message: `the template has ${buttons.length} button(s): index must be 0 to ${buttons.length - 1}` });
    return;
  }
  const button = isRecord(buttons[index]) ? (buttons[index] as Json) : {};
  const type = typeof button.type === 'string' ? button.type.toUpperCase() : '';
  const subType = BUTTON_SUB_TYPES[type];
  if (sent.sub_type !== subType) {
    problems.push({ path: `${path}.sub_type`, message: `button ${index} is ${type || 'unknown'}: sub_type must be ${subType ?? 'absent'}` });
    return;
  }
  const parameters = Array.isArray(sent.parameters) ? sent.parameters : [];
  if (subType === 'url') {
    const expected = type === 'OTP' ? 1 : placeholdersOf(button.url).length;
    if (parameters.length !== expected) problems.push({ path: `${path}.parameters`, message: `button ${index} takes ${expected} text parameter(s), got ${parameters.length}` });
  } else if (subType === 'copy_code' && !(parameters.length === 1 && isRecord(parameters[0]) && parameters[0].type === 'coupon_code')) {
    problems.push({ path: `${path}.parameters`, message: 'a copy_code button takes one coupon_code parameter' });
  }
}

/**
 * Lists what does not fit between a send's `template.components` and the registry's components.
 * @param template `parameter_format` and `components` of the registry row
 * @param sent `template.components` of the send (may be absent)
 * @returns the offending paths; empty when the send fits
 */
export function checkTemplateParameters(template: { parameter_format: string | null; components: unknown }, sent: unknown[] | undefined): ParameterProblem[] {
  const problems: ParameterProblem[] = [];
  const components = Array.isArray(template.components) ? template.components : [];
  const named = template.parameter_format === 'named';
  const given = sent ?? [];
  const byType = (type: string) => {
    const index = given.findIndex((c) => isRecord(c) && c.type === type);
    return { index, component: index >= 0 ? (given[index] as Json) : undefined };
  };
  given.forEach((component, index) => {
    const type = isRecord(component) ? component.type : undefined;
    if (type !== 'header' && type !== 'body' && type !== 'button') {
      problems.push({ path: `template.components[${index}].type`, message: 'must be header, body or button for this template' });
    } else if (type !== 'button' && given.findIndex((c) => isRecord(c) && c.type === type) !== index) {
      problems.push({ path: `template.components[${index}]`, message: `only one ${type} component` });
    }
  });
  const header = byType('header');
  checkHeader(componentOf(components, 'HEADER'), named, header.component, `template.components[${header.index >= 0 ? header.index : given.length}]`, problems);
  const body = byType('body');
  checkTextParameters(placeholdersOf(componentOf(components, 'BODY')?.text), named, body.component, `template.components[${body.index >= 0 ? body.index : given.length}]`, problems);
  const buttons = componentOf(components, 'BUTTONS')?.buttons;
  given.forEach((component, index) => {
    if (isRecord(component) && component.type === 'button') checkButton(Array.isArray(buttons) ? buttons : [], component, `template.components[${index}]`, problems);
  });
  (Array.isArray(buttons) ? buttons : []).forEach((button, index) => {
    const type = isRecord(button) && typeof button.type === 'string' ? button.type.toUpperCase() : '';
    const needsParameter = type === 'OTP' || (type === 'URL' && placeholdersOf((button as Json).url).length > 0);
    const sentFor = given.some((c) => isRecord(c) && c.type === 'button' && Number(c.index) === index);
    if (needsParameter && !sentFor) problems.push({ path: `template.components[${given.length}]`, message: `missing: button ${index} (${type}) needs a button component with its parameter` });
  });
  return problems;
}
