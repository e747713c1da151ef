import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/services/api/options.js';
import { startApi } from '../services/api/helpers.js';
import { tempDir } from '../support/tmp.js';

const ARTIFACTS = path.join(packageRoot(), 'test-artifacts');

type Ctx = Awaited<ReturnType<typeof startApi>>;
let t: Ctx;
let browser: Browser;

beforeAll(async () => {
  t = await startApi({ databaseUrl: `sqlite:${path.join(tempDir(), 'canopy.db')}` });
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--no-first-run'],
  });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe('/docs: a readable API reference, served by the API itself', () => {
  for (const [name, viewport] of [
    ['desktop', { width: 1280, height: 900 }],
    ['phone', { width: 390, height: 844 }],
  ] as const) {
    it(`renders the route list from local files only (${name})`, async () => {
      const page = await browser.newPage({ viewport });
      const foreign: string[] = [];
      page.on('request', (r) => {
        if (!r.url().startsWith(t.api.url) && !r.url().startsWith('data:')) foreign.push(r.url());
      });
      await page.goto(`${t.api.url}/docs`);
      // the routes, grouped by tag, each with its method and path
      const rooms = page.locator('.opblock-summary-path', { hasText: /^\/api\/rooms$/ });
      await rooms.first().waitFor({ state: 'visible', timeout: 30_000 });
      await expect.poll(() => page.locator('.opblock').count(), { timeout: 30_000 }).toBeGreaterThan(10);
      const paths = await page.locator('.opblock-summary-path').allInnerTexts();
      expect(paths.map((p) => p.replace(/\u200b/g, ''))).toEqual(
        expect.arrayContaining(['/health', '/api/sensors', '/api/rooms', '/api/export']),
      );
      await expect.poll(() => page.title()).toBe('Canopy API reference');
      await page.screenshot({ path: path.join(ARTIFACTS, `api-docs-${name}.png`), fullPage: false });
      expect(foreign).toEqual([]); // no CDN: every script, style and font comes from the API
      await page.close();
    }, 90_000);
  }

  it('the OpenAPI document stays at /docs/json', async () => {
    const res = await fetch(`${t.api.url}/docs/json`);
    expect(res.status).toBe(200);
    const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths)).toContain('/api/rooms');
  });
});
