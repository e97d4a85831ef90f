/**
 * Real Chromium for the web inbox tests: Debian's `/usr/bin/chromium` driven by playwright-core
 * (no browser download), a fresh profile per context, and every console error collected so a test
 * can fail on it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/**
 * Where the Chromium tests write their screenshots: `test-results/screenshots/` (git-ignored), so
 * `npm test` leaves the tree as it found it. `npm run screenshots` sets WAHUB_SCREENSHOTS_DIR to
 * `docs/screenshots` to refresh the README's committed images.
 */
export const SCREENSHOTS = path.resolve(import.meta.dirname, '../..', process.env.WAHUB_SCREENSHOTS_DIR ?? 'test-results/screenshots');
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

export interface BrowserSession {
  context: BrowserContext;
  page: Page;
  /** Console errors and uncaught page errors seen so far. */
  errors: string[];
  close(): Promise<void>;
}

/** A browser with a fresh `--user-data-dir` and one page; `viewport` defaults to 1280×800. */
export async function openBrowser(options: { viewport?: { width: number; height: number } } = {}): Promise<BrowserSession> {
  const userDataDir = await mkdtemp(path.join(os.tmpdir(), 'wahub-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM, headless: true, args: ARGS, viewport: options.viewport ?? { width: 1280, height: 800 },
    locale: 'en-GB', timezoneId: 'UTC',
  });
  const errors: string[] = [];
  const watched = new WeakSet<Page>();
  const watch = (page: Page) => {
    if (watched.has(page)) return;
    watched.add(page);
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(`console: ${message.text()} (${message.location().url})`);
    });
    page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  };
  context.on('page', watch);
  const page = context.pages()[0] ?? (await context.newPage());
  watch(page);
  return {
    context, page, errors,
    async close() {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
