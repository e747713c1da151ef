import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from '../support/run-sync.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * The built bus runs from `dist/` alone: a temporary package holding only
 * package.json and `dist/src/bus/` (no `src/`), imported through the
 * package's `exports` (`canopy/bus`), runs its Lua scripts against a real
 * Redis — before and after SCRIPT FLUSH (EVALSHA, then EVAL on NOSCRIPT).
 */
describe('the bus from dist/ without src/', () => {
  let redis: TestRedis;
  let pkg: string;
  beforeAll(async () => {
    redis = await startRedis();
    pkg = tempDir('canopy-dist-bus-');
    const built = path.join(root, 'dist', 'src', 'bus');
    expect(fs.existsSync(path.join(built, 'index.js')), 'run `npm run build` first').toBe(true);
    fs.cpSync(built, path.join(pkg, 'dist', 'src', 'bus'), { recursive: true });
    fs.copyFileSync(path.join(root, 'package.json'), path.join(pkg, 'package.json'));
    fs.symlinkSync(path.join(root, 'node_modules'), path.join(pkg, 'node_modules'), 'dir');
  });

  it('ships its Lua scripts and runs them through the package export', () => {
    expect(fs.existsSync(path.join(pkg, 'src'))).toBe(false);
    expect(fs.readdirSync(path.join(pkg, 'dist', 'src', 'bus', 'lua')).sort()).toEqual(
      fs.readdirSync(path.join(root, 'src', 'bus', 'lua')).sort(),
    );
    fs.writeFileSync(
      path.join(pkg, 'check.mjs'),
      `import { Connection, Registry } from 'canopy/bus';
const conn = await Connection.connect({ url: process.argv[2], healthCheckIntervalMs: 0 });
const reg = new Registry(conn, { prefix: 'dist-test:' });
const first = await reg.touch('node', 'n1', { v: 1 });
await conn.client.sendCommand(['SCRIPT', 'FLUSH']);
const second = await reg.touch('node', 'n1', { v: 2 });
const stored = await reg.read('node', 'n1');
await conn.close();
process.stdout.write(JSON.stringify({ first, second, stored }));
`,
    );
    const r = spawnSync(process.execPath, ['check.mjs', redis.url], { cwd: pkg, encoding: 'utf8', timeout: 60_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as {
      first: unknown;
      second: Record<string, unknown>;
      stored: Record<string, unknown>;
    };
    expect(out.first).toBeNull();
    expect(out.second).toMatchObject({ v: 1, seen_count: 1 });
    expect(out.stored).toMatchObject({ v: 2, seen_count: 2 });
  });
});
