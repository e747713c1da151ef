import { describe, expect, it } from 'vitest';
import { RecentKeys } from '../../src/util/recent.js';

describe('RecentKeys', () => {
  it('calls a key a repeat within the window and new again once the window has passed', () => {
    let now = 0;
    const r = new RecentKeys({ windowMs: 2000, max: 100, now: () => now });
    expect(r.seen('a')).toBe(false);
    now = 1999;
    expect(r.seen('a')).toBe(true);
    now = 2000;
    expect(r.seen('a')).toBe(false);
  });

  it('holds only the keys of the last window, however many went before', () => {
    let now = 0;
    const r = new RecentKeys({ windowMs: 2000, max: 10_000, now: () => now });
    for (let i = 0; i < 5000; i++) {
      now = i * 10; // 100 keys a second for 50 s
      r.seen(`k${i}`);
    }
    expect(r.size).toBe(200);
    expect(r.evicted).toBe(0);
  });

  it('caps a flood inside the window, forgetting the oldest first, and counts it', () => {
    let told = 0;
    const r = new RecentKeys({ windowMs: 2000, max: 3, now: () => 0, onEvict: () => told++ });
    for (const k of ['a', 'b', 'c', 'd']) r.seen(k);
    expect(r.size).toBe(3);
    expect(r.evicted).toBe(1);
    expect(told).toBe(1);
    expect(r.seen('a')).toBe(false); // forgotten: counts as new
    expect(r.seen('d')).toBe(true);
  });

  it('refuses a window or a cap that cannot work', () => {
    expect(() => new RecentKeys({ windowMs: 0, max: 10 })).toThrow(RangeError);
    expect(() => new RecentKeys({ windowMs: 1000, max: 0 })).toThrow(RangeError);
  });
});
