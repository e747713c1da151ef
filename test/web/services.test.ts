import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from '../support/run-sync.js';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { FabricFiles } from '../../src/bus/fallback/records.js';
import { Heartbeat } from '../../src/bus/presence.js';
import { packageRoot } from '../../src/services/api/options.js';
import { startApi, VIEWER_TOKEN } from '../services/api/helpers.js';
import { tempDir } from '../support/tmp.js';

const ROOT = packageRoot();
const ARTIFACTS = path.join(ROOT, 'test-artifacts');

type Ctx = Awaited<ReturnType<typeof startApi>>;
let t: Ctx;
let browser: Browser;
let conn: Connection;
let worker: Heartbeat;

function ensureBuilt(): void {
  if (fs.existsSync(path.join(ROOT, 'web', 'dist', 'index.html'))) return;
  execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts'], { cwd: ROOT, stdio: 'ignore' });
}

const iso = (agoMs: number) => new Date(Date.now() - agoMs).toISOString();

beforeAll(async () => {
  ensureBuilt();
  const fabricDir = path.join(tempDir(), 'fabric');
  t = await startApi({ databaseUrl: `sqlite:${path.join(tempDir(), 'canopy.db')}`, fabricDir });
  conn = await Connection.connect({ url: t.redis.url, healthCheckIntervalMs: 0 });
  conn.on('error', () => undefined);
  // a worker beating to Redis through the bus (TTL 1 h so a slow machine never sees it expire)
  worker = await Heartbeat.start(conn, {
    service: 'worker',
    instance: 'pi:worker:101',
    version: '1.4.2',
    ttlSeconds: 3600,
  });
  // a scanner started 2 h ago, as its heartbeat key says
  const scanner = {
    service: 'scanner',
    instance: 'pi:scanner:102',
    pid: 102,
    host: 'pi',
    version: '1.4.2',
    started_at: iso(2 * 3600_000),
    updated_at: iso(0),
    scans: 42,
  };
  await t.client.set(`heartbeat:${scanner.instance}`, JSON.stringify(scanner), { EX: 3600 });
  // a recorder with a 1 h TTL whose last beat is 50 min old: near its TTL (10 min left)
  const recorder = {
    ...scanner,
    service: 'recorder',
    instance: 'pi:recorder:103',
    pid: 103,
    updated_at: iso(50 * 60_000),
  };
  await t.client.set(`heartbeat:${recorder.instance}`, JSON.stringify(recorder), { EX: 600 });
  // alerts with a 1 h TTL whose last beat is 5 min old: well inside its TTL, so up
  const alerts = { ...scanner, service: 'alerts', instance: 'pi:alerts:105', pid: 105, updated_at: iso(5 * 60_000) };
  await t.client.set(`heartbeat:${alerts.instance}`, JSON.stringify(alerts), { EX: 3300 });
  // an exporter that lost Redis: its beat is in the fallback heartbeat file the API reads
  const files = new FabricFiles({ dir: fabricDir });
  await files.writeHeartbeat(
    {
      service: 'exporter',
      instance: 'barn:exporter:104',
      pid: 104,
      host: 'barn',
      version: '1.3.0',
      started_at: iso(40 * 60_000),
      updated_at: iso(0),
    },
    3600_000,
  );
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await worker?.close();
  await conn?.close();
});

async function openPage(viewport: { width: number; height: number }): Promise<{ page: Page; errors: string[] }> {
  const page = await browser.newPage({ viewport });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  await page.addInitScript((tok) => sessionStorage.setItem('canopy.token', tok), VIEWER_TOKEN);
  await page.goto(`${t.api.url}/`, { waitUntil: 'load' });
  await page.waitForSelector('#services li[data-service="exporter"]', { timeout: 30_000 });
  return { page, errors };
}

const row = (page: Page, service: string) => page.locator(`#services li[data-service="${service}"]`);

describe('Services panel in headless Chromium', () => {
  it('shows Redis and file heartbeats, stale and missing services, and the API status', async () => {
    const { page, errors } = await openPage({ width: 1280, height: 900 });
    // the API answers; automation, expected on every install, is not running
    expect(await page.textContent('#services .services-overall')).toBe('1 not running');
    expect(await page.getAttribute('#services .services-overall', 'data-status')).toBe('degraded');
    expect(await row(page, 'worker').getAttribute('data-state')).toBe('up');
    expect(await row(page, 'worker').locator('.version').textContent()).toBe('v1.4.2');
    expect(await row(page, 'worker').locator('.via-file').count()).toBe(0);
    expect(await row(page, 'scanner').getAttribute('data-state')).toBe('up');
    expect(await row(page, 'scanner').locator('.since').textContent()).toBe('up 2 h');
    expect(await row(page, 'scanner').locator('.state').textContent()).toBe('up');
    expect(await row(page, 'recorder').getAttribute('data-state')).toBe('stale');
    expect(await row(page, 'recorder').locator('.beat').textContent()).toBe('beat 50 min ago');
    expect(await row(page, 'alerts').getAttribute('data-state')).toBe('up');
    expect(await row(page, 'automation').getAttribute('data-state')).toBe('missing');
    expect(await row(page, 'automation').locator('.state').textContent()).toBe('not running');
    const exporter = row(page, 'exporter');
    expect(await exporter.getAttribute('data-state')).toBe('up');
    expect(await exporter.locator('.via-file').textContent()).toBe('via file (Redis unreachable)');
    expect(await exporter.locator('.since').textContent()).toBe('up 40 min');
    await page.locator('#services').scrollIntoViewIfNeeded();
    await page.screenshot({ path: path.join(ARTIFACTS, 'services-desktop.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('follows a service that stops, and fits a phone screen', async () => {
    const { page, errors } = await openPage({ width: 390, height: 844 });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    expect(overflow).toBeLessThanOrEqual(0);
    // the scanner reports failures, then exits: its key goes, the next poll (every 5 s) lists it as not
    // running — with when it last beat and the errors it reported then, which the page remembers
    const last = JSON.parse((await t.client.get('heartbeat:pi:scanner:102')) as string) as Record<string, unknown>;
    await t.client.set('heartbeat:pi:scanner:102', JSON.stringify({ ...last, errors: 3, updated_at: iso(0) }), {
      EX: 3600,
    });
    await page.waitForFunction(
      () => document.querySelector('#services li[data-service="scanner"] .errors')?.textContent === '3 errors',
      undefined,
      { timeout: 30_000 },
    );
    await t.client.del('heartbeat:pi:scanner:102');
    await page.waitForSelector('#services li[data-service="scanner"][data-state="missing"]', { timeout: 30_000 });
    const gone = row(page, 'scanner');
    expect(await gone.locator('.state').textContent()).toBe('not running');
    expect(await gone.locator('.last-beat').textContent()).toMatch(/^last beat (just now|\d+ s ago)$/);
    expect(await gone.locator('.has-errors').textContent()).toBe('3 errors');
    expect(await gone.locator('.since').count()).toBe(0); // nothing that reads as running
    expect(await page.textContent('#services .services-overall')).toBe('2 not running');
    expect(await row(page, 'worker').getAttribute('data-state')).toBe('up');
    // alerts is not one of the services every install runs, but it ran while the page was open: when it
    // stops it stays listed, red, and counts as not running (until the page is opened again)
    await t.client.del('heartbeat:pi:alerts:105');
    await page.waitForSelector('#services li[data-service="alerts"][data-state="missing"]', { timeout: 30_000 });
    expect(await row(page, 'alerts').locator('.state').textContent()).toBe('not running');
    expect(await row(page, 'alerts').locator('.last-beat').textContent()).toMatch(/^last beat \d+ min ago$/);
    expect(await page.textContent('#services .services-overall')).toBe('3 not running');
    const red = (service: string) =>
      row(page, service)
        .locator('.state')
        .evaluate((e) => getComputedStyle(e).color);
    expect(await red('alerts')).toBe(await red('scanner')); // the colour of an expected service that stopped
    expect(await red('alerts')).not.toBe(await red('worker'));
    await page.locator('#services').screenshot({ path: path.join(ARTIFACTS, 'services-phone.png') });
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.locator('#services').screenshot({ path: path.join(ARTIFACTS, 'services-phone-dark.png') });
    expect(errors).toEqual([]);
    await page.close();
  });

  it('says where history is read from when a replica is configured, and when it is down', async () => {
    const { page, errors } = await openPage({ width: 390, height: 844 });
    expect(await page.isVisible('#services .services-reads')).toBe(false); // no replica configured here
    // /health as an API with DATABASE_READ_URL answers it: the replica up, then down
    let replicaUp = true;
    await page.route('**/health', async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as Record<string, unknown>;
      body.reads = {
        target: 'replica',
        reads: { replica: 40, primary: replicaUp ? 0 : 3 },
        fallbacks: replicaUp ? 0 : 3,
        replica: {
          server: 'pi-db:5433/canopy',
          up: replicaUp,
          lagMs: replicaUp ? 120 : null,
          replayedAt: null,
          streaming: replicaUp,
          inRecovery: true,
        },
      };
      await route.fulfill({ response: res, json: body });
    });
    await page.waitForSelector('#services .services-reads:not([hidden])', { timeout: 30_000 });
    expect(await page.textContent('#services .services-reads')).toBe('History from the replica (120 ms behind)');
    replicaUp = false;
    await page.waitForSelector('#services .services-reads[data-ok="false"]', { timeout: 30_000 });
    expect(await page.textContent('#services .services-reads')).toBe(
      'History replica down: reads from the primary · 3 reads fell back to the primary',
    );
    await page.locator('#services').screenshot({ path: path.join(ARTIFACTS, 'services-phone-replica-down.png') });
    expect(errors).toEqual([]);
    await page.close();
  });
});
