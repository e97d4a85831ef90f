/**
 * End-user and data-retention commands: `wahub org set-otp-template`, `wahub retention run`.
 */
import type { Command } from 'commander';
import { purgeInactiveClients } from '../clients/retention.service.js';
import { setOtpTemplate } from '../endusers/endusers.service.js';
import { AppError } from '../shared/errors.js';
import { fail, type JsonFlag, print, withRuntime } from './cli.shared.js';

export function registerEndUserCommands(program: Command, org: Command): void {
  program
    .command('retention')
    .description('data retention')
    .command('run')
    .description('erase clients inactive for N days (GDPR), in batches, with progress on stderr')
    .requiredOption('--inactive-days <n>', 'erase clients with no message for this many days')
    .option('--batch-size <n>', 'clients per batch', '100')
    .option('--json', 'print JSON')
    .action(async (options: JsonFlag & { inactiveDays: string; batchSize: string }) => {
      try {
        const inactiveDays = Number(options.inactiveDays);
        const batchSize = Number(options.batchSize);
        if (!Number.isInteger(inactiveDays) || inactiveDays < 1) throw new AppError('validation_failed', '--inactive-days must be a positive integer');
        if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) throw new AppError('validation_failed', '--batch-size must be 1 to 10000');
        const result = await withRuntime(({ db, logger }) => purgeInactiveClients(db, {
          inactiveDays, batchSize, logger, source: 'cli',
          onProgress: (p) => process.stderr.write(`erased ${p.erased}/${p.total}${p.failed ? `, ${p.failed} failed` : ''}\n`),
        }));
        print(options, { ...result }, `erased ${result.erased} of ${result.total} clients inactive since ${result.cutoff}${result.failed ? `; ${result.failed} failed (see the log)` : ''}`);
        if (result.failed > 0) process.exitCode = 1;
      } catch (error) {
        fail(error, Boolean(options.json));
      }
    });

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
