/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The operator web inbox in real Chromium against the whole hub (`serve --role all` in sandbox
 * mode: API, dispatcher, domain-event relay and the Cloud API simulator playing Meta). Live
 * updates travel the real path: change → outbox_events → relay → NOTIFY → /v1/stream → refetch.
 * Writes its screenshots to test-results/screenshots/ (`npm run screenshots`: the README's, in docs/screenshots/).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_CUSTOMERS } from '../../src/sandbox/seed.js';
import { setOperatorPassword } from '../../src/sessions/sessions.service.js';
import { type Hub, startHub } from '../../src/server.js';
import { createTestOperator } from '../helpers/factories.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { type BrowserSession, openBrowser, SCREENSHOTS } from './browser.js';

const AGENT_PASSWORD = 'agent password 123';

async function simulator(hub: Hub, route: string, body: unknown): Promise<unknown> {
  const response = await fetch(`${hub.url}/simulator/_simulator/${route}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status, await response.clone().text()).toBe(200);
  return response.json();
}

async function logIn(page: Page, url: string, email: string, password: string): Promise<void> {
  await page.goto(url);
  await page.getByLabel('Email').fill(email);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('navigation', { name: 'Main' }).waitFor();
}

/** Records every data-status an outbound message with `text` takes, in order, from now on. */
async function recordStatuses(page: Page, text: string): Promise<void> {
  await page.evaluate((wanted) => {
    const seen: string[] = [];
    (window as unknown as { __statuses: string[] }).__statuses = seen;
    const check = () => {
      for (const node of document.querySelectorAll<HTMLElement>('article.msg-outbound')) {
        if (!node.textContent?.includes(wanted)) continue;
        const status = node.dataset.status!;
        if (seen.at(-1) !== status) seen.push(status);
      }
    };
    new MutationObserver(check).observe(document.body, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
  }, text);
}

describe('web inbox in Chromium', () => {
  let t: TestDatabase;
  let dataDir: string;
  let hub: Hub;
  let owner: BrowserSession;
  let agent: BrowserSession | undefined;
  let mayaThreadId: string;

  beforeAll(async () => {
    // `npm install` builds the UI (prepare); build it here when a checkout skipped that.
    if (!existsSync(path.resolve(import.meta.dirname, '../../web/dist/index.html'))) {
      execFileSync(process.execPath, [path.resolve(import.meta.dirname, '../../bin/build-web.js')], { stdio: 'inherit' });
    }
    t = await createTestDatabase(4);
    dataDir = await mkdtemp(path.join(os.tmpdir(), 'wahub-web-'));
    await chmod(dataDir, 0o755);
    await mkdir(SCREENSHOTS, { recursive: true });
    hub = await startHub('all', {
      DATABASE_URL: t.url, WAHUB_DATA_DIR: dataDir, PORT: '0', LOG_LEVEL: 'silent',
      // Each status stays on screen long enough to be seen: sent, delivered, read 0.4 s apart.
      SANDBOX_STATUS_DELAYS_MS: '400,800,1200', OUTBOX_POLL_INTERVAL_MS: '50', EVENT_RELAY_POLL_INTERVAL_MS: '50',
    });
    owner = await openBrowser();
  });
  afterAll(async () => {
    await agent?.close();
    await owner?.close();
    await hub?.close();
    await t?.drop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('logs in and lists the demo conversations, newest first, with previews and unread counts', async () => {
    const { page } = owner;
    await logIn(page, hub.url!, hub.demo!.operator_email, hub.demo!.operator_password);
    const items = page.locator('a.thread-item');
    await expect.poll(() => items.count()).toBe(DEMO_CUSTOMERS.length);
    await expect.poll(() => items.first().locator('.thread-name').textContent()).toBe('Lena Vogel');
    await expect.poll(() => page.locator('a.thread-item', { hasText: 'Maya Chen' }).locator('.thread-preview').textContent()).toContain('order #1042');
    expect(await page.locator('a.thread-item', { hasText: 'Maya Chen' }).locator('.badge').textContent()).toBe('1');
    await page.getByLabel('Search by name or number').fill('oliver');
    await expect.poll(() => items.count()).toBe(1);
    await page.getByLabel('Search by name or number').fill('');
    await expect.poll(() => items.count()).toBe(DEMO_CUSTOMERS.length);
  });

  it('shows a username-only conversation with @username, and finds it by @username', async () => {
    const { page } = owner;
    const items = page.locator('a.thread-item');
    await page.getByLabel('Search by name or number').fill('@ana.costa');
    await expect.poll(() => items.count()).toBe(1);
    await items.first().click();
    await page.locator('article.msg-inbound', { hasText: 'Do you have the blue one in size M?' }).waitFor();
    await expect.poll(() => page.locator('.conv-title p').textContent()).toContain('@ana.costa');
    expect(await page.locator('.conv-title h1').textContent()).toBe('Ana Costa');
    await page.getByLabel('Search by name or number').fill('');
    await expect.poll(() => items.count()).toBe(DEMO_CUSTOMERS.length);
  });

  it('shows a message at one time in the list and the conversation (the customer\'s), with the received time on hover', async () => {
    const { page } = owner;
    const row = page.locator('a.thread-item', { hasText: 'Lena Vogel' });
    const listed = await row.locator('time').getAttribute('datetime');
    await row.click();
    const time = page.locator('article.msg-inbound', { hasText: 'Do you ship to Germany?' }).locator('time');
    await time.waitFor();
    expect(await time.getAttribute('datetime')).toBe(listed);
    // The demo customers wrote minutes before the hub received their messages.
    expect(await time.getAttribute('title')).toMatch(/^Sent .+ · received .+$/);
  });

  it('sends a text that shows at once as queued and then moves sent → delivered → read', async () => {
    const { page } = owner;
    await page.locator('a.thread-item', { hasText: 'Maya Chen' }).click();
    mayaThreadId = page.url().split('/threads/')[1]!;
    await page.locator('article.msg-inbound', { hasText: 'Hi! Is my order #1042 on its way?' }).waitFor();
    await expect.poll(() => page.getByRole('status').filter({ hasText: 'Customer service window open' }).count()).toBe(1);
    const text = 'Hello Maya, it left our warehouse this morning.';
    await recordStatuses(page, text);
    await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
    await page.getByRole('textbox', { name: 'Message', exact: true }).press('Enter');
    const bubble = page.locator('article.msg-outbound', { hasText: text });
    await bubble.waitFor();
    await page.locator('article.msg-outbound[data-status="read"]', { hasText: text }).waitFor({ timeout: 15_000 });
    const statuses = await page.evaluate(() => (window as unknown as { __statuses: string[] }).__statuses);
    expect(statuses[0]).toBe('queued');
    expect(statuses.filter((s) => s !== 'sending')).toEqual(['queued', 'sent', 'delivered', 'read']);
    expect(await bubble.locator('.status').getAttribute('aria-label')).toBe('Read');
  });

  it('shows an inbound message live, without a reload, and a new conversation in the list', async () => {
    const { page } = owner;
    await simulator(hub, 'inbound', { phone_number_id: hub.demo!.phone_number_id, from: '14155550123', profile_name: 'Maya Chen', text: 'Great, thank you!' });
    await page.locator('article.msg-inbound', { hasText: 'Great, thank you!' }).waitFor({ timeout: 10_000 });
    // Other message types render sensibly: a photo with caption and download link, a location.
    await simulator(hub, 'inbound', {
      phone_number_id: hub.demo!.phone_number_id, from: '14155550123', profile_name: 'Maya Chen',
      message: { type: 'image', image: { id: '5550001', mime_type: 'image/jpeg', sha256: 'x', caption: 'This is the parcel I got' } },
    });
    await simulator(hub, 'inbound', {
      phone_number_id: hub.demo!.phone_number_id, from: '14155550123', profile_name: 'Maya Chen',
      message: { type: 'location', location: { latitude: 37.7749, longitude: -122.4194, name: 'Home', address: '1 Market St, San Francisco' } },
    });
    const photo = page.locator('article.msg-type-image', { hasText: 'This is the parcel I got' });
    await photo.waitFor({ timeout: 10_000 });
    const download = await photo.getByRole('link', { name: 'Download Photo' }).getAttribute('href');
    expect(download).toMatch(/^\/v1\/messages\/[0-9a-f-]{36}\/media$/);
    const media = await page.evaluate(async (href) => (await fetch(href)).text(), download!);
    expect(media).toBe('simulated WhatsApp media 5550001\n');
    await page.locator('article.msg-type-location', { hasText: '1 Market St, San Francisco' }).waitFor({ timeout: 10_000 });
    await simulator(hub, 'inbound', {
      phone_number_id: hub.demo!.phone_number_id, from: '14155550123', profile_name: 'Maya Chen',
      message: { type: 'unsupported', unsupported: { type: 'poll' }, errors: [{ code: 131051, title: 'Message type unknown' }] },
    });
    await page.locator('article.msg-type-unsupported', { hasText: 'Unsupported message (poll)' }).waitFor({ timeout: 10_000 });
    await simulator(hub, 'inbound', { phone_number_id: hub.demo!.phone_number_id, from: '33612345678', profile_name: 'Camille Martin', text: 'Bonjour, do you have this in blue?' });
    await page.locator('a.thread-item', { hasText: 'Camille Martin' }).locator('.badge').waitFor({ timeout: 10_000 });
  });

  it('shows Meta\'s reason when the simulator fails a send', async () => {
    const { page } = owner;
    await simulator(hub, 'failures', { phone_number_id: hub.demo!.phone_number_id, to: '+14155550123', code: 131026, mode: 'webhook' });
    const text = 'Here is your tracking link.';
    await page.getByRole('textbox', { name: 'Message', exact: true }).fill(text);
    await page.getByRole('button', { name: 'Send', exact: true }).click();
    const failed = page.locator('article.msg-outbound[data-status="failed"]', { hasText: text });
    await failed.waitFor({ timeout: 15_000 });
    expect(await failed.locator('.msg-error').textContent()).toBe('Not delivered (131026): Message undeliverable');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'conversation.png') });
  });

  it('saves the draft as a quick reply and inserts it again from the menu', async () => {
    const { page } = owner;
    const message = page.getByRole('textbox', { name: 'Message', exact: true });
    await message.fill('We ship within 24 hours, tracked.');
    await page.getByRole('button', { name: 'Quick replies' }).click();
    await page.getByPlaceholder('Title').fill('Shipping time');
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const item = page.getByRole('group', { name: 'Quick replies' }).getByRole('button', { name: /Shipping time/ });
    await item.waitFor();
    await message.fill('');
    await item.click();
    expect(await message.inputValue()).toBe('We ship within 24 hours, tracked.');
    await message.fill('');
  });

  it('saves screenshots of the inbox list, the numbers page after Connect WhatsApp, and the ops page', async () => {
    const { page } = owner;
    await page.getByRole('link', { name: 'Inbox' }).click();
    await page.getByRole('heading', { name: 'Select a conversation' }).waitFor();
    await page.screenshot({ path: path.join(SCREENSHOTS, 'inbox.png') });

    await page.getByRole('link', { name: 'Numbers' }).click();
    await page.locator('tr[data-phone-number-id]').first().waitFor();
    expect(await page.locator('tr[data-phone-number-id]').count()).toBe(1);
    await page.getByRole('button', { name: 'Connect WhatsApp' }).click();
    await page.getByRole('status').filter({ hasText: 'Connected' }).waitFor({ timeout: 15_000 });
    await expect.poll(() => page.locator('tr[data-phone-number-id]').count()).toBe(2);
    expect(await page.locator('tr[data-phone-number-id]').last().locator('.pill').textContent()).toBe('Active');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'numbers.png') });

    await page.getByRole('link', { name: 'Ops' }).click();
    await expect.poll(() => page.locator('[data-figure="activeAccounts"] .card-value').textContent()).toBe('2');
    await page.screenshot({ path: path.join(SCREENSHOTS, 'ops.png') });
  });

  it('fits a phone-width screen: one pane at a time', async () => {
    const { page } = owner;
    await page.setViewportSize({ width: 390, height: 844 });
    await page.goto(`${hub.url}/threads/${mayaThreadId}`);
    await page.locator('article.msg-inbound', { hasText: 'Great, thank you!' }).waitFor();
    expect(await page.locator('.thread-pane').isVisible()).toBe(false);
    await page.screenshot({ path: path.join(SCREENSHOTS, 'conversation-phone.png') });
    await page.getByRole('button', { name: 'Back to conversations' }).click();
    await page.locator('a.thread-item').first().waitFor();
    expect(await page.locator('.conversation').isVisible()).toBe(false);
    await page.setViewportSize({ width: 1280, height: 800 });
  });

  it('disables sending for an agent who is neither owner nor co-writer, and the API refuses too', async () => {
    // The owner assigns Maya's conversation to themself through the Actions menu.
    const { page } = owner;
    await page.goto(`${hub.url}/threads/${mayaThreadId}`);
    await page.getByRole('button', { name: 'Actions' }).click();
    await page.getByLabel('Assign to').selectOption(hub.demo!.operator_id);
    await expect.poll(() => page.locator('.owner-pill').textContent()).toBe('Owner: you');

    const { operatorId } = await createTestOperator(t.db, hub.demo!.org_id, 'agent');
    await setOperatorPassword(t.db, hub.demo!.org_id, operatorId, AGENT_PASSWORD);
    const email = (await t.db.selectFrom('operators').select('email').where('id', '=', operatorId).executeTakeFirstOrThrow()).email;
    agent = await openBrowser();
    await logIn(agent.page, hub.url!, email, AGENT_PASSWORD);
    await agent.page.goto(`${hub.url}/threads/${mayaThreadId}`);
    await agent.page.getByText('neither the owner nor a co-writer').waitFor();
    expect(await agent.page.getByRole('textbox', { name: 'Message', exact: true }).isDisabled()).toBe(true);
    expect(await agent.page.getByRole('button', { name: 'Send', exact: true }).isDisabled()).toBe(true);

    // The same session, straight at the API: 403 not_allowed_to_send.
    const cookies = await agent.context.cookies(hub.url!);
    const cookie = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
    const csrf = cookies.find((c) => c.name === 'wahub_csrf')!.value;
    const refused = await fetch(`${hub.url}/v1/messages`, {
      method: 'POST', headers: { cookie, 'x-csrf-token': csrf, 'content-type': 'application/json' },
      body: JSON.stringify({ thread_id: mayaThreadId, type: 'text', text: { body: 'sneaky' } }),
    });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as any).error.code).toBe('not_allowed_to_send');
  });

  it('loads older conversations as the list scrolls (keyset pages of 30)', async () => {
    const { page } = owner;
    for (let i = 0; i < 30; i++) {
      await simulator(hub, 'inbound', { phone_number_id: hub.demo!.phone_number_id, from: `1415555${String(1000 + i)}`, profile_name: `Customer ${i}`, text: `Question ${i}` });
    }
    await page.goto(`${hub.url}/`);
    const items = page.locator('a.thread-item');
    await expect.poll(() => items.count()).toBe(30);
    await items.last().scrollIntoViewIfNeeded();
    // 30 new customers + Ana, Maya, Oliver, Lena, Camille (the Connect WhatsApp number has no threads).
    await expect.poll(() => items.count()).toBe(35);
    await expect.poll(() => page.locator('a.thread-item', { hasText: 'Oliver Smith' }).count()).toBe(1);
  });

  it('logged no console errors in any page', () => {
    expect(owner.errors).toEqual([]);
    expect(agent?.errors ?? []).toEqual([]);
  });
});
