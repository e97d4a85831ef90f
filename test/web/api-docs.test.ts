/**
 * The API reference (`GET /docs`, Swagger UI) in real Chromium against a running hub (`serve
 * --role api` in sandbox mode, on a free port): it renders every operation of the document from
 * the hub's own files alone — a Content-Security-Policy that allows nothing else, no request to
 * another host (no CDN), no failed request, no console error (a CSP violation is one) — and writes
 * api-docs.png to test-results/screenshots/ (`npm run screenshots`: to docs/screenshots/).
 */
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Hub, startHub } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { type BrowserSession, openBrowser, SCREENSHOTS } from './browser.js';


/** Operations of an OpenAPI document (its paths' HTTP methods). */
function operationCount(document: { paths?: Record<string, Record<string, unknown>> }): number {
  const methods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
  return Object.values(document.paths ?? {}).reduce((sum, item) => sum + Object.keys(item).filter((key) => methods.has(key)).length, 0);
}

/**
 * Sources of a Content-Security-Policy that reach beyond the page's own origin: anything but
 * `'self'`, `'none'`, a hash and `data:` (a host, a scheme such as `https:`, `'unsafe-inline'`).
 */
function foreignSources(csp: string): string[] {
  return csp.split(';').flatMap((directive) => directive.trim().split(/\s+/).slice(1))
    .filter((source) => !/^('self'|'none'|'sha(256|384|512)-[A-Za-z0-9+/]+=*'|data:)$/.test(source));
}

describe('GET /docs in Chromium', () => {
  let t: TestDatabase;
  let dataDir: string;
  let hub: Hub;
  let browser: BrowserSession;

  beforeAll(async () => {
    t = await createTestDatabase(4);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'wahub-docs-'));
    await chmod(dataDir, 0o755);
    await mkdir(SCREENSHOTS, { recursive: true });
    hub = await startHub('api', { DATABASE_URL: t.url, WAHUB_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent' });
    browser = await openBrowser({ viewport: { width: 1280, height: 900 } });
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    await t?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('renders every operation from the hub alone, with no console error, and shows POST /v1/messages', async () => {
    const { page, errors } = browser;
    const hubOrigin = new URL(hub.url!).origin;
    const foreign: string[] = [];
    const failed: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.protocol !== 'data:' && url.protocol !== 'blob:' && url.origin !== hubOrigin) foreign.push(request.url());
    });
    page.on('requestfailed', (request) => failed.push(`${request.url()}: ${request.failure()?.errorText}`));
    page.on('response', (response) => {
      if (response.status() >= 400) failed.push(`${response.url()}: ${response.status()}`);
    });

    const document = await (await fetch(`${hub.url}/docs/openapi.json`)).json();
    const answer = await page.goto(`${hub.url}/docs`);
    expect(answer?.status()).toBe(200);
    const csp = (await answer!.allHeaders())['content-security-policy'];
    expect(csp, 'the reference page carries its own Content-Security-Policy').toMatch(/default-src 'self'/);
    expect(foreignSources(csp ?? ''), `sources of ${csp} beyond the hub`).toEqual([]);

    const operations = page.locator('.opblock');
    await operations.first().waitFor({ timeout: 15_000 });
    await expect.poll(() => operations.count(), { timeout: 10_000 }).toBe(operationCount(document));
    expect(operationCount(document)).toBeGreaterThan(0);

    const send = page.locator('.opblock.opblock-post').filter({ has: page.locator('.opblock-summary-path[data-path="/v1/messages"]') });
    await expect.poll(() => send.count()).toBe(1);
    expect(await send.locator('.opblock-summary-method').textContent()).toBe('POST');
    expect(await send.locator('.opblock-summary-description').textContent()).toBe(document.paths['/v1/messages'].post.summary);
    expect(await page.locator('.info .title').textContent()).toContain(document.info.title);

    await page.screenshot({ path: path.join(SCREENSHOTS, 'api-docs.png') });
    expect(foreign, 'requests to hosts other than the hub').toEqual([]);
    expect(failed, 'failed requests').toEqual([]);
    expect(errors, 'console errors').toEqual([]);
  });
});
