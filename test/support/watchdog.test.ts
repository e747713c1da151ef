import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync, SYNC_TIMEOUT_MS } from './run-sync.js';
import { tempDir } from './tmp.js';

describe('a hung test cannot stall the run', () => {
  it('run-sync kills a synchronous child at its timeout and says so', () => {
    expect(SYNC_TIMEOUT_MS).toBeGreaterThan(0);
    const r = spawnSync('sleep', ['30'], { timeout: 300 });
    expect(r.status).toBeNull();
    expect((r.error as NodeJS.ErrnoException | undefined)?.code).toBe('ETIMEDOUT');
  });

  it('the watchdog reporter names a test file blocked in a synchronous call and fails the run', async () => {
    const dir = tempDir('canopy-watchdog-');
    // globals: the planted file imports nothing, so it resolves from a directory outside the project
    fs.writeFileSync(
      path.join(dir, 'stuck.test.js'),
      "const cp = require('node:child_process');\n" + "test('blocks', () => { cp.spawnSync('sleep', ['30']); });\n",
    );
    fs.writeFileSync(
      path.join(dir, 'vitest.config.mjs'),
      `export default { test: { globals: true, include: ['stuck.test.js'], reporters: [${JSON.stringify(
        path.resolve('test/support/watchdog-reporter.ts'),
      )}] } };\n`,
    );
    const child = spawn(process.execPath, [path.resolve('node_modules/vitest/vitest.mjs'), 'run', '--root', dir], {
      env: { ...process.env, CANOPY_TEST_FILE_LIMIT_MIN: '0.05' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(out).toContain('watchdog: stuck.test.js has run for more than');
    expect(code).toBe(1);
  }, 90_000);
});
