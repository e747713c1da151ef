import { describe, expect, it } from 'vitest';
import { loadGate } from '../../bench/lib/load.js';

describe('load gate', () => {
  it('lets a benchmark start at or below the CPU count by default', () => {
    expect(loadGate(1.999, 2, undefined, false)).toMatchObject({ ok: true, load: 2, threshold: 2 });
  });
  it('refuses above the threshold with a reason, unless forced', () => {
    const g = loadGate(2.6, 2, undefined, false);
    expect(g.ok).toBe(false);
    expect(g.reason).toContain('--force');
    expect(loadGate(2.6, 2, undefined, true)).toMatchObject({ ok: true, load: 2.6 });
  });
  it('takes BENCH_MAX_LOAD when it is a positive number, and ignores it otherwise', () => {
    expect(loadGate(2.6, 2, '3', false)).toMatchObject({ ok: true, threshold: 3 });
    expect(loadGate(2.6, 2, 'lots', false)).toMatchObject({ ok: false, threshold: 2 });
    expect(loadGate(2.6, 2, '0', false)).toMatchObject({ ok: false, threshold: 2 });
  });
});
