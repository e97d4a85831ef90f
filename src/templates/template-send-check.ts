/**
 * The check every template send passes before anything is queued (issue 16): the template must be
 * in the registry of the number's WABA, in the language asked, approved, and the parameters must
 * fit its components (template-parameters.ts). Runs inside the caller's send transaction, so a
 * refusal rolls back everything the request wrote (a contact or thread opened for it included).
 *
 * Numbers of provider `twilio` have no WABA: their templates are Twilio Content SIDs, checked by
 * Twilio, and are not looked up here.
 */
import type { Executor } from '../db/database.js';
import { findPhoneNumberById } from '../numbers/phone-numbers.repository.js';
import { AppError } from '../shared/errors.js';
import { checkTemplateParameters } from './template-parameters.js';
import { findTemplatesByName, findTemplateSyncTime } from './templates.repository.js';

/** The status Meta gives a template that may be sent. */
export const SENDABLE_STATUS = 'APPROVED';

/** Thrown when the number's WABA has never been synced: the caller syncs it, then retries its transaction. */
export class TemplatesNeverSyncedError extends Error {
  constructor(readonly orgId: string, readonly wabaRef: string) {
    super(`the templates of WABA ${wabaRef} have never been synced`);
    this.name = 'TemplatesNeverSyncedError';
  }
}

/** Syncs one WABA's templates from Graph (one sync at a time per WABA); see template-sync.service.ts. */
export type TemplateSyncer = (orgId: string, wabaRef: string) => Promise<void>;

/** A template as a send names it (`template` of a `POST /v1/messages` body, or an OTP). */
export interface TemplateToSend {
  name: string;
  language: { code: string };
  components?: unknown[];
}

/**
 * Checks a template send against the registry of the number's WABA.
 * @throws AppError template_not_found (unknown, or deleted at Meta), template_language_not_found,
 *   template_not_approved, template_parameters_mismatch (details: one per offending path)
 * @throws TemplatesNeverSyncedError when the WABA was never synced
 */
export async function assertTemplateSendable(db: Executor, orgId: string, phoneNumberRef: string, template: TemplateToSend): Promise<void> {
  const number = await findPhoneNumberById(db, orgId, phoneNumberRef);
  if (!number || number.provider !== 'meta' || !number.waba_ref) return;
  if ((await findTemplateSyncTime(db, orgId, number.waba_ref)) === null) throw new TemplatesNeverSyncedError(orgId, number.waba_ref);
  const rows = (await findTemplatesByName(db, orgId, number.waba_ref, template.name)).filter((row) => row.deleted_at === null);
  if (rows.length === 0) {
    throw new AppError('template_not_found', `template "${template.name}" is not in the registry of this number's WABA (sync it, or create it)`, [
      { path: 'template.name', message: 'unknown template' },
    ]);
  }
  const row = rows.find((candidate) => candidate.language === template.language.code);
  if (!row) {
    const languages = rows.map((candidate) => candidate.language).sort();
    throw new AppError('template_language_not_found', `template "${template.name}" has no ${template.language.code} version (it has ${languages.join(', ')})`, [
      { path: 'template.language.code', message: `one of ${languages.join(', ')}` },
    ]);
  }
  if (row.status !== SENDABLE_STATUS) {
    throw new AppError('template_not_approved', `template "${template.name}" (${row.language}) is ${row.status}: only APPROVED templates can be sent`, [
      { path: 'template.name', message: `status ${row.status}` },
    ]);
  }
  const problems = checkTemplateParameters(row, template.components);
  if (problems.length > 0) {
    throw new AppError('template_parameters_mismatch', `the parameters do not fit template "${template.name}" (${row.language})`, problems);
  }
}
