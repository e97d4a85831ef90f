/**
 * Meta's rules for a new template (docs/PROTOCOL-NOTES.md "Message templates"), checked before
 * anything goes to Graph so a caller learns every problem at once: at most one HEADER, BODY,
 * FOOTER and BUTTONS component, BODY required; body ≤ 1024 characters, footer ≤ 60, text header
 * ≤ 60 with at most one placeholder; ≤ 10 buttons, ≤ 2 URL, ≤ 1 PHONE_NUMBER; placeholders in the
 * body (or a text header) need their `example`. Authentication templates are written by Meta:
 * their BODY and FOOTER carry no text (`add_security_recommendation`, `code_expiration_minutes`)
 * and their one button is an OTP button.
 */
import type { z } from 'zod';

export const TEMPLATE_BODY_MAX_CHARS = 1024;
export const TEMPLATE_FOOTER_MAX_CHARS = 60;
export const TEMPLATE_HEADER_TEXT_MAX_CHARS = 60;
export const TEMPLATE_BUTTONS_MAX = 10;
/** Per button type, the most a template may carry (unverified, third-party pages; see PROTOCOL-NOTES). */
export const TEMPLATE_BUTTON_TYPE_MAX: Readonly<Record<string, number>> = { URL: 2, PHONE_NUMBER: 1, QUICK_REPLY: 10, OTP: 1, COPY_CODE: 1, FLOW: 1 };

const PLACEHOLDER = /\{\{\s*([a-z0-9_]+)\s*\}\}/g;

/** A component of a create request, as the request schema admits it. */
export interface TemplateComponentInput {
  type: 'HEADER' | 'BODY' | 'FOOTER' | 'BUTTONS';
  format?: string;
  text?: string;
  example?: Record<string, unknown>;
  buttons?: Array<{ type: string; text?: string; url?: string; phone_number?: string }>;
}

/** Distinct placeholders of a text, in order of appearance. */
export function placeholdersOf(text: string): string[] {
  return [...new Set([...text.matchAll(PLACEHOLDER)].map((m) => m[1]!))];
}

function hasExample(example: Record<string, unknown> | undefined, keys: string[]): boolean {
  return keys.some((key) => {
    const value = example?.[key];
    return Array.isArray(value) && value.length > 0;
  });
}

/** Adds an issue per broken rule of `components` to a zod refinement context. */
export function checkTemplateComponents(components: TemplateComponentInput[], category: string, ctx: z.RefinementCtx): void {
  const authentication = category === 'AUTHENTICATION';
  const issue = (path: Array<string | number>, message: string) => ctx.addIssue({ code: 'custom', path: ['components', ...path], message });
  const seen = new Map<string, number>();
  components.forEach((component, index) => {
    if (seen.has(component.type)) issue([index, 'type'], `at most one ${component.type} component`);
    seen.set(component.type, index);
    if (component.type === 'BODY') checkBody(component, index, authentication, issue);
    if (component.type === 'FOOTER' && (component.text ?? '').length > TEMPLATE_FOOTER_MAX_CHARS) issue([index, 'text'], `footer text is at most ${TEMPLATE_FOOTER_MAX_CHARS} characters`);
    if (component.type === 'FOOTER' && !component.text && !authentication) issue([index, 'text'], 'a FOOTER needs its text');
    if (component.type === 'HEADER') checkHeader(component, index, issue);
    if (component.type === 'BUTTONS') checkButtons(component, index, issue);
    if (component.type === 'BUTTONS' && authentication && (component.buttons?.length !== 1 || component.buttons[0]?.type !== 'OTP')) {
      issue([index, 'buttons'], 'an AUTHENTICATION template has exactly one OTP button');
    }
  });
  if (!seen.has('BODY')) issue([], 'a BODY component is required');
}

type Issue = (path: Array<string | number>, message: string) => void;

function checkBody(component: TemplateComponentInput, index: number, authentication: boolean, issue: Issue): void {
  const text = component.text ?? '';
  if (!text && !authentication) issue([index, 'text'], 'a BODY needs its text');
  if (text.length > TEMPLATE_BODY_MAX_CHARS) issue([index, 'text'], `body text is at most ${TEMPLATE_BODY_MAX_CHARS} characters`);
  if (placeholdersOf(text).length > 0 && !hasExample(component.example, ['body_text', 'body_text_named_params'])) {
    issue([index, 'example'], 'a body with placeholders needs example.body_text (positional) or example.body_text_named_params (named)');
  }
}

function checkHeader(component: TemplateComponentInput, index: number, issue: Issue): void {
  const format = component.format ?? 'TEXT';
  if (!['TEXT', 'IMAGE', 'VIDEO', 'GIF', 'DOCUMENT', 'LOCATION'].includes(format)) issue([index, 'format'], 'header format is TEXT, IMAGE, VIDEO, GIF, DOCUMENT or LOCATION');
  if (format !== 'TEXT') return;
  const text = component.text ?? '';
  if (!text) issue([index, 'text'], 'a TEXT header needs its text');
  if (text.length > TEMPLATE_HEADER_TEXT_MAX_CHARS) issue([index, 'text'], `header text is at most ${TEMPLATE_HEADER_TEXT_MAX_CHARS} characters`);
  const placeholders = placeholdersOf(text);
  if (placeholders.length > 1) issue([index, 'text'], 'a text header supports one placeholder');
  if (placeholders.length > 0 && !hasExample(component.example, ['header_text', 'header_text_named_params'])) {
    issue([index, 'example'], 'a header with a placeholder needs example.header_text or example.header_text_named_params');
  }
}

function checkButtons(component: TemplateComponentInput, index: number, issue: Issue): void {
  const buttons = component.buttons ?? [];
  if (buttons.length === 0) issue([index, 'buttons'], 'a BUTTONS component needs at least one button');
  if (buttons.length > TEMPLATE_BUTTONS_MAX) issue([index, 'buttons'], `at most ${TEMPLATE_BUTTONS_MAX} buttons`);
  const counts = new Map<string, number>();
  buttons.forEach((button, b) => {
    counts.set(button.type, (counts.get(button.type) ?? 0) + 1);
    if (button.type === 'URL' && !button.url) issue([index, 'buttons', b, 'url'], 'a URL button needs its url');
    if (button.type === 'PHONE_NUMBER' && !button.phone_number) issue([index, 'buttons', b, 'phone_number'], 'a PHONE_NUMBER button needs its phone_number');
  });
  for (const [type, count] of counts) {
    const max = TEMPLATE_BUTTON_TYPE_MAX[type];
    if (max !== undefined && count > max) issue([index, 'buttons'], `at most ${max} ${type} button${max === 1 ? '' : 's'}`);
  }
}
