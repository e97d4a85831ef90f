/**
 * `wahub templates sync --org <id> [--waba-id <id>]`: syncs the organization's template registry
 * from Graph (the same service as `POST /v1/templates/sync`), with progress on stderr.
 */
import type { Command } from 'commander';
import { GraphApiClient } from '../providers/meta/graph.client.js';
import { AppError } from '../shared/errors.js';
import { syncOrganizationTemplates } from '../templates/template-sync.service.js';
import { fail, type JsonFlag, print, withRuntime } from './cli.shared.js';

export function registerTemplateCommands(program: Command): void {
  program
    .command('templates')
    .description('message templates (the registry synced from Meta)')
    .command('sync')
    .description("sync an organization's templates from Graph (GET /{waba_id}/message_templates), one WABA at a time, progress on stderr")
    .requiredOption('--org <id>', 'organization id')
    .option('--waba-id <id>', 'only this WABA')
    .option('--json', 'print JSON')
    .action(async (options: JsonFlag & { org: string; wabaId?: string }) => {
      try {
        const summaries = await withRuntime(async ({ db, cipher, config }) => {
          const baseUrl = config.meta.graphApiBaseUrl;
          if (!baseUrl) throw new AppError('not_configured', 'GRAPH_API_BASE_URL is unset (in sandbox mode: the running hub\'s URL + /simulator)');
          const graph = new GraphApiClient({ baseUrl, version: config.meta.graphApiVersion, timeoutMs: config.meta.graphApiTimeoutMs });
          try {
            return await syncOrganizationTemplates({
              db, cipher, graph, onPage: (fetched) => process.stderr.write(`fetched ${fetched} templates\n`),
            }, options.org, options.wabaId);
          } finally {
            await graph.close();
          }
        });
        const failed = summaries.filter((s) => s.error !== null);
        const lines = summaries.map((s) => (s.error ? `WABA ${s.waba_id}: failed: ${s.error}` : `WABA ${s.waba_id}: ${s.templates} templates, ${s.changed} changed, ${s.deleted} marked deleted`));
        print(options, { data: summaries }, lines.join('\n') || 'no connected WABA');
        if (failed.length > 0) process.exitCode = 1;
      } catch (error) {
        fail(error, Boolean(options.json));
      }
    });
}
