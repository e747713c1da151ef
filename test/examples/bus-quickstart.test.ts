import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { QuickstartResult } from '../../examples/bus-quickstart.js';
import { spawnSync } from '../support/run-sync.js';
import { startRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';

describe('examples/bus-quickstart.ts (docs/bus.md)', () => {
  it('runs as a program against a real Redis and walks topics, a stream, live state and the registry', async () => {
    const redis = await startRedis();
    const prefix = randomPrefix();
    const tsx = path.resolve('node_modules/.bin/tsx');
    const r = spawnSync(tsx, ['examples/bus-quickstart.ts', redis.url, prefix], { encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as QuickstartResult;
    expect(out.channels).toEqual([
      `${prefix}update`,
      `${prefix}update:Flower Room`,
      `${prefix}update:Flower Room:bench-1`,
    ]);
    expect(out.handled).toEqual([1, 2, 3].map((n) => ({ n: String(n), sensor: 'bench-1' })));
    expect(out.live).toBe('24.5');
    expect(out.seenCount).toBe(1);
  });
});
