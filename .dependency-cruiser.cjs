/**
 * The dependency rules of src/ (docs/ARCHITECTURE.md, "Dependency rules"), checked by
 * `npm run lint:deps` and by .ci/run. Domain folders are every folder of src/ except the toolkit
 * (http, shared, db, config, types) and the provider protocols.
 */
const TOOLKIT = '^src/(http|shared|db|config|types)/';
const DOMAIN = '^src/(?!(http|shared|db|config|types|providers)/)[^/]+/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycle between files, type-only imports included.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      severity: 'error',
      comment: 'No two folders import each other, directly or through others (threads <-> outbound was one).',
      scope: 'folder',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'toolkit-imports-no-domain',
      severity: 'error',
      comment: 'http/, shared/, db/ and config/ are a toolkit: they import no domain folder (the app composes them).',
      from: { path: TOOLKIT },
      to: { path: DOMAIN },
    },
    {
      name: 'toolkit-imports-no-provider',
      severity: 'error',
      comment: 'The toolkit knows no provider protocol either.',
      from: { path: TOOLKIT },
      to: { path: '^src/providers/' },
    },
    {
      name: 'providers-import-no-domain',
      severity: 'error',
      comment: 'Provider protocols (Meta, Twilio) are below the domains: they import only the toolkit and each other.',
      from: { path: '^src/providers/' },
      to: { path: DOMAIN },
    },
    {
      name: 'repository-imports-no-service-or-route',
      severity: 'error',
      comment: 'Data flows route -> service -> repository: a repository imports no service and no route.',
      from: { path: '\\.repository\\.ts$' },
      to: { path: '\\.(service|routes)\\.ts$' },
    },
    {
      name: 'service-imports-no-route',
      severity: 'error',
      comment: 'A service never imports a route module.',
      from: { path: '\\.service\\.ts$' },
      to: { path: '\\.routes\\.ts$' },
    },
    {
      name: 'route-calls-no-repository',
      severity: 'error',
      comment: 'Every route calls a service, never a repository (SQL stays behind a service).',
      from: { path: '\\.routes\\.ts$' },
      to: { path: '\\.repository\\.ts$' },
    },
    {
      name: 'nothing-imports-the-app',
      severity: 'error',
      comment: 'app.ts and server.ts are the top: no folder of src/ imports them, except the CLI, which runs the server.',
      from: { path: '^src/(?!cli/)[^/]+/' },
      to: { path: '^src/(app|server)\\.ts$' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    includeOnly: '^src/',
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
