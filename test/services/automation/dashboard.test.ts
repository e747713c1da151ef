import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from '../../support/run-sync.js';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { start as startApi, type ApiHandle } from '../../../src/services/api/index.js';
import { packageRoot } from '../../../src/services/api/options.js';
import { start, type AutomationHandle } from '../../../src/services/automation/index.js';
import type { Logger } from '../../../src/util/log.js';
import { startRedis } from '../../support/redis.js';
import { until, writeDevices } from './helpers.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;
const OPERATOR = 'operator-token-dashboard-0001';

describe('dashboard device controls and setpoint editing (headless Chromium)', () => {
  let api: ApiHandle;
  let automation: AutomationHandle;
  let browser: Browser;
  const sim = new Mcp23017Simulator({ addresses: [0x20, 0x21] });

  beforeAll(async () => {
    const root = packageRoot();
    if (!fs.existsSync(path.join(root, 'web', 'dist', 'index.html')))
      execFileSync('npx', ['vite', 'build', '--config', 'web/vite.config.ts'], { cwd: root, stdio: 'ignore' });
    const redis = await startRedis();
    const devicesFile = writeDevices();
    process.env.AUTOMATION_DEVICES = devicesFile;
    api = await startApi({ port: 0, redisUrl: redis.url, tokens: `operator:${OPERATOR}`, logger: log });
    automation = await start({
      devicesFile,
      bus: sim,
      store: null,
      redisUrl: redis.url,
      tickMs: 100,
      persistMs: 20,
      logger: log,
    });
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--headless', '--no-sandbox', '--disable-gpu'],
    });
  });

  afterAll(async () => {
    await browser?.close();
    await automation?.stop();
    await api?.stop();
  });

  it('switches a relay and edits a setpoint with an operator token, and says why without one', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${api.url}/`, { waitUntil: 'load' });
    const row = '#controls tr[data-device="lights_f"]';
    await page.waitForSelector(row);
    // without a token: refused, nothing switches
    await page.click(`${row} button:text("On")`);
    await page.waitForFunction(() => /refused/.test(document.querySelector('#controls p')?.textContent ?? ''));
    expect(await page.textContent('#controls p')).toMatch(/operator token/);
    expect(sim.output(0x20, 'A', 1)).toBe(0);
    // with one: the relay switches and the row follows
    await page.fill('#controls input[type="password"]', OPERATOR);
    await page.dispatchEvent('#controls input[type="password"]', 'change');
    await page.click(`${row} button:text("On")`);
    await until(() => sim.output(0x20, 'A', 1) === 1, 'lights on from the dashboard');
    await page.waitForFunction((sel) => document.querySelector(sel)?.textContent?.includes('ON') ?? false, row, {
      timeout: 15_000,
    });
    expect(await page.textContent(row)).toMatch(/manual/);
    // setpoint editing
    const sp = '#controls tr[data-setpoint="temp_f"]';
    await page.waitForSelector(sp);
    await page.fill(`${sp} input`, '24.5');
    await page.click(`${sp} button`);
    await until(() => automation.engine.setpoints().temp_f === 24.5, 'setpoint from the dashboard');
    expect(errors).toEqual([]);
  });
});
