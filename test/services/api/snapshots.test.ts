import { describe, expect, it } from 'vitest';
import { LiveSnapshots } from '../../../src/services/api/live.js';

describe('LiveSnapshots (shared live reads)', () => {
  it('concurrent callers share a read; a caller arriving mid-read gets the next one', async () => {
    let reads = 0;
    const gates: Array<() => void> = [];
    const s = new LiveSnapshots(async () => {
      const n = ++reads;
      await new Promise<void>((r) => gates.push(r));
      return `read ${n}`;
    });
    const a = s.get(); // starts read 1
    const b = s.get(); // arrives while read 1 is in flight: waits for read 2
    const c = s.get(); // shares read 2 with b
    expect(reads).toBe(1);
    gates.shift()!();
    expect(await a).toBe('read 1');
    await new Promise((r) => setTimeout(r, 0));
    expect(reads).toBe(2);
    gates.shift()!();
    expect(await b).toBe('read 2');
    expect(await c).toBe('read 2');
    // idle again: a new caller starts a fresh read
    const d = s.get();
    expect(reads).toBe(3);
    gates.shift()!();
    expect(await d).toBe('read 3');
  });

  it('a failed read rejects its callers and does not block the next', async () => {
    let fail = true;
    const s = new LiveSnapshots(async () => {
      if (fail) throw new Error('redis down');
      return 'ok';
    });
    await expect(s.get()).rejects.toThrow('redis down');
    fail = false;
    expect(await s.get()).toBe('ok');
  });
});
