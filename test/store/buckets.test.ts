import { describe, expect, it } from 'vitest';
import { bucketCount, chooseWidth, fitPoints } from '../../src/store/buckets.js';

describe('history buckets', () => {
  it('a one-point history of a range across 1970-01-01 gets a width (this once looped forever)', () => {
    const to = Date.UTC(2026, 11, 1);
    const w = chooseWidth(-18, to, 1);
    expect(w).toBeGreaterThan(0);
    // epoch-aligned: the boundary at 0 always splits it in two, never more
    expect(bucketCount(-18, to, w)).toBe(2);
    // two points of any range, one of a range inside one bucket
    expect(bucketCount(-5e12, to, chooseWidth(-5e12, to, 2))).toBeLessThanOrEqual(2);
    expect(bucketCount(1000, to, chooseWidth(1000, to, 1))).toBe(1);
  });

  it('fitPoints merges consecutive points into at most the asked number, weighting the mean by count', () => {
    const pts = [
      { t: -100, min: 1, max: 3, avg: 2, count: 1 },
      { t: 0, min: 0, max: 10, avg: 5, count: 3 },
    ];
    expect(fitPoints(pts, 2)).toBe(pts);
    expect(fitPoints(pts, 1)).toEqual([{ t: -100, min: 0, max: 10, avg: 17 / 4, count: 4 }]);
  });
});
