/**
 * Screenshots of a running dashboard for the docs (docs/img/): what a
 * grower sees on a desktop, a phone and the kiosk, signed in as an
 * operator. Usage, with `canopy up` running:
 *
 *   npx tsx scripts/screenshots.ts http://127.0.0.1:8000/ data/operator.token [outDir]
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [url = 'http://127.0.0.1:8000/', tokenFile = 'data/operator.token', out = 'docs/img'] = process.argv.slice(2);
const token = fs.readFileSync(tokenFile, 'utf8').trim();
fs.mkdirSync(out, { recursive: true });

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
});
try {
  const shots: Array<{ name: string; width: number; height: number; hash?: string; full?: boolean }> = [
    { name: 'dashboard-desktop', width: 1280, height: 1100 },
    { name: 'dashboard-phone', width: 390, height: 844 },
    { name: 'dashboard-kiosk', width: 1280, height: 800, hash: '#kiosk' },
  ];
  for (const s of shots) {
    const page = await browser.newPage({ viewport: { width: s.width, height: s.height }, deviceScaleFactor: 1 });
    // the token as the page keeps it (this tab only), before any script runs
    await page.addInitScript((t) => sessionStorage.setItem('canopy.token', t), token);
    await page.goto(new URL(s.hash ?? '', url).toString());
    await page.waitForSelector(s.hash ? '#kiosk [data-room]' : '#rooms [data-room]', { timeout: 30_000 });
    await page.waitForTimeout(3000); // live values and device states arrive over /ws
    await page.screenshot({ path: path.join(out, `${s.name}.png`), fullPage: s.full ?? false });
    await page.close();
    console.log(`wrote ${path.join(out, `${s.name}.png`)}`);
  }
} finally {
  await browser.close();
}
