/// <reference lib="dom" />
/**
 * Accessibility of the web inbox in real Chromium: axe-core (WCAG 2.1 A and AA, and best
 * practices) on every page and state an operator meets — login, inbox, a conversation, its
 * Actions and Quick replies menus, numbers, ops, and the inbox and a conversation at phone width —
 * with no critical and no serious violation allowed.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CUSTOMERS } from '../../src/sandbox/seed.js';
import { type Hub, startHub } from '../../src/server.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { type BrowserSession, openBrowser } from './browser.js';

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

interface Violation {
  id: string;
  impact: string | null;
  help: string;
  nodes: string[];
}

/**
 * Runs axe-core in the page (evaluated through the DevTools protocol, so the app's
 * Content-Security-Policy needs no exception) and returns its critical and serious violations.
 */
async function seriousViolations(page: Page): Promise<Violation[]> {
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(context: Document, options: unknown): Promise<{ violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: unknown[]; failureSummary?: string }> }> }> } }).axe;
    const result = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } });
    return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => `${n.target.join(' ')}: ${n.failureSummary ?? ''}`) }));
  });
  return violations.filter((v) => v.impact === 'critical' || v.impact === 'serious');
}

/** The thread id of the focused thread row, or null. */
const focusedThread = (page: Page) => page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset.threadId ?? null);

describe('web inbox accessibility (axe-core in Chromium)', () => {
  let t: TestDatabase;
  let dataDir: string;
  let hub: Hub;
  let browser: BrowserSession;

  beforeAll(async () => {
    if (!existsSync(path.resolve(import.meta.dirname, '../../web/dist/index.html'))) {
      execFileSync(process.execPath, [path.resolve(import.meta.dirname, '../../bin/build-web.js')], { stdio: 'inherit' });
    }
    t = await createTestDatabase(4);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'wahub-a11y-'));
    await chmod(dataDir, 0o755);
    hub = await startHub('all', { DATABASE_URL: t.url, WAHUB_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent', SANDBOX_STATUS_DELAYS_MS: '100,200,300',
      // The failing subscription points at a closed local port: allowed here, as in every test (shared/egress.ts).
      EVENT_SUBSCRIPTION_ALLOW_LIST: '127.0.0.1' });
    browser = await openBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    await hub?.close();
    await t?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('login page', async () => {
    const { page } = browser;
    await page.goto(`${hub.url}/`);
    await page.getByLabel('Email').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('inbox with no conversation selected', async () => {
    const { page } = browser;
    await page.getByLabel('Email').fill(hub.demo!.operator_email);
    await page.getByLabel('Password').fill(hub.demo!.operator_password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('a.thread-item').nth(2).waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('a conversation, with a selected row and an owner', async () => {
    const { page } = browser;
    await page.locator('a.thread-item', { hasText: 'Maya Chen' }).click();
    await page.locator('article.msg-inbound').first().waitFor();
    await page.getByRole('button', { name: 'Actions' }).click();
    await page.getByLabel('Assign to').selectOption(hub.demo!.operator_id);
    await expect.poll(() => page.locator('.owner-pill').textContent()).toBe('Owner: you');
    await page.keyboard.press('Escape');
    await page.getByRole('button', { name: 'Mine' }).or(page.getByRole('tab', { name: 'Mine' })).or(page.getByRole('radio', { name: 'Mine' })).first().waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('the Actions menu, open', async () => {
    const { page } = browser;
    await page.getByRole('button', { name: 'Actions' }).click();
    await page.getByLabel('Assign to').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.keyboard.press('Escape');
  });

  it('the Quick replies menu, open and empty', async () => {
    const { page } = browser;
    await page.getByRole('button', { name: 'Quick replies' }).click();
    await page.getByRole('group', { name: 'Quick replies' }).getByText('No quick replies yet').waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await page.keyboard.press('Escape');
  });

  it('numbers page', async () => {
    const { page } = browser;
    await page.getByRole('link', { name: 'Numbers' }).click();
    await page.locator('tr[data-phone-number-id]').first().waitFor();
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('ops page, with an event subscription whose deliveries fail', async () => {
    const { page } = browser;
    // Nothing listens on port 1: every delivery to it fails and is retried.
    const created = await fetch(`${hub.url}/v1/event-subscriptions`, {
      method: 'POST', headers: { authorization: `Bearer ${hub.demo!.api_key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ url: 'http://127.0.0.1:1/hooks/wahub', event_types: ['message.received'] }),
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await fetch(`${hub.url}/simulator/_simulator/inbound`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ phone_number_id: hub.demo!.phone_number_id, from: '14155550123', profile_name: 'Maya Chen', text: 'Anyone there?' }),
    });
    await page.getByRole('link', { name: 'Ops' }).click();
    await page.locator('[data-figure]').first().waitFor();
    const row = page.locator(`tr[data-subscription-id="${id}"]`);
    await expect.poll(() => row.locator('.pill').textContent(), { timeout: 15_000 }).toBe('Retrying');
    expect(await row.locator('td[data-label="Retrying"]').textContent()).toBe('1');
    expect(await seriousViolations(page)).toEqual([]);
  });

  it('makes the thread list one Tab stop: ↑ ↓ Home End move, Enter opens at the message box', async () => {
    const { page } = browser;
    await page.goto(`${hub.url}/`);
    const rows = page.locator('a.thread-item');
    await expect.poll(() => rows.count()).toBe(DEMO_CUSTOMERS.length);
    expect(await page.locator('a.thread-item[tabindex="0"]').count()).toBe(1);
    expect(await page.locator('a.thread-item[tabindex="-1"]').count()).toBe(DEMO_CUSTOMERS.length - 1);
    await page.locator('#thread-status').focus();
    await page.keyboard.press('Tab');
    expect(await focusedThread(page)).toBe(await rows.nth(0).getAttribute('data-thread-id'));
    await page.keyboard.press('End');
    expect(await focusedThread(page)).toBe(await rows.nth(DEMO_CUSTOMERS.length - 1).getAttribute('data-thread-id'));
    await page.keyboard.press('Home');
    await page.keyboard.press('ArrowDown');
    const second = await rows.nth(1).getAttribute('data-thread-id');
    expect(await focusedThread(page)).toBe(second);
    // One Tab leaves the list, wherever focus is in it.
    await page.keyboard.press('Tab');
    expect(await focusedThread(page)).toBeNull();
    await page.keyboard.press('Shift+Tab');
    expect(await focusedThread(page)).toBe(second);
    await page.keyboard.press('Enter');
    await page.waitForURL(`**/threads/${second}`);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('composer-text');
  });

  it('returns focus to the menu button on Escape, in both menus', async () => {
    const { page } = browser;
    for (const name of ['Actions', 'Quick replies']) {
      const button = page.getByRole('button', { name, exact: true });
      await button.focus();
      await page.keyboard.press('Enter');
      expect(await button.getAttribute('aria-expanded')).toBe('true');
      // Opening moves focus into the panel.
      await expect.poll(() => page.evaluate(() => Boolean(document.activeElement?.closest('.popover')))).toBe(true);
      await page.keyboard.press('Escape');
      expect(await button.getAttribute('aria-expanded')).toBe('false');
      await expect.poll(() => page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120)), { timeout: 5_000 }).toContain('aria-expanded="false"');
      expect(await page.evaluate(() => document.activeElement?.textContent)).toContain(name);
    }
  });

  it('does not make the ticking time left a live region: only the window opening or closing is announced', async () => {
    const { page } = browser;
    const banner = page.locator('.window-state');
    await banner.waitFor();
    expect(await banner.getAttribute('role')).toBeNull();
    expect(await banner.evaluate((node) => node.closest('[aria-live], [role="status"], [role="log"]'))).toBeNull();
    expect(await page.getByRole('status').filter({ hasText: /^Customer service window (open|closed)$/ }).count()).toBe(1);
  });

  it('draws focus rings of at least 3:1 on inputs and thread rows', async () => {
    const { page } = browser;
    await page.locator('#thread-search').focus();
    await page.keyboard.press('Shift+Tab');
    await page.keyboard.press('Tab');
    const ring = await page.evaluate(() => getComputedStyle(document.activeElement!).outlineColor);
    expect(ring).toBe('rgb(15, 118, 110)'); // --accent, 5.5:1 on white
    await page.locator('a.thread-item[tabindex="0"]').focus();
    const row = await page.evaluate(() => {
      const style = getComputedStyle(document.activeElement!);
      return { color: style.outlineColor, width: style.outlineWidth, offset: style.outlineOffset };
    });
    expect(row).toEqual({ color: 'rgb(15, 118, 110)', width: '2px', offset: '-2px' });
  });

  it('inbox and a conversation at phone width (390 px), focus following open and back', async () => {
    const { page } = browser;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${hub.url}/`);
    await page.locator('a.thread-item').first().waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    const maya = page.locator('a.thread-item', { hasText: 'Maya Chen' });
    const mayaId = await maya.getAttribute('data-thread-id');
    await maya.click();
    await page.locator('article.msg-inbound').first().waitFor();
    expect(await seriousViolations(page)).toEqual([]);
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('composer-text');
    // The number stays on one line.
    const lines = await page.locator('.conv-title p .nowrap').first().evaluate((node) => node.getClientRects().length);
    expect(lines).toBe(1);
    await page.getByRole('button', { name: 'Back to conversations' }).click();
    await expect.poll(() => focusedThread(page)).toBe(mayaId);
  });

  it('logged no console errors', () => {
    expect(browser.errors).toEqual([]);
  });
});
