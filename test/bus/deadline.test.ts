import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { withDeadline } from '../../src/bus/deadline.js';
import { TimeoutError } from '../../src/bus/errors.js';

const later = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));
const failLater = (ms: number, err: Error) => new Promise<never>((_, j) => setTimeout(() => j(err), ms));

describe('withDeadline', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('settles as the work does when it is in time, and clears its timer', async () => {
    const ok = withDeadline(later(10, 'done'), 50, () => 'late' as const);
    await vi.advanceTimersByTimeAsync(10);
    await expect(ok).resolves.toBe('done');
    expect(vi.getTimerCount()).toBe(0);

    const bad = withDeadline(failLater(10, new Error('refused')), 50, () => 'late' as const);
    const seen = expect(bad).rejects.toThrow('refused');
    await vi.advanceTimersByTimeAsync(10);
    await seen;
    expect(vi.getTimerCount()).toBe(0);
  });

  it("takes late()'s value, or its error, once the time is up", async () => {
    const value = withDeadline(later(100, 'done'), 20, () => 'late' as const);
    await vi.advanceTimersByTimeAsync(20);
    await expect(value).resolves.toBe('late');

    const thrown = withDeadline(later(100, 'done'), 20, () => {
      throw new TimeoutError('no reply within 20 ms');
    });
    const seen = expect(thrown).rejects.toBeInstanceOf(TimeoutError);
    await vi.advanceTimersByTimeAsync(20);
    await seen;
    await vi.advanceTimersByTimeAsync(100);
  });

  it('leaves a rejection of the work after the deadline handled', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown) => unhandled.push(r);
    process.on('unhandledRejection', onUnhandled);
    try {
      const p = withDeadline(failLater(100, new Error('too late to matter')), 20, () => 'late' as const);
      await vi.advanceTimersByTimeAsync(20);
      await expect(p).resolves.toBe('late');
      await vi.advanceTimersByTimeAsync(100);
      for (let i = 0; i < 3; i++) await new Promise((r) => process.nextTick(r));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });

  it('sets no deadline for 0, a negative or an infinite time', async () => {
    for (const ms of [0, -5, Infinity, NaN]) {
      const work = later(1_000, ms);
      expect(withDeadline(work, ms, () => 'late' as const)).toBe(work);
    }
    await vi.advanceTimersByTimeAsync(1_000);
  });
});
