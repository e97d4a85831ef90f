/**
 * End-user and data-retention commands: `wahub org set-otp-template`.
 */
import type { Command } from 'commander';
import { setOtpTemplate } from '../endusers/endusers.service.js';
import { fail, type JsonFlag, print, withRuntime } from './cli.shared.js';

export function registerEndUserCommands(program: Command, org: Command): void {
  void program;
  org
    .command('set-otp-template')
    .description('the authentication template (PROTOCOL.md §6) this organization\'s OTPs are sent with')
    .requiredOption('--org <id>', 'organization id')
    .requiredOption('--name <name>', 'approved authentication template name')
    .requiredOption('--language <code>', 'template language, e.g. en_US')
    .option('--json', 'print JSON')
    .action(async (options: JsonFlag & { org: string; name: string; language: string }) => {
      try {
        await withRuntime(({ db }) => setOtpTemplate(db, options.org, options.name, options.language));
        print(options, { org_id: options.org, otp_template_name: options.name, otp_template_language: options.language }, `OTPs of ${options.org} use ${options.name} (${options.language})`);
      } catch (error) {
        fail(error, Boolean(options.json));
      }
    });
}
