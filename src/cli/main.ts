/**
 * The `wahub` command line. Thin: it parses arguments (commander) and calls the same services as
 * the server. Every command takes `--json` and then prints exactly one JSON object; failures exit
 * non-zero with a one-line reason (`{"error":{code,message}}` with --json).
 */
import { Command, Option } from 'commander';
import { migrateDown, migrateUp, migrationStatus } from '../db/migrate.js';
import { connectPhoneNumber, connectTwilioNumber } from '../numbers/numbers.service.js';
import { setPhoneNumberToken } from '../outbound/number-queue.service.js';
import { AppError } from '../shared/errors.js';
import { assertPasswordAcceptable, setOperatorPassword } from '../sessions/sessions.service.js';
import { createApiKey, createOperator, createOrganization } from '../tenancy/tenancy.service.js';
import { registerAdminCommands } from './admin.commands.js';
import { registerEndUserCommands } from './endusers.commands.js';
import { registerTemplateCommands } from './templates.commands.js';
import { fail, type JsonFlag, print, withRuntime } from './cli.shared.js';
import { registerServeCommand } from './serve.command.js';
import { simulatorCommand } from './simulator.command.js';

/** The first line of a stream (`--password-stdin`), without its line break. */
async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of stream) {
    text += String(chunk);
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/)[0] ?? '';
}

interface NumberAddOptions {
  org: string;
  provider: 'meta' | 'twilio';
  wabaId?: string;
  phoneNumberId?: string;
  displayPhoneNumber?: string;
  accessToken?: string;
  accountSid?: string;
  authToken?: string;
  phone?: string;
  throughputMps?: number;
}

const program = new Command('wahub').description('WhatsApp Business messaging hub').showHelpAfterError();

registerServeCommand(program);

program
  .command('migrate')
  .description('apply, revert or list schema migrations')
  .argument('<action>', 'up | down | status')
  .option('--json', 'print JSON')
  .action(async (action: string, options: JsonFlag) => {
    try {
      const result = await withRuntime(async ({ db }) => {
        if (action === 'up') return { applied: await migrateUp(db) };
        if (action === 'down') return { reverted: await migrateDown(db) };
        if (action === 'status') return { migrations: await migrationStatus(db) };
        throw new AppError('validation_failed', `unknown action "${action}": use up, down or status`);
      }, false);
      print(options, result, JSON.stringify(result, null, 2));
    } catch (error) {
      fail(error, Boolean(options.json));
    }
  });

const org = program.command('org').description('organizations');
org
  .command('create')
  .requiredOption('--name <name>', 'organization name')
  .option('--json', 'print JSON')
  .action(async (options: JsonFlag & { name: string }) => {
    try {
      const { id } = await withRuntime(({ db }) => createOrganization(db, options.name));
      print(options, { id }, id);
    } catch (error) {
      fail(error, Boolean(options.json));
    }
  });

const operator = program.command('operator').description('operators');

operator
  .command('create')
  .requiredOption('--org <id>', 'organization id')
  .requiredOption('--email <email>', 'email')
  .addOption(new Option('--role <role>', 'role').choices(['owner', 'admin', 'agent']).makeOptionMandatory())
  .option('--name <name>', 'display name')
  .option('--password <password>', 'web inbox password (visible in the process list: prefer --password-stdin)')
  .option('--password-stdin', 'read the web inbox password from the first line of stdin')
  .option('--json', 'print JSON')
  .action(async (options: JsonFlag & { org: string; email: string; role: 'owner' | 'admin' | 'agent'; name?: string; password?: string; passwordStdin?: boolean }) => {
    try {
      const password = options.passwordStdin ? await readFirstLine(process.stdin) : options.password;
      if (password !== undefined) assertPasswordAcceptable(password);
      const result = await withRuntime(async ({ db }) => {
        const created = await createOperator(db, { orgId: options.org, email: options.email, role: options.role, name: options.name ?? null });
        if (password !== undefined) await setOperatorPassword(db, options.org, created.id, password);
        return created;
      });
      print(options, { id: result.id, api_key: result.apiKey, password_set: password !== undefined }, `operator ${result.id}\nAPI key (shown once): ${result.apiKey}${password !== undefined ? '\nweb inbox password set' : ''}`);
    } catch (error) {
      fail(error, Boolean(options.json));
    }
  });

operator
  .command('set-password')
  .description('set or replace an operator\'s web inbox password (signs them out everywhere)')
  .requiredOption('--org <id>', 'organization id')
  .requiredOption('--operator <id>', 'operator id')
  .option('--password <password>', 'the password (visible in the process list: prefer --password-stdin)')
  .option('--password-stdin', 'read the password from the first line of stdin')
  .option('--json', 'print JSON')
  .action(async (options: JsonFlag & { org: string; operator: string; password?: string; passwordStdin?: boolean }) => {
    try {
      const password = options.passwordStdin ? await readFirstLine(process.stdin) : options.password;
      if (password === undefined) throw new AppError('validation_failed', 'pass --password-stdin (or --password)');
      await withRuntime(({ db }) => setOperatorPassword(db, options.org, options.operator, password));
      print(options, { id: options.operator, password_set: true }, 'web inbox password set');
    } catch (error) {
      fail(error, Boolean(options.json));
    }
  });

program
  .command('api-key')
  .description('API keys')
  .command('create')
  .requiredOption('--org <id>', 'organization id')
  .requiredOption('--operator <id>', 'operator id')
  .option('--json', 'print JSON')
  .action(async (options: JsonFlag & { org: string; operator: string }) => {
    try {
      const result = await withRuntime(({ db }) => createApiKey(db, options.org, options.operator));
      print(options, { api_key: result.apiKey }, `API key (shown once): ${result.apiKey}`);
    } catch (error) {
      fail(error, Boolean(options.json));
    }
  });

const number = program.command('number').description('business phone numbers');

number
  .command('set-token')
  .description('replace a number\'s access token; a number awaiting re-authorisation resumes its messages')
  .requiredOption('--org <id>', 'organization id')
  .requiredOption('--phone-number-id <id>', 'Meta phone_number_id, or whatsapp:+E164 for a Twilio number')
  .requiredOption('--access-token <token>', 'new access token, or Twilio auth token (stored encrypted)')
  .option('--json', 'print JSON')
  .action(async (options: JsonFlag & { org: string; phoneNumberId: string; accessToken: string }) => {
    try {
      const result = await withRuntime(({ db, cipher }) =>
        setPhoneNumberToken(db, cipher, { orgId: options.org, phoneNumberId: options.phoneNumberId, accessToken: options.accessToken }),
      );
      print(options, result, `number ${result.id} is ${result.status}; ${result.resumed} waiting messages resumed`);
    } catch (error) {
      fail(error, Boolean(options.json));
    }
  });

number
  .command('add')
  .description('connect a number: Meta (ids + access token) or Twilio (--provider twilio, account SID + auth token + phone)')
  .requiredOption('--org <id>', 'organization id')
  .addOption(new Option('--provider <provider>', 'who carries the number').choices(['meta', 'twilio']).default('meta'))
  .option('--waba-id <id>', 'Meta WABA id (meta)')
  .option('--phone-number-id <id>', 'Meta phone_number_id (meta)')
  .option('--display-phone-number <number>', 'display number, e.g. 15550100001 (meta)')
  .option('--access-token <token>', 'access token, stored encrypted (meta)')
  .option('--account-sid <sid>', 'Twilio account SID, AC… (twilio)')
  .option('--auth-token <token>', 'Twilio auth token, stored encrypted (twilio)')
  .option('--phone <e164>', 'the WhatsApp sender number, E.164 (twilio)')
  .option('--throughput-mps <n>', 'messages per second (default 80)', (value) => Number(value))
  .option('--json', 'print JSON')
  .action(async (options: JsonFlag & NumberAddOptions) => {
    try {
      const missing = (names: Array<[keyof NumberAddOptions, string]>) => names.filter(([key]) => !options[key]).map(([, flag]) => flag);
      const lacking = options.provider === 'twilio'
        ? missing([['accountSid', '--account-sid'], ['authToken', '--auth-token'], ['phone', '--phone']])
        : missing([['wabaId', '--waba-id'], ['phoneNumberId', '--phone-number-id'], ['displayPhoneNumber', '--display-phone-number'], ['accessToken', '--access-token']]);
      if (lacking.length > 0) throw new AppError('validation_failed', `--provider ${options.provider} needs ${lacking.join(', ')}`);
      const result = await withRuntime(async ({ db, cipher }) => {
        if (options.provider === 'twilio') {
          const added = await connectTwilioNumber(db, cipher, {
            orgId: options.org, accountSid: options.accountSid!, authToken: options.authToken!, phone: options.phone!, throughputMps: options.throughputMps,
          });
          return { id: added.id, phone_number_id: added.phoneNumberId };
        }
        const added = await connectPhoneNumber(db, cipher, {
          orgId: options.org, wabaId: options.wabaId!, phoneNumberId: options.phoneNumberId!,
          displayPhoneNumber: options.displayPhoneNumber!, accessToken: options.accessToken!, throughputMps: options.throughputMps,
        });
        return { id: added.id, phone_number_id: options.phoneNumberId! };
      });
      print(options, result, result.id);
    } catch (error) {
      fail(error, Boolean(options.json));
    }
  });

registerAdminCommands(program, number);
registerEndUserCommands(program, org);
registerTemplateCommands(program);
program.addCommand(simulatorCommand(print, fail));

await program.parseAsync(process.argv);
