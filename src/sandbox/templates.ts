/**
 * The templates of the sandbox: what the simulator lists for every WABA it plays (as Graph lists
 * them), and what the demo WABA's registry starts with. One with positional parameters, one with
 * named parameters, one with an image header, and the authentication template OTPs use (PROTOCOL.md
 * §6: its copy-code button reads back as a URL button).
 */
import type { SimulatedTemplate } from '../simulator/meta/templates.js';
import { toSyncedTemplate } from '../templates/template-sync.service.js';
import type { SyncedTemplate } from '../templates/templates.repository.js';

export const SANDBOX_TEMPLATES: SimulatedTemplate[] = [
  {
    id: '900000000000001', name: 'hello_world', language: 'en_US', status: 'APPROVED', category: 'UTILITY', parameter_format: 'POSITIONAL',
    components: [
      { type: 'HEADER', format: 'TEXT', text: 'Hello World' },
      { type: 'BODY', text: 'Welcome and congratulations!! This message demonstrates your ability to send a WhatsApp message notification from wahub.' },
      { type: 'FOOTER', text: 'WhatsApp Business Platform sample message' },
    ],
  },
  {
    id: '900000000000002', name: 'order_update', language: 'en_US', status: 'APPROVED', category: 'UTILITY', parameter_format: 'POSITIONAL',
    components: [{ type: 'BODY', text: 'Hi {{1}}, your order {{2}} is on its way and arrives {{3}}.', example: { body_text: [['Maya', '#1042', 'tomorrow']] } }],
  },
  {
    id: '900000000000003', name: 'appointment_reminder', language: 'en_US', status: 'APPROVED', category: 'UTILITY', parameter_format: 'NAMED',
    components: [{
      type: 'BODY', text: 'Hello {{first_name}}, this is a reminder of your appointment on {{date}}.',
      example: { body_text_named_params: [{ param_name: 'first_name', example: 'Maya' }, { param_name: 'date', example: 'Monday 10:00' }] },
    }],
  },
  {
    id: '900000000000004', name: 'receipt_photo', language: 'en_US', status: 'APPROVED', category: 'UTILITY', parameter_format: 'POSITIONAL',
    components: [
      { type: 'HEADER', format: 'IMAGE', example: { header_handle: ['4::aW1hZ2UvanBlZw==:sandbox'] } },
      { type: 'BODY', text: 'Here is your receipt for order {{1}}.', example: { body_text: [['#1042']] } },
    ],
  },
  {
    id: '900000000000005', name: 'verification_code', language: 'en_US', status: 'APPROVED', category: 'AUTHENTICATION', parameter_format: 'POSITIONAL',
    components: [
      { type: 'BODY', text: '*{{1}}* is your verification code.', add_security_recommendation: true },
      { type: 'FOOTER', text: 'This code expires in 10 minutes.' },
      { type: 'BUTTONS', buttons: [{ type: 'URL', text: 'Copy code', url: 'https://www.whatsapp.com/otp/code/?otp_type=COPY_CODE&code=otp{{1}}' }] },
    ],
  },
];

/** The sandbox templates as registry rows. */
export function sandboxRegistryTemplates(): SyncedTemplate[] {
  return SANDBOX_TEMPLATES.map((template) => toSyncedTemplate(template)!);
}
