import { describe, expect, it } from 'vitest';
import { CycleDateError, cycleView, localDate, parseCycleDate } from '../../src/cea/cycle.js';

describe('grow cycle week and day', () => {
  it('the start date is week 1, day 1; day 20 is week 3, day 6', () => {
    const noon = (d: string) => Date.parse(`${d}T12:00:00Z`);
    expect(cycleView('flower', '2026-11-01', noon('2026-11-01'), 'UTC').label).toBe('week 1, day 1');
    expect(cycleView('flower', '2026-11-01', noon('2026-11-07'), 'UTC')).toMatchObject({ week: 1, day: 7 });
    expect(cycleView('flower', '2026-11-01', noon('2026-11-08'), 'UTC')).toMatchObject({ week: 2, day: 1 });
    const v = cycleView('flower', '2026-11-01', noon('2026-11-20'), 'UTC');
    expect(v).toEqual({ stage: 'flower', start: '2026-11-01', week: 3, day: 6, label: 'week 3, day 6' });
  });

  it('counts days in the configured time zone, not UTC', () => {
    // 23:30 UTC on 31 Oct is already 1 Nov in Berlin (UTC+1) but still 31 Oct in New York
    const t = Date.parse('2026-10-31T23:30:00Z');
    expect(cycleView('veg', '2026-11-01', t, 'Europe/Berlin').label).toBe('week 1, day 1');
    expect(cycleView('veg', '2026-11-01', t, 'America/New_York').label).toBe('starts in 1 day');
    expect(localDate(t, 'Europe/Berlin')).toBe('2026-11-01');
    expect(localDate(t, 'UTC')).toBe('2026-10-31');
  });

  it('a day is a calendar day across a daylight-saving change', () => {
    // Berlin leaves summer time on 25 Oct 2026: that day has 25 hours
    const t = Date.parse('2026-10-26T00:30:00+01:00');
    expect(cycleView('veg', '2026-10-25', t, 'Europe/Berlin')).toMatchObject({ week: 1, day: 2 });
    const justBefore = Date.parse('2026-10-25T23:59:00+01:00');
    expect(cycleView('veg', '2026-10-25', justBefore, 'Europe/Berlin')).toMatchObject({ week: 1, day: 1 });
  });

  it('a start ahead says how many days are left', () => {
    const v = cycleView('flower', '2026-12-10', Date.parse('2026-12-07T10:00:00Z'), 'UTC');
    expect(v).toMatchObject({ week: 0, day: -3, label: 'starts in 3 days' });
  });

  it('refuses dates that are not calendar dates', () => {
    for (const bad of ['2026-02-30', '2026-13-01', '26-11-01', '2026-11-1', 'yesterday', ''])
      expect(() => parseCycleDate(bad), bad).toThrow(CycleDateError);
    expect(parseCycleDate('2028-02-29').toString()).toBe('2028-02-29');
  });
});
