import { describe, expect, it } from 'vitest';
import { ClockStepDetector, formatDuration, formatStep, monoOf, wallOf } from '../../../src/cea/control/clock.js';

describe('clock', () => {
  it('notices a wall-clock step beyond the threshold, either way, and nothing else', () => {
    const d = new ClockStepDetector(2000);
    expect(d.observe({ mono: 0, wall: 1_000_000 })).toBeUndefined();
    expect(d.observe({ mono: 500, wall: 1_000_500 })).toBeUndefined();
    expect(d.observe({ mono: 1000, wall: 1_000_000 + 1000 + 1900 })).toBeUndefined(); // within 2 s: drift
    expect(d.observe({ mono: 1500, wall: 1_000_000 + 1500 + 1900 - 3_600_000 })).toBe(-3_600_000);
    expect(d.observe({ mono: 2000, wall: 1_000_000 + 2000 + 1900 - 3_600_000 + 86_400_000 })).toBe(86_400_000);
  });

  it('converts between the clocks as seen from one instant', () => {
    const now = { mono: 10_000, wall: 1_700_000_000_000 };
    expect(wallOf(4000, now)).toBe(1_700_000_000_000 - 6000);
    expect(monoOf(1_700_000_000_000 + 60_000, now)).toBe(70_000);
  });

  it('formats durations and steps for people', () => {
    expect(formatDuration(200_000)).toBe('3 min 20 s');
    expect(formatDuration(4_250)).toBe('4.3 s');
    expect(formatDuration(7_200_000)).toBe('2 h');
    expect(formatStep(-3_600_000)).toBe('-1 h');
    expect(formatStep(93_784_000)).toBe('+1 d 2 h 3 min 4 s');
  });
});
