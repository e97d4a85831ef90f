#!/usr/bin/env node
// `npm run screenshots`: refreshes the README's committed screenshots (docs/screenshots/*.png) by
// running the Chromium tests that take them with WAHUB_SCREENSHOTS_DIR pointing there. A plain
// `npm test` writes them to the git-ignored test-results/screenshots/ instead.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const vitest = path.join(root, 'node_modules', 'vitest', 'vitest.mjs');
const result = spawnSync(process.execPath, [vitest, 'run', 'test/web/inbox.test.ts', 'test/web/api-docs.test.ts'], {
  cwd: root, stdio: 'inherit', env: { ...process.env, WAHUB_SCREENSHOTS_DIR: 'docs/screenshots' },
});
process.exit(result.status ?? 1);
