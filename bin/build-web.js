#!/usr/bin/env node
// Builds the operator web inbox (web/ → web/dist) with Vite. Runs from `npm install`/`npm ci`
// (the `prepare` script) so that `npm install && npm start` serves a built UI; skipped when the
// sources are absent (e.g. a production image that copies only the build).
import { existsSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const config = path.join(root, 'web', 'vite.config.ts');
if (!existsSync(config)) {
  console.log('build-web: no web/ sources here, skipping the UI build');
} else {
  const vite = await import('vite').catch(() => undefined);
  if (!vite) {
    // e.g. `npm install --package-lock-only`, which runs prepare without installing anything.
    console.log('build-web: vite is not installed, skipping the UI build');
  } else {
    await vite.build({ configFile: config, logLevel: 'warn' });
    console.log('build-web: web inbox built into web/dist');
  }
}
