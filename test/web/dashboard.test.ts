import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from '../support/run-sync.js';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/services/api/options.js';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../support/tmp.js';
import { start as startWorker, type WorkerHandle } from '../../src/services/worker/index.js';
import { publishSensor, silent, startApi, VIEWER_TOKEN } from '../services/api/helpers.js';

const ROOT = packageRoot();
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

type Ctx = Awaited<ReturnType<typeof startApi>>;
let t: Ctx;
let browser: Browser;
let worker: WorkerHandle | undefined;

/** The dashboard is built by `npm run build`; build it here when a test runs alone. */
function ensureBuilt(): void {
  if (fs.existsSync(path.join(ROOT, 'web', 'dist', 'index.html'))) return;
  execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts'], { cwd: ROOT, stdio: 'ignore' });
}

beforeAll(async () => {
  ensureBuilt();
  // two hours of history for the chart: every 10 s for the dry bulbs and VPDs
  const url = `sqlite:${path.join(tempDir(), 'canopy.db')}`;
  const store = await openStore(url);
  const now = Date.now();
  const readings = [];
  for (const [sensor, location, cluster, base] of [
    ['dry_bulb_f', 'Flower Room', 'front', 24],
    ['dry_bulb_b', 'Flower Room', 'back', 23],
    ['dry_bulb_v', 'Veg Room', 'main', 22],
    ['vpd_f', 'Flower Room', 'front', 1.1],
  ] as const) {
    for (let i = 0; i < 720; i++) {
      const time = now - 7200_000 + i * 10_000;
      readings.push({ streamId: `${time}-${sensor}`, time, sensor, value: base + Math.sin(i / 40), location, cluster });
    }
  }
  await store.writeBatch({ messages: [], readings });
  await store.close();
  // a generous stale limit: opening Chromium on a loaded CI machine can take longer than the default 5 s
  t = await startApi({ databaseUrl: url, staleAfterMs: 30_000 });
  worker = await startWorker({
    redisUrl: t.redis.url,
    databaseUrl: url,
    consumer: 'dashboard-test-worker',
    blockMs: 100,
    logger: silent,
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await worker?.stop();
  await browser?.close();
});

/** A page that records console errors and every request it makes. */
async function openDashboard(viewport: { width: number; height: number }) {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`${t.api.url}/`, { waitUntil: 'load' });
  await page.waitForSelector('[data-sensor="dry_bulb_f"]');
  await page.waitForSelector('#conn[data-state="open"]');
  return { page, errors, requests };
}

/** What the worker does with a reading: the live keys first (the room cards read them), then the update. */
async function asWorker(
  client: Ctx['client'],
  location: string,
  cluster: string,
  data: Record<string, number>,
): Promise<void> {
  const now = String(Date.now());
  for (const [name, v] of Object.entries(data)) {
    await client.set(`sensor:${name}`, String(v), { EX: 120 });
    await client.set(`sensor:${name}:ts`, now, { EX: 120 });
  }
  await publishSensor(client, location, cluster, data);
}

const valueOf = (page: Page, sensor: string) => page.textContent(`[data-sensor="${sensor}"] .value`);

describe('dashboard in headless Chromium', () => {
  it('loads without console errors or external requests and shows live values that change', async () => {
    const now = Date.now();
    await t.client.set('sensor:rh_f', '64.2', { EX: 120 });
    await t.client.set('sensor:rh_f:ts', String(now), { EX: 120 });
    await t.client.set('sensor:co2_f', '900', { EX: 120 });
    await t.client.set('sensor:co2_f:ts', String(now - 60_000), { EX: 120 });
    const { page, errors, requests } = await openDashboard({ width: 1280, height: 900 });
    // initial values come from /api/sensors/live; an old one is marked stale
    expect(await valueOf(page, 'rh_f')).toBe('64.2');
    expect(await page.getAttribute('[data-sensor="co2_f"]', 'class')).toMatch(/\bstale\b/);
    expect(await page.getAttribute('[data-sensor="rh_f"]', 'class')).not.toMatch(/\bstale\b/);
    expect(await page.textContent('[data-sensor="co2_f"] .why')).toMatch(/stale/);
    // never-seen sensors show a dash and are stale
    expect(await valueOf(page, 'pressure_v')).toBe('—');
    // live updates over /ws change what is shown
    await asWorker(t.client, 'Flower Room', 'front', { dry_bulb_f: 24.5, rh_f: 65.0 });
    await page.waitForFunction(
      () => document.querySelector('[data-sensor="dry_bulb_f"] .value')?.textContent === '24.5',
    );
    await asWorker(t.client, 'Flower Room', 'front', { dry_bulb_f: 25.1 });
    await page.waitForFunction(
      () => document.querySelector('[data-sensor="dry_bulb_f"] .value')?.textContent === '25.1',
    );
    expect(await page.getAttribute('[data-sensor="dry_bulb_f"]', 'class')).not.toMatch(/\bstale\b/);
    // frames injected into can:raw reach the page through the worker, Redis and /ws
    await t.client.xAdd('can:raw', '*', { id: '0x301', data: '34 08 08 07 00', ts: String(Date.now()), dlc: '5' });
    await page.waitForFunction(
      () => document.querySelector('[data-sensor="dry_bulb_v"] .value')?.textContent === '21.0',
    );
    await page.waitForFunction(() =>
      /^\d/.test(document.querySelector('[data-sensor="rh_v"] .value')?.textContent ?? ''),
    );
    await t.client.xAdd('can:raw', '*', { id: '0x301', data: 'CA 08 08 07 00', ts: String(Date.now()), dlc: '5' });
    await page.waitForFunction(
      () => document.querySelector('[data-sensor="dry_bulb_v"] .value')?.textContent === '22.5',
    );
    // the lab card shows its temperatures
    await asWorker(t.client, 'Lab', 'main', { lab_temp: 21.3, water_temp: 18.9 });
    await page.waitForFunction(
      () => document.querySelector('[data-sensor="water_temp"] .value')?.textContent === '18.9',
    );
    // the lights of a room from their device:update, with until when from the schedule
    await t.client.publish(
      'device:update',
      JSON.stringify({
        location: 'Flower Room',
        cluster: 'front',
        device: 'lights_f',
        state: 1,
        mode: 'auto',
        timestamp: new Date().toISOString(),
      }),
    );
    await page.waitForFunction(
      () =>
        document.querySelector('[data-room="Flower Room/front"] [data-quantity="lights"] .value')?.textContent === 'On',
    );
    expect(await page.textContent('[data-room="Flower Room/front"] [data-quantity="lights"] .why')).toBe('until 18:00');
    // the history chart: three dry bulbs over the last hour (less than a day of data), with data
    await page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.points ?? 0) > 0);
    expect(await page.locator('#chart canvas').count()).toBe(1);
    expect(await page.textContent('.u-legend')).toMatch(
      /Temperature · Flower Room front[\s\S]*Temperature · Flower Room back[\s\S]*Temperature · Veg Room/,
    );
    // 1 h range, VPD alone with its min–max envelope
    await page.click('[data-range="1 h"]');
    // the sensor picker is folded away per room (the phone page stays short): open every room
    await page.$$eval('#sensor-list details', (rooms) => rooms.forEach((d) => ((d as HTMLDetailsElement).open = true)));
    await page.uncheck('#sensor-list input[value="dry_bulb_b"]');
    await page.uncheck('#sensor-list input[value="dry_bulb_v"]');
    await page.uncheck('#sensor-list input[value="dry_bulb_f"]');
    await page.check('#sensor-list input[value="vpd_f"]');
    await page.waitForFunction(() => /Air VPD max/.test(document.querySelector('.u-legend')?.textContent ?? ''));
    const points = Number(await page.getAttribute('#chart', 'data-points'));
    expect(points).toBeGreaterThan(100);
    expect(points).toBeLessThanOrEqual(1500);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-desktop.png'), fullPage: true });
    const origin = new URL(t.api.url).origin;
    const external = requests.filter((u) => !u.startsWith(origin) && !u.startsWith('data:'));
    expect(external).toEqual([]);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('fits a phone screen', async () => {
    const { page, errors } = await openDashboard({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    const widths = await page.$$eval('.card', (cards) => cards.map((c) => c.getBoundingClientRect().width));
    expect(widths.length).toBeGreaterThan(0);
    for (const w of widths) expect(w).toBeLessThanOrEqual(390);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-phone.png'), fullPage: true });
    await page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.points ?? 0) > 0);
    expect(errors).toEqual([]);
    await page.close();
  });
});

describe('dashboard against an API that needs a token (bound beyond loopback)', () => {
  it('sends the token in the first /ws message, reads with it, and shows the simulated-relays banner', async () => {
    const own = await startApi({ readAccess: 'viewer', databaseUrl: `sqlite:${path.join(tempDir(), 'tok.db')}` });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const errors: string[] = [];
    const wsUrls: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    page.on('websocket', (ws) => wsUrls.push(ws.url()));
    // without a token the page says what to do
    await page.goto(`${own.api.url}/`, { waitUntil: 'load' });
    await page.waitForFunction(() => /could not start/.test(document.getElementById('rooms')?.textContent ?? ''));
    // the token entered where the page asks for it: the page starts again with it
    await page.fill('#start-token', VIEWER_TOKEN);
    await page.click('.start-token button');
    await page.waitForSelector('[data-sensor="dry_bulb_f"]');
    await page.waitForSelector('#conn[data-state="open"]');
    expect(await page.isHidden('#sim-banner')).toBe(true);
    await asWorker(own.client, 'Flower Room', 'front', { dry_bulb_f: 26.5 });
    await page.waitForFunction(
      () => document.querySelector('[data-sensor="dry_bulb_f"] .value')?.textContent === '26.5',
    );
    await own.client.publish(
      'device:update',
      JSON.stringify({
        location: 'Flower Room',
        cluster: 'front',
        device: 'heater_1',
        state: 1,
        mode: 'manual',
        timestamp: new Date().toISOString(),
        simulated: true,
        reason: 'no I2C bus',
      }),
    );
    await page.waitForSelector('#sim-banner:not([hidden])');
    expect(await page.textContent('#sim-banner')).toMatch(/Relays are simulated — nothing physical switches/);
    expect(await page.textContent('#sim-banner')).toMatch(/\(heater_1\)/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'dashboard-simulated-banner.png') });
    // the token never went into a URL
    expect(wsUrls.length).toBeGreaterThan(0);
    for (const u of wsUrls) expect(u).not.toContain(VIEWER_TOKEN);
    expect(own.api.ctx.hub.stats.rejected.auth_failed ?? 0).toBe(0);
    expect(errors).toEqual([]);
    await page.close();
  });
});
