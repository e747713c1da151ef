import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from '../support/run-sync.js';
import { tempDir } from '../support/tmp.js';

/**
 * scripts/quickstart.sh in a copy of the repository's layout, with `npm`
 * and install-deps.sh replaced by recorders: what it runs, and when.
 */
function sandbox() {
  const root = tempDir('canopy-qs-');
  fs.mkdirSync(path.join(root, 'scripts'));
  fs.copyFileSync(path.resolve('scripts/quickstart.sh'), path.join(root, 'scripts/quickstart.sh'));
  const log = path.join(root, 'calls.log');
  fs.writeFileSync(path.join(root, 'scripts/install-deps.sh'), `echo "install-deps $*" >> '${log}'\n`);
  const bin = path.join(root, 'bin');
  fs.mkdirSync(bin);
  // npm ci makes node_modules (like the real one, which removes and recreates it)
  fs.writeFileSync(
    path.join(bin, 'npm'),
    `#!/bin/sh\necho "npm $*" >> '${log}'\nif [ "$1" = ci ]; then rm -rf node_modules; mkdir node_modules; fi\n`,
    { mode: 0o755 },
  );
  fs.writeFileSync(path.join(root, 'package-lock.json'), '{"lockfileVersion": 3}\n');
  const run = () => {
    fs.rmSync(log, { force: true });
    const r = spawnSync('bash', [path.join(root, 'scripts/quickstart.sh')], {
      encoding: 'utf8',
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    expect(r.status, r.stderr).toBe(0);
    return { calls: fs.readFileSync(log, 'utf8').trim().split('\n'), stdout: r.stdout };
  };
  return { root, run };
}

describe('the quick start reinstalls only when package-lock.json changed', () => {
  it('first run: npm ci then npm start; next run: no npm ci; a changed lock file: npm ci again', () => {
    const s = sandbox();
    expect(s.run().calls).toEqual(['install-deps run', 'npm ci', 'npm start']);
    const again = s.run();
    expect(again.calls).toEqual(['install-deps run', 'npm start']);
    expect(again.stdout).toContain('skipping npm ci');
    fs.writeFileSync(path.join(s.root, 'package-lock.json'), '{"lockfileVersion": 3, "changed": true}\n');
    expect(s.run().calls).toEqual(['install-deps run', 'npm ci', 'npm start']);
    fs.rmSync(path.join(s.root, 'node_modules'), { recursive: true }); // deleted by hand
    expect(s.run().calls).toEqual(['install-deps run', 'npm ci', 'npm start']);
  });
});
