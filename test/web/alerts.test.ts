import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { start as startAlerts, type AlertsHandle } from '../../src/services/alerts/index.js';
import { packageRoot } from '../../src/services/api/options.js';
import { start as startWorker, type WorkerHandle } from '../../src/services/worker/index.js';
import { createLogger } from '../../src/util/log.js';
import { execFileSync } from '../support/run-sync.js';
import { tempDir } from '../support/tmp.js';
import { publishSensor, silent, startApi, VIEWER_TOKEN } from '../services/api/helpers.js';

/**
 * The Alerts, Journal and Services panels as a grower sees them, against a
 * real Redis, the real alerts service, a real worker and a SQLite store.
 */
const ROOT = packageRoot();
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const OPERATOR_TOKEN = 'operator-token-for-the-alerts-panel-1';
const ALERT = 'temp-high:dry_bulb_f';

let t: Awaited<ReturnType<typeof startApi>>;
let browser: Browser;
let alerts: AlertsHandle | undefined;
let worker: WorkerHandle | undefined;

function ensureBuilt(): void {
  if (fs.existsSync(path.join(ROOT, 'web', 'dist', 'index.html'))) return;
  execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts'], { cwd: ROOT, stdio: 'ignore' });
}

beforeAll(async () => {
  ensureBuilt();
  const dir = tempDir();
  const url = `sqlite:${path.join(dir, 'canopy.db')}`;
  t = await startApi({
    databaseUrl: url,
    staleAfterMs: 60_000,
    tokens: `viewer@test-viewer:${VIEWER_TOKEN},operator@grower:${OPERATOR_TOKEN}`,
  });
  const rules = path.join(dir, 'alerts.yaml');
  fs.writeFileSync(
    rules,
    [
      'stale_after_s: 0',
      'reminder_interval_s: 3600',
      'watch_services: [worker]',
      'rules:',
      '  - { id: temp-high, sensor: dry_bulb_f, above: 30, severity: warning }',
    ].join('\n'),
  );
  alerts = await startAlerts({
    configPath: rules,
    tickMs: 200,
    presencePollMs: 200,
    runtime: { connection: { url: t.redis.url }, log: createLogger('alerts', 'silent') },
  });
  worker = await startWorker({
    redisUrl: t.redis.url,
    databaseUrl: url,
    consumer: 'alerts-test-worker',
    blockMs: 100,
    logger: silent,
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  await alerts?.stop();
});

async function openPage(
  viewport: { width: number; height: number },
  token: string,
  dark = false,
): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport, colorScheme: dark ? 'dark' : 'light' });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.addInitScript((tok) => sessionStorage.setItem('canopy.token', tok), token);
  await page.goto(`${t.api.url}/`, { waitUntil: 'load' });
  await page.waitForSelector('#alerts .alerts-count', { timeout: 30_000 });
  return { page, errors };
}

const alertRow = (page: Page, list: 'active' | 'acked') =>
  page.locator(`#alerts ${list === 'active' ? '.alerts-active' : '.alerts-acked'} li[data-id="${ALERT}"]`);

describe('Alerts, journal and services panels in headless Chromium', () => {
  it('a reading out of range shows as an alert an operator acknowledges; it moves to acknowledged', async () => {
    const { page, errors } = await openPage({ width: 1280, height: 900 }, OPERATOR_TOKEN);
    await expect.poll(() => page.locator('#alerts .alerts-empty').isVisible(), { timeout: 30_000 }).toBe(true);
    expect(await page.textContent('#alerts .alerts-empty')).toContain('No active alerts');
    expect(await page.getAttribute('#alerts .alerts-count', 'data-level')).toBe('ok');

    // the front dry bulb leaves the rule's range: the alerts service fires, /ws brings it to the page
    await expect
      .poll(
        async () => {
          await publishSensor(t.client, 'Flower Room', 'front', { dry_bulb_f: 34.5 });
          return alertRow(page, 'active').count();
        },
        { timeout: 30_000, interval: 500 },
      )
      .toBe(1);
    const row = alertRow(page, 'active');
    expect(await row.locator('.alert-room').textContent()).toBe('Flower Room · front');
    expect(await row.locator('.alert-what').textContent()).toMatch(/34\.5 °C — above 30 °C$/);
    expect(await row.locator('.alert-sev').textContent()).toBe('Warning');
    expect(await row.locator('.alert-since').textContent()).toMatch(/^since \d/);
    expect(await page.locator('#alerts .alerts-empty').isVisible()).toBe(false);
    expect(await page.textContent('#alerts .alerts-count')).toBe('1 active');
    expect(await page.getAttribute('#alerts .alerts-count', 'data-level')).toBe('warning');

    // a viewer sees it too, without the button; the phone layout keeps the button large
    const viewer = await openPage({ width: 390, height: 844 }, VIEWER_TOKEN);
    await viewer.page.waitForSelector(`#alerts .alerts-active li[data-id="${ALERT}"]`, { timeout: 30_000 });
    expect(await alertRow(viewer.page, 'active').locator('button').count()).toBe(0);
    expect(await viewer.page.locator('#alerts .alerts-hint').isVisible()).toBe(true);
    const phone = await openPage({ width: 390, height: 844 }, OPERATOR_TOKEN, true);
    const phoneBtn = alertRow(phone.page, 'active').locator('button.alert-ack');
    await phoneBtn.waitFor({ timeout: 30_000 });
    const box = await phoneBtn.boundingBox();
    expect(box?.height).toBeGreaterThanOrEqual(44);
    expect(box?.width).toBeGreaterThanOrEqual(44);
    const overflow = await phone.page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await phone.page.locator('#alerts').screenshot({ path: path.join(ARTIFACTS, 'alerts-phone-dark.png') });
    await page.locator('#alerts').screenshot({ path: path.join(ARTIFACTS, 'alerts-desktop-active.png') });

    // the operator acknowledges: it leaves the active list for "Acknowledged", on every open page
    await row.locator('button.alert-ack').click();
    await alertRow(page, 'acked').waitFor({ timeout: 30_000 });
    expect(await alertRow(page, 'active').count()).toBe(0);
    expect(await alertRow(page, 'acked').locator('.alert-acked').textContent()).toMatch(/^Acknowledged by grower/);
    expect(await page.textContent('#alerts .alerts-empty')).toContain('No new alerts — 1 acknowledged, still open');
    expect(await page.textContent('#alerts .alerts-count')).toBe('1 acknowledged');
    await alertRow(viewer.page, 'acked').waitFor({ timeout: 30_000 });
    await alertRow(phone.page, 'acked').waitFor({ timeout: 30_000 });
    // the history says what happened, newest first
    await page.locator('#alerts .alerts-history summary').click();
    await expect
      .poll(() =>
        page.locator('#alerts .alerts-history li[data-type]').evaluateAll((l) => l.map((x) => x.dataset.type)),
      )
      .toEqual(['acknowledged', 'fired']);
    await page.locator('#alerts').screenshot({ path: path.join(ARTIFACTS, 'alerts-desktop-acknowledged.png') });
    await phone.page
      .locator('#alerts')
      .screenshot({ path: path.join(ARTIFACTS, 'alerts-phone-acknowledged-dark.png') });
    expect([...errors, ...viewer.errors, ...phone.errors]).toEqual([]);
    await Promise.all([page.close(), viewer.page.close(), phone.page.close()]);
  });

  it('an operator adds a journal note to a room and it shows in the list with its time', async () => {
    const { page, errors } = await openPage({ width: 1280, height: 900 }, OPERATOR_TOKEN);
    await page.waitForSelector('#journal .journal-form:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('#journal .journal-list')).toContain('No notes yet.');
    await page.selectOption('#journal .journal-room', 'Flower Room');
    await page.fill('#journal-text', 'Defoliated the lower third');
    await page.click('#journal .journal-add');
    const entry = page.locator('#journal .journal-entry').first();
    await entry.waitFor({ timeout: 30_000 });
    expect(await entry.locator('.journal-note').textContent()).toBe('Defoliated the lower third');
    expect(await entry.locator('.journal-by').textContent()).toBe('grower');
    expect(await entry.locator('.journal-when').textContent()).toMatch(/\d{1,2}:\d{2}/);
    expect(await page.inputValue('#journal-text')).toBe('');
    await page.locator('#journal').screenshot({ path: path.join(ARTIFACTS, 'journal-desktop.png') });
    // a viewer reads it but gets no form
    const viewer = await openPage({ width: 390, height: 844 }, VIEWER_TOKEN);
    await viewer.page.locator('#journal .journal-entry').first().waitFor({ timeout: 30_000 });
    expect(await viewer.page.locator('#journal .journal-form').isVisible()).toBe(false);
    const phone = await openPage({ width: 390, height: 844 }, OPERATOR_TOKEN);
    await phone.page.locator('#journal .journal-entry').first().waitFor({ timeout: 30_000 });
    const add = await phone.page.locator('#journal .journal-add').boundingBox();
    expect(add?.height).toBeGreaterThanOrEqual(44);
    await phone.page.locator('#journal').screenshot({ path: path.join(ARTIFACTS, 'journal-phone.png') });
    expect([...errors, ...viewer.errors, ...phone.errors]).toEqual([]);
    await Promise.all([page.close(), viewer.page.close(), phone.page.close()]);
  });

  it('a stopped worker shows as not running in the services panel, with its counters while it ran', async () => {
    const { page, errors } = await openPage({ width: 1280, height: 900 }, VIEWER_TOKEN);
    const row = page.locator('#services li[data-service="worker"]');
    await page.waitForSelector('#services li[data-service="worker"][data-state="up"]', { timeout: 30_000 });
    await expect.poll(() => row.locator('.errors').textContent(), { timeout: 30_000 }).toBe('no errors');
    await expect.poll(() => row.locator('.backlog').count(), { timeout: 30_000 }).toBe(1);
    expect(await row.locator('.backlog').textContent()).toMatch(/^lag \d+ · \d+ unacked$/);
    await page.locator('#services').screenshot({ path: path.join(ARTIFACTS, 'services-worker-up-desktop.png') });
    await worker?.stop();
    worker = undefined;
    await page.waitForSelector('#services li[data-service="worker"][data-state="missing"]', { timeout: 30_000 });
    expect(await row.locator('.state').textContent()).toBe('not running');
    expect(await page.textContent('#services .services-overall')).toMatch(/not running/);
    expect(await page.getAttribute('#services .services-overall', 'data-status')).toBe('degraded');
    await page.locator('#services').screenshot({ path: path.join(ARTIFACTS, 'services-worker-down-desktop.png') });
    // the alerts service noticed too: the service-down alert shows in the alerts panel
    await page.waitForSelector('#alerts .alerts-active li[data-id="service-down:worker"]', { timeout: 30_000 });
    expect(await page.textContent('#alerts li[data-id="service-down:worker"] .alert-what')).toBe(
      'worker service stopped',
    );
    expect(await page.textContent('#alerts li[data-id="service-down:worker"] .alert-room')).toBe('System');
    const phone = await openPage({ width: 390, height: 844 }, VIEWER_TOKEN);
    await phone.page.waitForSelector('#services li[data-service="worker"][data-state="missing"]', { timeout: 30_000 });
    await phone.page.locator('#services').screenshot({ path: path.join(ARTIFACTS, 'services-worker-down-phone.png') });
    await phone.page.screenshot({ path: path.join(ARTIFACTS, 'alerts-page-phone.png'), fullPage: true });
    await page.screenshot({ path: path.join(ARTIFACTS, 'alerts-page-desktop.png'), fullPage: true });
    expect([...errors, ...phone.errors]).toEqual([]);
    await Promise.all([page.close(), phone.page.close()]);
  });
});
