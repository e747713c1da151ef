import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from '../support/run-sync.js';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/services/api/options.js';
import { openStore, type Store } from '../../src/store/index.js';
import { tempDir } from '../support/tmp.js';
import { startApi } from '../services/api/helpers.js';
import { present } from '../support/narrow.js';

const ROOT = packageRoot();
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const OPERATOR = 'operator-token-for-schedules-0123';
const VIEWER = 'viewer-token-for-schedules-01234';

type Ctx = Awaited<ReturnType<typeof startApi>>;
let t: Ctx;
let browser: Browser;
let store: Store;

function ensureBuilt(): void {
  if (fs.existsSync(path.join(ROOT, 'web', 'dist', 'index.html'))) return;
  execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts'], { cwd: ROOT, stdio: 'ignore' });
}

beforeAll(async () => {
  ensureBuilt();
  const dir = tempDir();
  const devices = path.join(dir, 'devices.yaml');
  fs.writeFileSync(
    devices,
    `
setpoints:
  day_temp: { value: 24, min: 15, max: 30, unit: "°C" }
devices:
  - { name: lights_f, location: Flower Room, cluster: front, kind: lights, output: { address: 0x20, port: A, pin: 1 }, safeState: 0, control: { type: schedule, on: "06:00", off: "18:00" } }
  - { name: fan_v, location: Veg Room, cluster: main, kind: exhaust_fan, output: { address: 0x20, port: A, pin: 2 }, safeState: 0 }
`,
  );
  process.env.AUTOMATION_DEVICES = devices;
  const url = `sqlite:${path.join(dir, 'canopy.db')}`;
  store = await openStore(url);
  await store.putConfig('schedules', {
    id: 'lights-lights_f',
    config: { type: 'lighting', device: 'lights_f', on: '06:00', off: '18:00' },
    enabled: true,
    by: 'devices.yaml',
  });
  await store.putConfig('schedules', {
    id: 'temps',
    config: {
      type: 'setpoint',
      setpoint: 'day_temp',
      periods: [
        { from: '06:00', value: 25 },
        { from: '18:00', value: 20 },
      ],
    },
    enabled: true,
    by: 'devices.yaml',
  });
  await store.putConfig('rules', {
    id: 'hot-veg',
    config: { sensor: 'dry_bulb_v', above: 29, forMin: 10, device: 'fan_v', state: 1 },
    enabled: true,
    by: null,
  });
  t = await startApi({ databaseUrl: url, tokens: `operator:${OPERATOR},viewer:${VIEWER}` });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await store?.close();
});

async function open(token: string) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 1400 } });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript((tok) => sessionStorage.setItem('canopy.token', tok), token);
  await page.goto(`${t.api.url}/`, { waitUntil: 'load' });
  return { page, errors };
}

const rows = async (kind: 'schedules' | 'rules') => {
  const r = await fetch(`${t.api.url}/api/${kind}`, { headers: { authorization: `Bearer ${VIEWER}` } });
  return ((await r.json()) as Record<string, { id: string; config: Record<string, unknown> }[]>)[kind]!;
};

describe('schedules editor in headless Chromium', () => {
  it('is hidden with a viewer token', async () => {
    const { page } = await open(VIEWER);
    await page.waitForSelector('[data-sensor]');
    // give the editor's GETs time to answer, then it must still be hidden
    await page.waitForFunction(() =>
      performance.getEntriesByType('resource').some((e) => e.name.endsWith('/api/rules')),
    );
    await page.waitForTimeout(500);
    expect(await page.isHidden('#schedules')).toBe(true);
    await page.close();
  });

  it('an operator edits on/off times and a setpoint, sees errors next to the field, adds and deletes a rule', async () => {
    const { page, errors } = await open(OPERATOR);
    await page.waitForSelector('#schedules [data-schedule="lights-lights_f"]');
    const headings = await page.$$eval('#schedules h3', (hs) => hs.map((h) => h.textContent));
    expect(headings).toEqual(['Every room', 'Flower Room', 'Veg Room', 'Add a rule']);
    await page.screenshot({ path: path.join(ARTIFACTS, 'schedules-editor.png'), fullPage: true });

    // on/off times
    const lights = '#schedules [data-schedule="lights-lights_f"]';
    await page.fill(`${lights} [data-field="/on"]`, '05:30');
    await page.fill(`${lights} [data-field="/off"]`, '19:45');
    await page.click(`${lights} button`);
    await expect
      .poll(async () => (await rows('schedules')).find((r) => r.id === 'lights-lights_f')?.config, { timeout: 15_000 })
      .toEqual({ type: 'lighting', device: 'lights_f', on: '05:30', off: '19:45' });

    // a setpoint outside its range: the error is shown next to that value, nothing stored
    const temps = '#schedules [data-schedule="temps"]';
    await page.fill(`${temps} [data-field="/periods/1/value"]`, '45');
    await page.click(`${temps} button`);
    await page.waitForFunction(
      (sel) => document.querySelector(`${sel} [data-error-for="/periods/1/value"]`)?.textContent !== '',
      temps,
    );
    expect(await page.textContent(`${temps} [data-error-for="/periods/1/value"]`)).toBe('must be within [15, 30]');
    expect(await page.textContent(`${temps} [data-error-for="/periods/0/value"]`)).toBe('');
    await page.screenshot({ path: path.join(ARTIFACTS, 'schedules-error.png'), fullPage: true });
    expect((await rows('schedules')).find((r) => r.id === 'temps')?.config.periods).toEqual([
      { from: '06:00', value: 25 },
      { from: '18:00', value: 20 },
    ]);
    await page.fill(`${temps} [data-field="/periods/1/value"]`, '19');
    await page.click(`${temps} button`);
    await expect
      .poll(async () => (await rows('schedules')).find((r) => r.id === 'temps')?.config.periods, { timeout: 15_000 })
      .toEqual([
        { from: '06:00', value: 25 },
        { from: '18:00', value: 19 },
      ]);
    // the page clears the message once it has the answer, which may come a moment after the row is stored
    await expect
      .poll(() => page.textContent(`${temps} [data-error-for="/periods/1/value"]`), { timeout: 15_000 })
      .toBe('');

    // add a rule: an unknown device is refused next to the device field, then a good one is added
    const add = '#schedules [data-rule="new"]';
    await page.fill(`${add} [data-field="/sensor"]`, 'rh_f');
    await page.fill(`${add} [data-field="/above"]`, '80');
    await page.fill(`${add} [data-field="/forMin"]`, '3');
    await page.fill(`${add} [data-field="/device"]`, 'nothing');
    await page.click(`${add} button`);
    await page.waitForFunction(
      (sel) => document.querySelector(`${sel} [data-error-for="/device"]`)?.textContent !== '',
      add,
    );
    expect(await page.textContent(`${add} [data-error-for="/device"]`)).toBe('no device named "nothing"');
    await page.fill(`${add} [data-field="/device"]`, 'lights_f');
    await page.selectOption(`${add} [data-field="/state"]`, '0');
    await page.click(`${add} button`);
    await expect.poll(async () => (await rows('rules')).length, { timeout: 15_000 }).toBe(2);
    const added = (await rows('rules')).find((r) => r.id !== 'hot-veg')!;
    expect(added.config).toEqual({ sensor: 'rh_f', above: 80, forMin: 3, device: 'lights_f', state: 0 });
    await page.waitForSelector(`#schedules [data-rule="${added.id}"]`);
    await page.screenshot({ path: path.join(ARTIFACTS, 'schedules-rule-added.png'), fullPage: true });

    // delete the old rule
    await page.click('#schedules [data-rule="hot-veg"] button:has-text("Delete")');
    await expect.poll(async () => (await rows('rules')).map((r) => r.id), { timeout: 15_000 }).toEqual([added.id]);
    await page.waitForSelector('#schedules [data-rule="hot-veg"]', { state: 'detached' });
    // every change asked the automation to reload
    const reloads = present(await t.client.xRange('actuators:commands', '-', '+'), 'the XRANGE reply');
    expect(reloads.filter((e) => JSON.parse(e.message.command!).reload === 'programs').length).toBe(4);
    expect(errors).toEqual([]);
    await page.close();
  });
});
