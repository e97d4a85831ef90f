/**
 * Templates for tests: the registry rows every test number's WABA gets (so the sends of existing
 * tests pass the check before queueing), and builders of Graph-shaped templates.
 */
import type { Db } from '../../src/db/database.js';
import { importTemplates } from '../../src/templates/template-sync.service.js';
import { findConnectedWabas, type SyncedTemplate } from '../../src/templates/templates.repository.js';

/** An approved template with a body text (placeholders as written) and optional extra components. */
export function approvedTemplate(name: string, body: string, extra: Partial<SyncedTemplate> & { more?: unknown[] } = {}): SyncedTemplate {
  const { more = [], ...rest } = extra;
  return {
    metaTemplateId: null, name, language: 'en_US', status: 'APPROVED', category: 'UTILITY', qualityScore: 'GREEN', rejectionReason: null,
    parameterFormat: 'positional', components: [{ type: 'BODY', text: body }, ...more], ...rest,
  };
}

/** An authentication template as Meta reads it back: body with the code, a copy-code button as URL. */
export function authenticationTemplate(name: string, language = 'en_US'): SyncedTemplate {
  return approvedTemplate(name, '*{{1}}* is your verification code.', {
    language, category: 'AUTHENTICATION',
    more: [{ type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Copy code', url: 'https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}' }] }],
  });
}

/** The templates the sends of the existing tests name. */
export const TEST_TEMPLATES: SyncedTemplate[] = [
  approvedTemplate('hello', 'Hello!'),
  approvedTemplate('hello_world', 'Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification.'),
  approvedTemplate('order_update', 'Your order is on its way.'),
  approvedTemplate('welcome', 'Welcome aboard!'),
  approvedTemplate('scale_test', 'Order {{1}} is confirmed.'),
  authenticationTemplate('verification_code'),
  authenticationTemplate('login_code', 'pt_BR'),
];

/** Replaces the registry of a WABA of the organization with `templates` and marks it synced. */
export async function seedTemplates(db: Db, orgId: string, wabaId: string, templates: SyncedTemplate[] = TEST_TEMPLATES): Promise<void> {
  const [waba] = await findConnectedWabas(db, orgId, { wabaId });
  if (!waba) throw new Error(`WABA ${wabaId} is not connected in organization ${orgId}`);
  await importTemplates(db, orgId, waba.id, templates);
}

/** A registry template as Graph lists it (`GET /{waba_id}/message_templates`), for stubs and the simulator. */
export function toGraphTemplate(template: SyncedTemplate, id: string) {
  return {
    id, name: template.name, language: template.language, status: template.status, category: template.category ?? 'UTILITY',
    components: template.components, parameter_format: (template.parameterFormat ?? 'positional').toUpperCase() as 'POSITIONAL' | 'NAMED',
    ...(template.qualityScore ? { quality_score: { score: template.qualityScore } } : {}),
  };
}
