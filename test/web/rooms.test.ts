import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localDate } from '../../src/cea/cycle.js';
import { packageRoot } from '../../src/services/api/options.js';
import { execFileSync } from '../support/run-sync.js';
import { tempDir } from '../support/tmp.js';
import { publishSensor, startApi, VIEWER_TOKEN } from '../services/api/helpers.js';
import { present } from '../support/narrow.js';

const ROOT = packageRoot();
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const OPERATOR = 'operator-token-for-rooms-web-0123456789';
const FRONT = '[data-room="Flower Room/front"]';

let t: Awaited<ReturnType<typeof startApi>>;
let browser: Browser;

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'web', 'dist', 'index.html')))
    execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts'], { cwd: ROOT, stdio: 'ignore' });
  const dir = tempDir();
  const devices = path.join(dir, 'devices.yaml');
  fs.writeFileSync(
    devices,
    fs
      .readFileSync(path.join(ROOT, 'config', 'devices.yaml'), 'utf8')
      .replace(/^energy:.*\n/m, 'energy: { pricePerKwh: 0.3, currency: EUR }\n'),
  );
  t = await startApi({
    databaseUrl: `sqlite:${path.join(dir, 'canopy.db')}`,
    devicesFile: devices,
    staleAfterMs: 60_000,
    tokens: `viewer@test-viewer:${VIEWER_TOKEN},operator@olga:${OPERATOR}`,
  });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  // every room has fresh readings inside its bands
  await setLive({
    dry_bulb_f: 25,
    rh_f: 55,
    co2_f: 1150,
    vpd_f: 1.4,
    dry_bulb_b: 24.6,
    rh_b: 56,
    co2_b: 1180,
    dry_bulb_v: 24,
    rh_v: 62,
    co2_v: 1000,
    lab_temp: 21.3,
    water_temp: 19.8,
  });
  const today = localDate(Date.now(), 'Europe/Berlin');
  await t.client.hSet('automation:state', '_ontime', JSON.stringify({ lights_f: { [today]: 6 * 3_600_000 } }));
}, 120_000);

afterAll(async () => {
  await browser?.close();
});

async function setLive(values: Record<string, number>, ageMs = 0): Promise<void> {
  const ts = String(Date.now() - ageMs);
  for (const [name, v] of Object.entries(values)) {
    await t.client.set(`sensor:${name}`, String(v), { EX: 900 });
    await t.client.set(`sensor:${name}:ts`, ts, { EX: 900 });
  }
}

async function open(viewport: { width: number; height: number }, opts: { token?: string; hash?: string } = {}) {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  if (opts.token) await page.addInitScript((tok) => sessionStorage.setItem('canopy.token', tok), opts.token);
  await page.goto(`${t.api.url}/${opts.hash ?? ''}`, { waitUntil: 'load' });
  await page.waitForSelector('#conn[data-state="open"]', { timeout: 30_000, state: 'attached' });
  return { page, errors };
}

const chip = (page: Page, room = FRONT) => page.locator(`${room} .room-head .chip`);
const tile = (page: Page, q: string, room = FRONT) => page.locator(`${room} .key[data-quantity="${q}"]`);

describe('room cards in headless Chromium', () => {
  it('a room turns to alarm when a reading leaves its band, and back', async () => {
    await setLive({ dry_bulb_f: 25 });
    const { page, errors } = await open({ width: 1280, height: 900 });
    await expect.poll(() => chip(page).textContent(), { timeout: 20_000 }).toBe('OK');
    expect(await chip(page).getAttribute('data-status')).toBe('ok');
    // the value large, its target and band beside it
    expect(await tile(page, 'temperature').locator('.value').textContent()).toBe('25.0');
    expect(await tile(page, 'temperature').locator('.band').textContent()).toBe('target 25.0 · 23.0–27.0');
    expect(await tile(page, 'vpd_leaf').locator('dt').textContent()).toBe('Leaf VPD');
    await page.screenshot({ path: path.join(ARTIFACTS, 'rooms-desktop-ok.png') });

    await setLive({ dry_bulb_f: 30.4 });
    await publishSensor(t.client, 'Flower Room', 'front', { dry_bulb_f: 30.4 });
    await expect.poll(() => chip(page).textContent(), { timeout: 20_000 }).toBe('Alarm');
    expect(await tile(page, 'temperature').getAttribute('data-status')).toBe('alarm');
    expect(await tile(page, 'temperature').locator('.why').textContent()).toBe('above alarm limit 29.0 °C');
    expect(await page.locator('#summary .chip[data-status="alarm"]').textContent()).toBe('1 Alarm');
    // the colour is not the only sign: the word is there, and the tile is red
    const colour = await tile(page, 'temperature')
      .locator('.value')
      .evaluate((e) => getComputedStyle(e).color);
    expect(colour).toBe('rgb(179, 38, 30)');
    await page.screenshot({ path: path.join(ARTIFACTS, 'rooms-desktop-alarm.png') });

    await setLive({ dry_bulb_f: 25.2 });
    await publishSensor(t.client, 'Flower Room', 'front', { dry_bulb_f: 25.2 });
    await expect.poll(() => chip(page).textContent(), { timeout: 20_000 }).toBe('OK');
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a stale sensor shows as stale and the room needs attention', async () => {
    await setLive({ co2_b: 1180 }, 10 * 60_000);
    const back = '[data-room="Flower Room/back"]';
    const { page, errors } = await open({ width: 1280, height: 900 });
    await expect.poll(() => tile(page, 'co2', back).getAttribute('data-status'), { timeout: 20_000 }).toBe('stale');
    expect(await tile(page, 'co2', back).locator('.why').textContent()).toMatch(/stale/);
    expect(await chip(page, back).textContent()).toBe('Attention');
    await page.screenshot({ path: path.join(ARTIFACTS, 'rooms-stale.png') });
    await setLive({ co2_b: 1180 });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('fits a phone: no sideways scroll, short page, touch targets of 44 px, dark mode readable', async () => {
    const { page, errors } = await open({ width: 390, height: 844 });
    await expect.poll(() => chip(page).textContent(), { timeout: 20_000 }).toBe('OK');
    expect(await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    // secondary readings are folded away
    expect(await page.locator(`${FRONT} details.more`).getAttribute('open')).toBeNull();
    const small = await page.$$eval('#rooms summary, #rooms button, #summary a, .kiosk-link', (els) =>
      els
        .filter((e) => (e as HTMLElement).offsetParent !== null)
        .map((e) => ({ text: e.textContent, h: e.getBoundingClientRect().height }))
        .filter((x) => x.h < 44),
    );
    expect(small).toEqual([]);
    const roomsHeight = await page.$eval('#rooms', (e) => e.getBoundingClientRect().height);
    console.log(`phone: rooms section ${Math.round(roomsHeight)} px tall`);
    expect(roomsHeight).toBeLessThan(4 * 600);
    await page.screenshot({ path: path.join(ARTIFACTS, 'rooms-phone.png') });
    await page.screenshot({ path: path.join(ARTIFACTS, 'rooms-phone-full.png'), fullPage: true });
    await page.emulateMedia({ colorScheme: 'dark' });
    const bg = await page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    expect(bg).toBe('rgb(18, 23, 18)');
    await page.screenshot({ path: path.join(ARTIFACTS, 'rooms-phone-dark.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('an operator sets the grow cycle; the card shows stage and week/day', async () => {
    const viewer = await open({ width: 1280, height: 900 }, { token: VIEWER_TOKEN });
    await expect.poll(() => chip(viewer.page).textContent(), { timeout: 20_000 }).toBe('OK');
    expect(await viewer.page.locator(`${FRONT} .cycle-edit`).isHidden()).toBe(true);
    await viewer.page.close();

    const { page, errors } = await open({ width: 1280, height: 900 }, { token: OPERATOR });
    const edit = page.locator(`${FRONT} .cycle-edit`);
    await edit.waitFor({ state: 'visible', timeout: 20_000 });
    // the lab has no growth stages: nothing to set there
    expect(await page.locator('[data-room="Lab/main"] .cycle-edit').isHidden()).toBe(true);
    await edit.locator('summary').click();
    await edit.locator('select').selectOption('flower');
    const start = localDate(Date.now() - 19 * 86_400_000, 'Europe/Berlin');
    await edit.locator('input[type="date"]').fill(start);
    await edit.locator('button[type="submit"]').click();
    await expect.poll(() => edit.locator('.form-msg').textContent(), { timeout: 20_000 }).toMatch(/^sent/);
    const sent = present(await t.client.xRange('actuators:commands', '-', '+'), 'the XRANGE reply');
    const last = JSON.parse(sent.at(-1)!.message.command!) as { cycle: unknown };
    expect(last.cycle).toEqual({ location: 'Flower Room', stage: 'flower', start });
    // the automation keeps it (as it does after validating the command)
    await t.client.hSet(
      'automation:state',
      '_cycles',
      JSON.stringify({ 'Flower Room': { stage: 'flower', start, by: 'api', at: new Date().toISOString() } }),
    );
    await publishSensor(t.client, 'Flower Room', 'front', { dry_bulb_f: 25.1 });
    await expect
      .poll(() => page.locator(`${FRONT} .cycle`).textContent(), { timeout: 20_000 })
      .toBe('Flower · week 3, day 6');
    expect(await page.locator(`${FRONT} .energy`).textContent()).toMatch(/^Energy 3\.6 kWh · 1\.08 EUR since /);
    await page.screenshot({ path: path.join(ARTIFACTS, 'rooms-operator-cycle.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('kiosk: large values with targets, status and alarms; no controls until unlocked', async () => {
    await setLive({ rh_v: 86 });
    const { page, errors } = await open({ width: 1280, height: 800 }, { hash: '#kiosk' });
    const veg = '#kiosk [data-room="Veg Room/main"]';
    await expect.poll(() => page.locator(`${veg} .chip`).textContent(), { timeout: 20_000 }).toBe('Alarm');
    expect(await page.locator('main').isHidden()).toBe(true);
    expect(await page.locator(`${veg} .key[data-quantity="rh"] .why`).textContent()).toBe('above alarm limit 80.0%');
    const size = await page
      .locator(`${veg} .key[data-quantity="temperature"] .value`)
      .evaluate((e) => parseFloat(getComputedStyle(e).fontSize));
    expect(size).toBeGreaterThanOrEqual(36);
    // nothing to press but Unlock
    const buttons = await page.$$eval('#kiosk button, #kiosk a', (els) =>
      els.filter((e) => (e as HTMLElement).offsetParent !== null).map((e) => e.textContent),
    );
    expect(buttons).toEqual(['Unlock']);
    await page.screenshot({ path: path.join(ARTIFACTS, 'kiosk-1280x800.png') });
    await page.setViewportSize({ width: 1024, height: 600 });
    await page.screenshot({ path: path.join(ARTIFACTS, 'kiosk-1024x600.png') });
    await page.click('.k-unlock');
    await page.fill('.k-token input', OPERATOR);
    await page.click('.k-token button');
    await page.locator('.k-exit').waitFor({ state: 'visible', timeout: 20_000 });
    await page.click('.k-exit');
    await page.locator('main').waitFor({ state: 'visible' });
    await setLive({ rh_v: 62 });
    expect(errors).toEqual([]);
    await page.close();
  });
});
