import { spawnSync } from '../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../support/tmp.js';

/** `npm ci --dry-run` of this package.json + lock in a scratch directory: resolves the tree offline, prints engine warnings. */
function dryRunCi(pkg: string, lock: string): string {
  const dir = tempDir('canopy-engines-');
  fs.writeFileSync(path.join(dir, 'package.json'), pkg);
  fs.writeFileSync(path.join(dir, 'package-lock.json'), lock);
  fs.copyFileSync('.npmrc', path.join(dir, '.npmrc'));
  const r = spawnSync('npm', ['ci', '--dry-run', '--ignore-scripts', '--no-audit', '--no-fund'], {
    cwd: dir,
    encoding: 'utf8',
    env: { ...process.env, npm_config_loglevel: 'warn' },
  });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout + r.stderr;
}

describe('engines (issue 12, point 9)', () => {
  it('npm ci prints no EBADENGINE on this Node, and package.json says which Node it needs', () => {
    const pkg = JSON.parse(fs.readFileSync('package.json', 'utf8')) as {
      engines: { node: string };
      overrides?: Record<string, string>;
    };
    expect(pkg.engines.node).toBe('>=20.19');
    const out = dryRunCi(fs.readFileSync('package.json', 'utf8'), fs.readFileSync('package-lock.json', 'utf8'));
    expect(out).not.toMatch(/EBADENGINE/);
    // the two transitive dependencies whose newest majors want Node 22 stay on the line that supports 20
    expect(pkg.overrides).toMatchObject({ cookie: '1.1.1', 'content-disposition': '2.0.1' });
  });

  it('the check catches a dependency that wants a newer Node (a lock entry demanding Node 22)', () => {
    const lock = JSON.parse(fs.readFileSync('package-lock.json', 'utf8')) as {
      packages: Record<string, { engines?: Record<string, string> }>;
    };
    const entry = lock.packages['node_modules/fastify'];
    expect(entry).toBeDefined();
    (entry as { engines?: Record<string, string> }).engines = { node: '>=22' };
    const out = dryRunCi(fs.readFileSync('package.json', 'utf8'), JSON.stringify(lock));
    expect(out).toMatch(/EBADENGINE/);
    expect(out).toMatch(/fastify/);
  });

  it('.ci/run fails the build when npm ci prints EBADENGINE', () => {
    const run = fs.readFileSync('.ci/run', 'utf8');
    expect(run).toMatch(/npm ci 2>&1 \| tee "\$log"/);
    expect(run).toMatch(/grep -q EBADENGINE "\$log"/);
    expect(run).toMatch(/set -euo pipefail/);
  });
});
