import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/bus/log.js';
import { Mcp23017Simulator } from '../../src/hw/mcp23017-sim.js';
import { start as startApi, type ApiHandle } from '../../src/services/api/index.js';
import { packageRoot } from '../../src/services/api/options.js';
import { start, type AutomationHandle } from '../../src/services/automation/index.js';
import type { Logger } from '../../src/util/log.js';
import { execFileSync } from '../support/run-sync.js';
import { startRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;
const ROOT = packageRoot();
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const OPERATOR = 'operator-token-control-panel-01';
const VIEWER = 'viewer-token-control-panel-0123';

/** The heater's minimum off time is long enough to watch the hold-back count down in the browser. */
const DEVICES = `
timeZone: UTC
safety: { minOnS: 0, minOffS: 0, maxStarts: 0, staleAfterS: 30 }
manual: { defaultExpiryS: 3600, maxExpiryS: 86400 }
setpoints:
  temp_f: { label: Front temperature, value: 22, min: 10, max: 30, unit: °C }
exclusive: [[humidifier_f, dehumidifier_f]]
devices:
  - name: heater_f
    label: Heater (front)
    location: Flower Room
    cluster: front
    kind: heater
    output: { address: 0x20, port: A, pin: 0 }
    safeState: 0
    safety: { maxOnS: 3600, minOffS: 25 }
    control: { type: hysteresis, sensor: dry_bulb_f, setpoint: temp_f, band: 1, action: raise }
  - name: lights_f
    label: Lights (front)
    location: Flower Room
    cluster: front
    kind: lights
    output: { address: 0x20, port: A, pin: 1 }
    safeState: 0
    control: { type: schedule, on: '00:00', off: '23:59' }
  - name: humidifier_f
    label: Humidifier (front)
    location: Flower Room
    cluster: front
    kind: humidifier
    output: { address: 0x20, port: A, pin: 2 }
    safeState: 0
    safety: { maxOnS: 3600 }
    mode: off
  - name: dehumidifier_f
    label: Dehumidifier (front)
    location: Flower Room
    cluster: front
    kind: dehumidifier
    output: { address: 0x20, port: A, pin: 3 }
    safeState: 0
    mode: off
  - name: water_heater
    label: Water heater
    location: Lab
    cluster: main
    kind: heater
    output: { address: 0x20, port: B, pin: 0 }
    safeState: 0
    safety: { maxOnS: 3600 }
  - name: fan_lab
    label: Lab fan
    location: Lab
    cluster: main
    kind: exhaust_fan
    output: { address: 0x20, port: B, pin: 1 }
    safeState: 1
    safety: { staleAfterS: 3 }
    control: { type: hysteresis, sensor: lab_temp, setpoint: 28, band: 1, action: lower }
`;

let api: ApiHandle;
let automation: AutomationHandle;
let browser: Browser;
let feeder: NodeJS.Timeout;
let cli: RedisClientType;
const sim = new Mcp23017Simulator({ addresses: [0x20] });

beforeAll(async () => {
  if (!fs.existsSync(path.join(ROOT, 'web', 'dist', 'index.html')))
    execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts'], { cwd: ROOT, stdio: 'ignore' });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const redis = await startRedis();
  cli = createClient({ url: redis.url });
  await cli.connect();
  const devicesFile = path.join(tempDir(), 'devices.yaml');
  fs.writeFileSync(devicesFile, DEVICES);
  process.env.AUTOMATION_DEVICES = devicesFile;
  // the api first: it learns device states from the device:update messages the automation sends at start
  api = await startApi({
    port: 0,
    redisUrl: redis.url,
    tokens: `operator:${OPERATOR},viewer:${VIEWER}`,
    logger: log,
  });
  automation = await start({
    devicesFile,
    bus: sim,
    store: null,
    redisUrl: redis.url,
    tickMs: 100,
    persistMs: 20,
    logger: log,
  });
  // the worker's part: fresh readings every second (warm room: the heater's controller wants it off)
  const feed = () =>
    void cli
      .publish(
        'sensor:update',
        JSON.stringify({
          location: 'Flower Room',
          cluster: 'front',
          sensor_data: { dry_bulb_f: 25, water_temp: 30 },
          timestamp: new Date().toISOString(),
        }),
      )
      .catch(() => undefined);
  feed();
  feeder = setInterval(feed, 1000);
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
}, 120_000);

afterAll(async () => {
  clearInterval(feeder);
  await browser?.close();
  await api?.stop();
  await automation?.stop();
  await cli?.close();
});

async function open(token: string, viewport = { width: 1280, height: 900 }, dark = false) {
  const page = await browser.newPage({ viewport, colorScheme: dark ? 'dark' : 'light' });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.addInitScript((tok) => sessionStorage.setItem('canopy.token', tok), token);
  await page.goto(`${api.url}/`, { waitUntil: 'load' });
  await page.locator('#devices [data-device="heater_f"]').waitFor({ timeout: 30_000 });
  return { page, errors };
}

const row = (page: Page, device: string) => page.locator(`#devices [data-device="${device}"]`);

describe('Devices and control panel in headless Chromium', () => {
  it('an operator turns the heater on by hand: confirmation with its expiry, "held back … min off m:ss left", then applied and ON', async () => {
    const { page, errors } = await open(OPERATOR);
    const heater = row(page, 'heater_f');
    // friendly label first, internal name as a hint, grouped by room
    await expect.poll(() => heater.locator('.dev-label').textContent()).toBe('Heater (front)');
    expect(await heater.locator('.dev-id').textContent()).toContain('heater_f');
    expect(await page.locator('#devices .dev-room[data-room="Lab"] [data-device="water_heater"]').count()).toBe(1);
    await heater.locator('button', { hasText: 'On' }).first().waitFor({ timeout: 20_000 });
    expect(await heater.getAttribute('data-state')).toBe('off');
    await heater.locator('button', { hasText: /^On$/ }).click();
    // the confirmation shows when it returns to auto
    const dialog = page.locator('dialog.dev-confirm');
    await dialog.waitFor();
    expect(await dialog.textContent()).toMatch(/returns to automatic at (?:\S+ ){0,2}\d\d:\d\d \(in 1 h\)/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'control-confirm-desktop.png') });
    await dialog.locator('button', { hasText: 'Turn Heater (front) ON' }).click();
    // held back by its minimum off time (25 s from the automation's start), counting down
    const feedback = heater.locator('.dev-feedback');
    await expect.poll(() => feedback.getAttribute('data-outcome'), { timeout: 20_000 }).toMatch(/held|applied/);
    if ((await feedback.getAttribute('data-outcome')) === 'held') {
      expect(await feedback.textContent()).toMatch(/^Held back: min off until \d\d:\d\d \(\d+:\d\d left\)$/);
      expect(await heater.locator('.dev-held').textContent()).toMatch(/^ON held back: min off, \d+:\d\d left$/);
      expect(await heater.getAttribute('data-state')).toBe('off');
      // the button shows what was asked for, not the state it is held in
      expect(await heater.locator('button[aria-pressed="true"]').textContent()).toBe('On');
      await page.screenshot({ path: path.join(ARTIFACTS, 'control-held-desktop.png'), fullPage: true });
    }
    await expect.poll(() => feedback.getAttribute('data-outcome'), { timeout: 40_000 }).toBe('applied');
    expect(await feedback.textContent()).toMatch(/^Applied: (ON now|manual ON until \d\d:\d\d)$/);
    await expect.poll(() => heater.getAttribute('data-state'), { timeout: 20_000 }).toBe('on');
    // an expiry past midnight names its day ("until 3 Dec 00:28"): the test runs at any hour
    expect(await heater.locator('.dev-expiry').textContent()).toMatch(
      /^manual ON until (\d{1,2} \w{3} )?\d\d:\d\d, then auto$/,
    );
    expect(await heater.locator('.dev-mode').textContent()).toBe('Manual');
    expect(await heater.locator('.dev-since').textContent()).toMatch(/^since \d\d:\d\d$/);
    expect(sim.output(0x20, 'A', 0)).toBe(1);
    expect(await heater.locator('.dev-held').count()).toBe(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'control-applied-desktop.png'), fullPage: true });
    // back to auto: the controller's reason in words
    await heater.locator('button', { hasText: 'Auto' }).click();
    await expect.poll(() => heater.getAttribute('data-mode'), { timeout: 20_000 }).toBe('auto');
    await expect.poll(() => sim.output(0x20, 'A', 0), { timeout: 20_000 }).toBe(0);
    await expect.poll(() => heater.locator('.dev-why').textContent()).toMatch(/dry_bulb_f 25 is above 22\.5/);
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a refused command says why (an exclusive partner is on); setpoints stay reachable', async () => {
    const { page, errors } = await open(OPERATOR);
    const hum = row(page, 'humidifier_f');
    await hum.locator('button', { hasText: /^On$/ }).click();
    await expect.poll(() => hum.getAttribute('data-state'), { timeout: 20_000 }).toBe('on');
    const dehum = row(page, 'dehumidifier_f');
    await dehum.locator('button', { hasText: /^On$/ }).click();
    const fb = dehum.locator('.dev-feedback');
    await expect.poll(() => fb.getAttribute('data-outcome'), { timeout: 20_000 }).toBe('refused');
    expect(await fb.textContent()).toMatch(
      /^Refused: Humidifier \(front\) \(humidifier_f\) is on and never runs together/,
    );
    expect(sim.output(0x20, 'A', 3)).toBe(0);
    await page.screenshot({ path: path.join(ARTIFACTS, 'control-refused-desktop.png'), fullPage: true });
    // setpoints: open the section, change one
    await page.locator('#devices .sp-box summary').click();
    const sp = page.locator('#devices [data-setpoint="temp_f"]');
    expect(await sp.locator('.sp-name').textContent()).toBe('Front temperature temp_f');
    await sp.locator('input').fill('23.5');
    await sp.locator('button', { hasText: 'Set' }).click();
    await expect.poll(() => automation.engine.setpoints().temp_f, { timeout: 20_000 }).toBe(23.5);
    await hum.locator('button', { hasText: 'Disable' }).click();
    await expect.poll(() => hum.getAttribute('data-mode'), { timeout: 20_000 }).toBe('off');
    expect(await hum.locator('.dev-expiry').textContent()).toMatch(
      /^disabled until (?:\S+ ){0,2}\d\d:\d\d, then auto$/,
    );
    expect(errors).toEqual([]);
    await page.close();
  });

  it('a viewer sees state and reasons but no controls', async () => {
    const { page } = await open(VIEWER, { width: 390, height: 844 });
    await expect.poll(() => page.locator('#devices .dev-role').textContent()).toMatch(/Viewer token: read-only/);
    expect(await page.locator('#devices .dev').count()).toBe(6);
    // lab_temp never reports: the fan is kept in its safe state (on), clearly marked
    const fan = row(page, 'fan_lab');
    await expect.poll(() => fan.getAttribute('class'), { timeout: 20_000 }).toMatch(/\bfailsafe\b/);
    expect(await fan.locator('.dev-failsafe').textContent()).toMatch(/^Failsafe: kept in its safe state\. .*lab_temp/);
    expect(await fan.locator('.dev-source').textContent()).toBe('by the failsafe');
    expect(await fan.getAttribute('data-state')).toBe('on');
    expect(await page.locator('#devices .dev-actions button').count()).toBe(0);
    expect(await page.locator('#manual-expiry').isVisible()).toBe(false);
    expect(await page.locator('#devices [data-setpoint="temp_f"] input').count()).toBe(0);
    expect(await page.locator('#devices [data-setpoint="temp_f"] strong').textContent()).toMatch(/^\d+(\.\d+)? °C$/);
    expect(await row(page, 'lights_f').locator('.dev-why').textContent()).toMatch(/^Schedule: on 00:00 to 23:59/);
    await page.screenshot({ path: path.join(ARTIFACTS, 'control-viewer-phone.png'), fullPage: true });
    await page.close();
  });

  it('on a phone every control is at least 44 px high and the page does not scroll sideways (light and dark)', async () => {
    for (const dark of [false, true]) {
      const { page, errors } = await open(OPERATOR, { width: 390, height: 844 }, dark);
      await row(page, 'heater_f').locator('button').first().waitFor({ timeout: 20_000 });
      await page.locator('#devices .sp-box summary').click();
      const boxes = await page
        .locator('#devices button, #devices input, #devices select, #devices summary')
        .evaluateAll((els) =>
          els.filter((e) => (e as HTMLElement).offsetParent !== null).map((e) => e.getBoundingClientRect().height),
        );
      expect(boxes.length).toBeGreaterThan(20);
      for (const hgt of boxes) expect(hgt).toBeGreaterThanOrEqual(44);
      const on = await row(page, 'heater_f').locator('button', { hasText: /^On$/ }).boundingBox();
      expect(on!.height).toBeGreaterThanOrEqual(44);
      expect(on!.width).toBeGreaterThanOrEqual(44);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      await page.locator('#devices').screenshot({
        path: path.join(ARTIFACTS, `control-operator-phone${dark ? '-dark' : ''}.png`),
      });
      expect(errors).toEqual([]);
      await page.close();
    }
  });
});
