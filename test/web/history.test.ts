import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUTOMATION_STATE } from '../../src/contracts/names.js';
import { packageRoot } from '../../src/services/api/options.js';
import { openStore } from '../../src/store/index.js';
import { execFileSync } from '../support/run-sync.js';
import { tempDir } from '../support/tmp.js';
import { startApi } from '../services/api/helpers.js';

const ROOT = packageRoot();
const ARTIFACTS = path.join(ROOT, 'test-artifacts');
const MIN = 60_000;

let t: Awaited<ReturnType<typeof startApi>>;
let browser: Browser;
/** The outage of dry_bulb_f in the seeded data: no readings between these times. */
let outage: [number, number];
/** When the seeded journal note was written. */
let note: number;

function ensureBuilt(): void {
  if (fs.existsSync(path.join(ROOT, 'web', 'dist', 'index.html'))) return;
  execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts'], { cwd: ROOT, stdio: 'ignore' });
}

const localDate = (ms: number) => {
  const d = new Date(ms);
  const p = (x: number) => String(x).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}`;
};

beforeAll(async () => {
  ensureBuilt();
  // three hours of readings every 30 s, less than a day: a new install; dry_bulb_f has a 15 min outage
  const url = `sqlite:${path.join(tempDir(), 'history.db')}`;
  const store = await openStore(url);
  const now = Date.now();
  outage = [now - 40 * MIN, now - 25 * MIN];
  const readings = [];
  for (const [sensor, cluster, base, amp] of [
    ['dry_bulb_f', 'front', 24, 1],
    ['dry_bulb_b', 'back', 23, 1],
    ['rh_f', 'front', 60, 4],
    ['vpd_f', 'front', 1.1, 0.1],
  ] as const) {
    for (let time = now - 180 * MIN; time < now; time += 30_000) {
      if (sensor === 'dry_bulb_f' && time > outage[0] && time < outage[1]) continue;
      const value = base + amp * Math.sin(time / 600_000);
      readings.push({ streamId: `${time}-${sensor}`, time, sensor, value, location: 'Flower Room', cluster });
    }
  }
  await store.writeBatch({ messages: [], readings });
  // a note in the journal, in the hour shown, and one of another room
  note = now - 30 * MIN;
  await store.addJournalEntry({
    location: 'Flower Room',
    cluster: 'front',
    time: note,
    text: 'Raised the lights to 80 %',
    by: 'grower',
  });
  await store.addJournalEntry({ location: 'Lab', time: now - 20 * MIN, text: 'Calibrated the probe', by: 'grower' });
  await store.close();
  t = await startApi({ databaseUrl: url, staleAfterMs: 30_000 });
  // on time per device and local day, as the automation keeps it
  await t.client.hSet(
    AUTOMATION_STATE,
    '_ontime',
    JSON.stringify({
      lights_f: { [localDate(now)]: 6 * 3_600_000, [localDate(now - 86_400_000)]: 12 * 3_600_000 },
      heater_f: { [localDate(now)]: 1.5 * 3_600_000 },
    }),
  );
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
});

async function open(viewport: { width: number; height: number }, colorScheme: 'light' | 'dark' = 'light') {
  const context = await browser.newContext({ viewport, colorScheme, acceptDownloads: true });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.goto(`${t.api.url}/`, { waitUntil: 'load' });
  await waitForChart(page);
  return { page, errors, context };
}

/** A screenshot of the History panel as on the page (above the sticky header's reach: from the full page). */
async function shotHistory(page: Page, file: string): Promise<void> {
  const clip = await page.$eval('#history', (e) => {
    const r = e.getBoundingClientRect();
    return { x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height };
  });
  await page.screenshot({ path: path.join(ARTIFACTS, file), fullPage: true, clip });
}

const waitForChart = (page: Page) =>
  page.waitForFunction(() => Number(document.getElementById('chart')?.dataset.points ?? 0) > 0, undefined, {
    timeout: 30_000,
  });

interface Drawn {
  units: string[];
  bands: Array<{ unit: string; low?: number; high?: number; target?: number }>;
  scales: Record<string, [number, number]>;
  axes: Array<{ unit: string; side: number }>;
  xs: number[];
  series: Array<{ name: string; label: string; unit: string; values: (number | null)[] }>;
  gaps: number;
}

/** What uPlot was given, chart by chart (the element carries it as `canopyData`). */
const drawn = (page: Page) =>
  page.$$eval('#chart .history-plot', (els) =>
    els.map((e) => {
      const d = (e as HTMLElement & { canopyData: Drawn }).canopyData;
      // undefined (joined over) does not survive the trip out of the page: mark it
      return {
        ...d,
        series: d.series.map((s) => ({ ...s, values: s.values.map((v) => (v === undefined ? 'skip' : v)) })),
      };
    }),
  ) as unknown as Promise<
    Array<
      Omit<Drawn, 'series'> & {
        series: Array<{ name: string; label: string; unit: string; values: (number | null | 'skip')[] }>;
      }
    >
  >;

describe('history chart in headless Chromium', () => {
  it('starts on the last hour on a new install and draws the outage as a gap', async () => {
    const { page, errors, context } = await open({ width: 1280, height: 900 });
    // less than a day of data: "1 h" is the default
    await expect.poll(() => page.getAttribute('[data-range="1 h"]', 'aria-pressed')).toBe('true');
    expect(await page.getAttribute('[data-range="24 h"]', 'aria-pressed')).toBe('false');
    // the default sensors: the temperatures, friendly names with their room, units in the legend
    const legend = await page.textContent('#chart .u-legend');
    expect(legend).toContain('Temperature · Flower Room front (°C)');
    expect(legend).toContain('Temperature · Flower Room back (°C)');
    expect(legend).not.toMatch(/dry_bulb_f/);
    // the outage: nulls inside it (a break in the line), values on both sides
    await expect.poll(async () => (await drawn(page))[0]?.gaps ?? 0).toBeGreaterThanOrEqual(1);
    const [chart] = await drawn(page);
    const front = chart!.series.find((s) => s.name === 'dry_bulb_f')!;
    const back = chart!.series.find((s) => s.name === 'dry_bulb_b')!;
    // (buckets start up to a bucket width before their first reading: a minute of margin)
    const inside = chart!.xs.map((x, i) => [x, i] as const).filter(([x]) => x > outage[0] + MIN && x < outage[1] - MIN);
    expect(inside.length).toBeGreaterThan(0);
    for (const [, i] of inside) expect(front.values[i]).toBeNull();
    expect(front.values.filter((v) => typeof v === 'number').length).toBeGreaterThan(40);
    // the other sensor has no outage: no null at all
    expect(back.values.filter((v) => v === null)).toEqual([]);
    expect(await page.textContent('#chart-status')).toMatch(/1 gap without readings/);
    // hover: values with the unit's precision (°C to 0.1)
    const over = page.locator('#chart .u-over').first();
    const box = (await over.boundingBox())!;
    await over.hover({ position: { x: box.width * 0.8, y: box.height / 2 } });
    await expect
      .poll(() => page.textContent('#chart .u-legend .u-series:nth-child(2) .u-value'))
      .toMatch(/^\d+\.\d °C$/);
    // the room's target band for temperature: inside the chart's scale
    const temp = chart!.bands.filter((b) => b.unit === '°C');
    expect(temp.length).toBeGreaterThan(0);
    const [lo, hi] = chart!.scales['°C']!;
    for (const b of temp) {
      for (const v of [b.low, b.high, b.target]) {
        if (v === undefined) continue;
        expect(v).toBeGreaterThanOrEqual(lo);
        expect(v).toBeLessThanOrEqual(hi);
      }
    }
    // the journal note of a room on the chart: a marker with its text on hover, and in the list below
    const markers = page.locator('#chart .history-plot').first().locator('.journal-marker');
    expect(await markers.count()).toBe(1);
    expect(Number(await markers.getAttribute('data-time'))).toBe(note);
    await markers.hover();
    await page.waitForSelector('#chart .journal-tip:visible');
    expect(await page.textContent('#chart .journal-tip')).toMatch(/grower: Raised the lights to 80 %$/);
    expect(await page.textContent('#chart-notes')).toMatch(/Raised the lights to 80 %/);
    expect(await page.textContent('#chart-notes')).not.toMatch(/Calibrated/);
    await shotHistory(page, 'history-gap-desktop.png');

    // a third unit: humidity (%) and air VPD (kPa) with the temperatures: two charts, each unit on its own axis
    // on a wide screen the rooms with a sensor on the chart start open
    expect(await page.locator('#sensor-list details:has(input[value="rh_f"])').getAttribute('open')).toBe('');
    expect(await page.locator('#sensor-list details:has(input[value="dry_bulb_v"])').getAttribute('open')).toBe('');
    await page.check('#sensor-list input[value="rh_f"]');
    await page.check('#sensor-list input[value="vpd_f"]');
    await expect.poll(() => page.locator('#chart .history-plot').count()).toBe(2);
    await waitForChart(page);
    await expect.poll(async () => (await drawn(page)).map((d) => d.units.join(','))).toEqual(['°C,%', 'kPa']);
    // every line has its axis: one per unit, left and right
    const charts = await drawn(page);
    expect(charts.map((c) => c.axes)).toEqual([
      [
        { unit: '°C', side: 3 },
        { unit: '%', side: 1 },
      ],
      [{ unit: 'kPa', side: 3 }],
    ]);
    for (const c of charts) for (const s of c.series) expect(c.axes.map((a) => a.unit)).toContain(s.unit);
    expect(await page.textContent('#sensor-list summary:has-text("Flower Room · front") .picker-count')).toBe(
      '3 on chart',
    );
    await page.screenshot({ path: path.join(ARTIFACTS, 'history-desktop.png'), fullPage: true });

    // the CSV holds exactly what is shown: ISO time, one column per series with its unit
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#csv')]);
    expect(download.suggestedFilename()).toMatch(/^canopy-history-\d{4}-\d{2}-\d{2}T\d{4}\.csv$/);
    const csv = fs
      .readFileSync((await download.path())!, 'utf8')
      .trim()
      .split('\r\n');
    const header = csv[0]!.split(',');
    expect(header[0]).toBe('time');
    expect(header.slice(1).sort()).toEqual(
      [
        'Temperature · Flower Room front (°C)',
        'Temperature · Flower Room back (°C)',
        'Temperature · Veg Room (°C)',
        'Humidity (%)',
        'Air VPD (kPa)',
      ].sort(),
    );
    const rows = csv.slice(1).map((l) => l.split(','));
    expect(rows.length).toBeGreaterThan(50);
    const col = header.indexOf('Temperature · Flower Room front (°C)');
    const rh = header.indexOf('Humidity (%)');
    const vpd = header.indexOf('Air VPD (kPa)');
    for (const r of rows) {
      expect(r[0]).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      const time = Date.parse(r[0]!);
      if (time > outage[0] + MIN && time < outage[1] - MIN) expect(r[col]).toBe('');
      if (r[rh]) expect(r[rh]).toMatch(/^\d+$/);
      if (r[vpd]) expect(r[vpd]).toMatch(/^\d\.\d\d$/);
    }
    expect(rows.filter((r) => /^\d+\.\d$/.test(r[col]!)).length).toBeGreaterThan(40);
    // times ascending, within the hour shown
    const times = rows.map((r) => Date.parse(r[0]!));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    expect(times[0]!).toBeGreaterThanOrEqual(Date.now() - 3_700_000);

    // on time per device and day, grouped by room, with labels
    const lights = page.locator('.on-time-device[data-device="lights_f"]');
    await lights.waitFor();
    expect(await lights.locator('.on-time-label').textContent()).toBe('Lights (front)');
    expect(await lights.locator('.on-time-total').textContent()).toMatch(/^18 h/);
    expect(await page.locator('.on-time h4').first().textContent()).toBe('Flower Room');
    // devices off all week: one line, not a column of empty bars
    expect(await page.locator('.on-time-device[data-device="exhaust_fan_f"]').count()).toBe(0);
    expect(await page.textContent('.on-time-idle')).toMatch(/^Off all week: .*Exhaust fan \(front\)/);
    expect(
      await page.getAttribute('.on-time-device[data-device="heater_f"] .on-time-bar:last-child', 'data-hours'),
    ).toBe('1.50');
    // a tap on the row lists each day's figures
    await lights.locator('summary').click();
    await expect
      .poll(() => lights.locator('.on-time-days li:last-child').textContent())
      .toMatch(/^\d{4}-\d{2}-\d{2}: 6\.0 h on, 3\.60 kWh$/);
    expect(errors).toEqual([]);
    await context.close();
  });

  it('fits a phone: presets and the sensor picker are thumb-sized, nothing overflows', async () => {
    // in dark mode, as a phone at night in a grow room would show it
    const { page, errors, context } = await open({ width: 390, height: 844 }, 'dark');
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    for (const b of await page.locator('#ranges button').all()) {
      const r = (await b.boundingBox())!;
      expect(r.height).toBeGreaterThanOrEqual(44);
      expect(r.width).toBeGreaterThanOrEqual(44);
    }
    expect((await page.locator('#csv').boundingBox())!.height).toBeGreaterThanOrEqual(44);
    // the picker: one closed group per room, not a wall of checkboxes
    const groups = page.locator('#sensor-list details');
    expect(await groups.count()).toBeGreaterThan(1);
    expect(await page.locator('#sensor-list details[open]').count()).toBe(0);
    expect(await page.locator('#sensor-list input:visible').count()).toBe(0);
    for (const s of await page.locator('#sensor-list summary').all()) {
      expect((await s.boundingBox())!.height).toBeGreaterThanOrEqual(44);
    }
    await page.click('#sensor-list summary:has-text("Flower Room · front")');
    for (const l of await page.locator('#sensor-list details[open] label').all()) {
      expect((await l.boundingBox())!.height).toBeGreaterThanOrEqual(44);
    }
    // the on-time rows open with a thumb
    await page.locator('.on-time-device').first().waitFor();
    for (const r of await page.locator('.on-time-device > summary').all()) {
      expect((await r.boundingBox())!.height).toBeGreaterThanOrEqual(44);
    }
    // the chart fits the width
    const chart = (await page.locator('#chart .history-plot').first().boundingBox())!;
    expect(chart.width).toBeLessThanOrEqual(390);
    // the axes are drawn in the page's (light) text colour on the dark background
    const fg = await page.$eval('#chart', (e) => getComputedStyle(e).color);
    expect(fg).not.toBe('rgb(0, 0, 0)');
    expect(fg).not.toBe('rgb(29, 42, 31)');
    await shotHistory(page, 'history-phone-dark.png');
    expect(errors).toEqual([]);
    await context.close();
  });
});
