/**
 * Operator commands for consistency and credentials: `wahub doctor`, `wahub keys rotate`,
 * `wahub number move`.
 */
import type { Command } from 'commander';
import { runChecks } from '../consistency/consistency.service.js';
import { rotateEncryptionKeys } from '../numbers/keys.service.js';
import { moveNumber } from '../numbers/move.service.js';
import { fail, type JsonFlag, print, withRuntime } from './cli.shared.js';

function doctorTable(results: Awaited<ReturnType<typeof runChecks>>): string {
  const width = Math.max(...results.map((r) => r.name.length));
  const lines = results.map((r) => {
    const first = r.violations[0];
    return `${r.ok ? 'ok  ' : 'FAIL'}  ${r.name.padEnd(width)}  ${r.ok ? r.description : `${r.violations.length} violation(s), e.g. ${first?.subject}: ${first?.detail}`}`;
  });
  const failed = results.filter((r) => !r.ok).length;
  return `${lines.join('\n')}\n\n${failed === 0 ? 'all invariants hold' : `${failed} invariant(s) violated`}`;
}

/** Adds `doctor` and `keys rotate` to the program and `move` to its `number` command. */
export function registerAdminCommands(program: Command, number: Command): void {
  program
    .command('doctor')
    .description('prove every data invariant (SPEC §2); exits 1 when any fails')
    .option('--org <id>', 'only this organization')
    .option('--json', 'print JSON')
    .action(async (options: JsonFlag & { org?: string }) => {
      try {
        const results = await withRuntime(({ db, cipher }) => runChecks(db, { orgId: options.org }, cipher));
        const ok = results.every((r) => r.ok);
        print(options, { ok, checks: results }, doctorTable(results));
        if (!ok) process.exitCode = 1;
      } catch (error) {
        fail(error, Boolean(options.json));
      }
    });

  program
    .command('keys')
    .description('token encryption keys')
    .command('rotate')
    .description('re-encrypt every stored token and event subscription secret with the newest key (the first of TOKEN_ENCRYPTION_KEYS); safe to re-run')
    .option('--json', 'print JSON')
    .action(async (options: JsonFlag) => {
      try {
        const result = await withRuntime(({ db, cipher }) => rotateEncryptionKeys(db, cipher, {
          onProgress: (p) => process.stderr.write(`rotated ${p.rotated}/${p.total}${p.failed ? `, ${p.failed} failed` : ''}\n`),
        }));
        const secrets = result.subscription_secrets;
        print(options, { ...result }, `rotated ${result.rotated} of ${result.total} tokens and ${secrets.rotated} event subscription secrets to key ${result.keyId}${result.failed + secrets.failed ? `; ${result.failed + secrets.failed} do not decrypt (see wahub doctor)` : ''}`);
        if (result.failed > 0 || secrets.failed > 0) process.exitCode = 1;
      } catch (error) {
        fail(error, Boolean(options.json));
      }
    });

  number
    .command('move')
    .description('move a number (with its whole WABA) to another organization; audited')
    .requiredOption('--phone-number-id <id>', 'Meta phone_number_id')
    .requiredOption('--to-org <id>', 'target organization id')
    .requiredOption('--access-token <token>', 'token for the WABA in the target organization')
    .requiredOption('--actor <who>', 'who asked for the move (audit log)')
    .option('--reason <text>', 'why (audit log)')
    .option('--json', 'print JSON')
    .action(async (options: JsonFlag & { phoneNumberId: string; toOrg: string; accessToken: string; actor: string; reason?: string }) => {
      try {
        const result = await withRuntime(({ db, cipher }) => moveNumber(db, cipher, {
          phoneNumberId: options.phoneNumberId, toOrgId: options.toOrg, accessToken: options.accessToken, actor: options.actor, reason: options.reason ?? null,
        }));
        print(options, result, `moved WABA ${result.waba_id} (${result.phone_number_ids.join(', ')}) from ${result.from_org_id} to ${result.to_org_id}`);
      } catch (error) {
        fail(error, Boolean(options.json));
      }
    });
}
