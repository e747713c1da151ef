import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from '../support/run-sync.js';
import { encode } from '@msgpack/msgpack';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { Registry } from '../../src/bus/registry.js';
import { packageRoot } from '../../src/services/api/options.js';
import { startApi, VIEWER_TOKEN } from '../services/api/helpers.js';
import { tempDir } from '../support/tmp.js';

const ROOT = packageRoot();
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

type Ctx = Awaited<ReturnType<typeof startApi>>;
let t: Ctx;
let browser: Browser;
let conn: Connection;

function ensureBuilt(): void {
  if (fs.existsSync(path.join(ROOT, 'web', 'dist', 'index.html'))) return;
  execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts'], { cwd: ROOT, stdio: 'ignore' });
}

/** analytics:latest as canopy analytics writes it: dry_bulb_f rising towards a 30 °C limit, rh_f flat. */
function snapshot(now = Date.now()) {
  const eta = (value: number, eta_s: number | null, crossing: 'above' | 'below') => ({
    name: 'limit',
    value,
    crossing,
    source: 'config',
    crossed: false,
    eta_s,
    eta_at: eta_s === null ? null : new Date(now + eta_s * 1000).toISOString(),
  });
  return {
    timestamp: new Date(now).toISOString(),
    sensors: {
      dry_bulb_f: {
        location: 'Flower Room',
        cluster: 'front',
        last: 27,
        trend: { window_s: 3600, points: 300, span_s: 3500, slope_per_h: 4, r2: 0.95 },
        thresholds: [eta(18, null, 'below'), eta(30, 2700, 'above')],
        next: eta(30, 2700, 'above'),
      },
      rh_f: {
        location: 'Flower Room',
        cluster: 'front',
        last: 60,
        trend: { window_s: 3600, points: 300, span_s: 3500, slope_per_h: 0.01, r2: 0.1 },
        thresholds: [eta(40, null, 'below'), eta(75, null, 'above')],
        next: null,
      },
      // no target: no trend shown
      co2_f: {
        location: 'Flower Room',
        cluster: 'front',
        last: 900,
        trend: { slope_per_h: -50 },
        thresholds: [],
        next: null,
      },
    },
    rooms: {},
  };
}

beforeAll(async () => {
  ensureBuilt();
  t = await startApi({ databaseUrl: `sqlite:${path.join(tempDir(), 'canopy.db')}`, userFeed: { intervalMs: 100 } });
  conn = await Connection.connect({ url: t.redis.url, healthCheckIntervalMs: 0 });
  conn.on('error', () => undefined);
  const reg = new Registry(conn);
  // what the gateway registers for two connected relays
  await reg.touch('relay', 'a1b2c3d4e5f6', {
    user: 'jamie',
    remote: '192.168.1.40',
    codec: 'msgpack',
    connected_at: new Date(Date.now() - 12 * 60_000).toISOString(),
    received: 100,
  });
  await reg.touch('relay', 'f6e5d4c3b2a1', {
    user: 'alex',
    remote: '192.168.1.41',
    codec: 'json',
    version: '0.9.1',
    connected_at: new Date(Date.now() - 3 * 3600_000).toISOString(),
  });
  await t.client.set('analytics:latest', JSON.stringify(snapshot()), { EX: 600 });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await conn?.close();
});

async function openPage(viewport: { width: number; height: number }, token = VIEWER_TOKEN) {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  // the token as the Control panel stores it (this tab only)
  await page.addInitScript((tok) => tok && sessionStorage.setItem('canopy.token', tok), token);
  await page.goto(`${t.api.url}/`, { waitUntil: 'load' });
  await page.waitForSelector('#relays tr[data-user="jamie"]');
  return { page, errors };
}

describe('Relays panel and trends in headless Chromium', () => {
  it('lists connected relays, shows one user’s raw channels and predictions live, and trend arrows', async () => {
    const { page, errors } = await openPage({ width: 1280, height: 900 });
    // the list: user, since, remote, version
    const jamie = page.locator('#relays tr[data-user="jamie"]');
    expect(await jamie.locator('.since').textContent()).toBe('12 min ago');
    expect(await jamie.locator('.remote').textContent()).toBe('192.168.1.40');
    expect(await page.locator('#relays tr[data-user="alex"] .version').textContent()).toBe('0.9.1');
    // trends beside sensors with a target
    await page.waitForSelector('[data-sensor="dry_bulb_f"] .trend[data-trend="up"]');
    expect(await page.textContent('[data-sensor="dry_bulb_f"] .trend')).toMatch(/↑ \+4\.0 °C\/h/);
    expect(await page.textContent('[data-sensor="dry_bulb_f"] .trend .eta')).toBe('reaches 30 °C in ~45 min');
    expect(await page.getAttribute('[data-sensor="rh_f"] .trend', 'data-trend')).toBe('flat');
    expect(await page.locator('[data-sensor="co2_f"] .trend').count()).toBe(0);
    // click a user: its live data over /ws (msgpack on user:jamie:raw, decoded by the API)
    await page.click('#relays tr[data-user="jamie"] .relay-user');
    await page.waitForFunction(() => /live/.test(document.querySelector('.relay-status')?.textContent ?? ''));
    let i = 0;
    const raw = () =>
      t.client.publish(
        'user:jamie:raw',
        Buffer.from(encode({ type: 'raw', timestamp: Date.now(), channels: { Ch0: 1.25 + i, Ch1: [3, 4, 5.5] } })),
      );
    // published until seen (the subscription may settle after the status shows)
    for (; i < 200; i++) {
      await raw();
      const shown = await page.textContent('.relay-channel[data-channel="Ch0"] .value').catch(() => null);
      if (shown === String(1.25 + i) || shown === String(1.25 + i - 1)) break;
      await page.waitForTimeout(100);
    }
    await page.waitForSelector('.relay-channel[data-channel="Ch1"]');
    expect(await page.textContent('.relay-channel[data-channel="Ch1"] .value')).toBe('5.5');
    const before = Number(await page.textContent('.relay-channel[data-channel="Ch0"] .value'));
    i += 10;
    await raw();
    await page.waitForFunction(
      (v) => document.querySelector('.relay-channel[data-channel="Ch0"] .value')?.textContent === v,
      String(1.25 + i),
    );
    expect(1.25 + i).toBeGreaterThan(before);
    await t.client.publish(
      'user:jamie:predictions',
      Buffer.from(
        encode({
          type: 'prediction',
          prediction_type: 'water_stress',
          data: { score: 0.72 },
          confidence: 0.9,
          source: 'ml-example',
          timestamp: Date.now(),
        }),
      ),
    );
    await page.waitForSelector('[data-prediction="water_stress"]');
    expect(await page.textContent('[data-prediction="water_stress"]')).toBe(
      'water_stress score 0.72 (90 %) — ml-example',
    );
    await page.locator('#relays').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, 'relays-desktop.png'), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('fits a phone screen, and without a token says a viewer token is needed', async () => {
    const { page, errors } = await openPage({ width: 390, height: 844 }, '');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    await page.waitForSelector('[data-sensor="dry_bulb_f"] .trend .eta');
    await page.click('#relays tr[data-user="alex"] .relay-user');
    expect(await page.textContent('.relay-status')).toMatch(/needs a viewer token/);
    await page.locator('#relays').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, 'relays-phone.png'), fullPage: true });
    await page.locator('#relays').screenshot({ path: path.join(ARTIFACTS, 'relays-phone-panel.png') });
    await page
      .locator('.card')
      .first()
      .screenshot({ path: path.join(ARTIFACTS, 'relays-phone-card.png') });
    expect(errors).toEqual([]);
    await page.close();
  });
});
