/**
 * `wahub serve`: runs the hub, prints the banner (sandbox: inbox login, `export KEY=…` and the first
 * curl lines), and on SIGINT/SIGTERM stops the hub, then the embedded PostgreSQL it started, and
 * logs a final `stopped` line.
 */
import { type Command, Option } from 'commander';
import { type Hub, type Role, startHub } from '../server.js';
import { fail, type JsonFlag, print } from './cli.shared.js';

/** A hung shutdown exits after this, ms: leases (60 s) hand unfinished rows to other workers anyway. */
const SHUTDOWN_TIMEOUT_MS = 30_000;

/** The sandbox banner: what to open, how to log in, and the `export` lines the README's tour starts from. */
export function bannerLines(hub: Pick<Hub, 'url' | 'demo'> & { mode: string }, role: Role): string[] {
  const lines = [`wahub ${hub.mode} mode, role ${role}${hub.url ? `, listening on ${hub.url}` : ''}`];
  const { demo, url } = hub;
  if (!demo || !url) return lines;
  return [
    ...lines,
    '',
    `Web inbox: ${url}/  (log in as ${demo.operator_email}, password ${demo.operator_password})`,
    `Demo organization ${demo.org_id}; operator ${demo.operator_email}`,
    '',
    'Try the API (paste these two lines, then follow the tour in README.md):',
    `  export KEY=${demo.api_key}`,
    `  export HUB=${url}`,
    'The simulated customer writes first (opens the 24-hour customer service window):',
    `  curl -s -X POST "$HUB/simulator/_simulator/inbound" -H 'Content-Type: application/json' \\`,
    `    -d '{"phone_number_id":"${demo.phone_number_id}","from":"14155550123","profile_name":"Maya","text":"Hi!"}'`,
    'List threads:',
    `  curl -s "$HUB/v1/threads" -H "Authorization: Bearer $KEY"`,
    `Twilio numbers (number add --provider twilio) run against the Twilio simulator at ${url}/simulator/twilio.`,
    '',
  ];
}

/** Stops the hub on the first SIGINT/SIGTERM (a second one forces exit 1), then logs `stopped`. */
function stopOnSignals(hub: Hub): void {
  const { logger } = hub.runtime;
  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) process.exit(1);
    closing = true;
    logger.info({ signal }, 'shutting down');
    setTimeout(() => {
      logger.error(`shutdown took longer than ${SHUTDOWN_TIMEOUT_MS / 1000} s; exiting`);
      process.exit(1);
    }, SHUTDOWN_TIMEOUT_MS).unref();
    // hub.close() drains HTTP and the workers, closes the pool, and only then stops embedded PostgreSQL.
    hub.close().then(() => {
      logger.info('stopped');
      logger.flush?.();
      process.exit(0);
    }, (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('run the hub (HTTP API and/or the worker: outbox dispatcher, event relay, scheduled jobs)')
    .addOption(new Option('--role <role>', 'what this process runs').choices(['api', 'worker', 'all']).default('all'))
    .option('--json', 'print the startup summary as JSON')
    .action(async (options: JsonFlag & { role: Role }) => {
      const startedAt = Date.now();
      const hub = await startHub(options.role).catch((error: unknown) => fail(error, Boolean(options.json), { listening: true }));
      const readyMs = Date.now() - startedAt;
      const mode = hub.runtime.config.mode;
      if (options.json) print(options, { url: hub.url ?? null, mode, role: options.role, ready_ms: readyMs, demo: hub.demo ?? null }, '');
      else process.stdout.write(`${bannerLines({ url: hub.url, demo: hub.demo, mode }, options.role).join('\n')}\n`);
      hub.runtime.logger.info({ ready_ms: readyMs }, 'ready');
      stopOnSignals(hub);
    });
}
