import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { spawnSync } from '../support/run-sync.js';

const root = path.resolve(import.meta.dirname, '../..');

/**
 * The type tests of the bus's public API (test/bus/types/public-api.ts,
 * vitest `expectTypeOf`) compile against the built package through its
 * `exports` — the `types` condition of `canopy/bus` included.
 */
describe('the bus public API (types)', () => {
  it('compiles: every expected signature holds and every misuse is refused', () => {
    const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', 'test/bus/types/tsconfig.json'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 170_000,
    });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
