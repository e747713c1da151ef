import { describe, expect, it } from 'vitest';
import { ZoneClock, parseClock, scheduleState, validTimeZone } from '../../../src/cea/control/timezone.js';

const berlin = new ZoneClock('Europe/Berlin');
const Z = (s: string) => Date.parse(s);

/** Every transition of a schedule, minute by minute, over [from, to). */
function transitions(
  on: string,
  off: string,
  from: number,
  to: number,
  zone: ZoneClock = berlin,
): { at: string; on: boolean }[] {
  const out: { at: string; on: boolean }[] = [];
  let prev = scheduleState(zone, parseClock(on), parseClock(off), from).on;
  for (let t = from + 60_000; t < to; t += 60_000) {
    const s = scheduleState(zone, parseClock(on), parseClock(off), t).on;
    if (s !== prev) out.push({ at: new Date(t).toISOString(), on: s });
    prev = s;
  }
  return out;
}

describe('time zone arithmetic', () => {
  it('knows local parts and offsets on both sides of the Berlin changes', () => {
    expect(berlin.offset(Z('2026-03-29T00:59:00Z'))).toBe(3_600_000);
    expect(berlin.offset(Z('2026-03-29T01:00:00Z'))).toBe(7_200_000);
    expect(berlin.offset(Z('2026-10-25T00:59:00Z'))).toBe(7_200_000);
    expect(berlin.offset(Z('2026-10-25T01:00:00Z'))).toBe(3_600_000);
    expect(berlin.date(Z('2026-03-28T23:30:00Z'))).toBe('2026-03-29');
  });

  it('maps local times to instants: normal, nonexistent (spring) and repeated (autumn)', () => {
    expect(new Date(berlin.instant(2026, 3, 29, parseClock('06:00'))).toISOString()).toBe('2026-03-29T04:00:00.000Z');
    expect(new Date(berlin.instant(2026, 3, 28, parseClock('06:00'))).toISOString()).toBe('2026-03-28T05:00:00.000Z');
    // 02:30 does not exist on 29 March: the jump at 01:00Z (03:00 CEST)
    expect(new Date(berlin.instant(2026, 3, 29, parseClock('02:30'))).toISOString()).toBe('2026-03-29T01:00:00.000Z');
    // 02:30 exists twice on 25 October: the first one (CEST)
    expect(new Date(berlin.instant(2026, 10, 25, parseClock('02:30'))).toISOString()).toBe('2026-10-25T00:30:00.000Z');
    expect(new Date(berlin.nextMidnight(Z('2026-10-25T12:00:00Z'))).toISOString()).toBe('2026-10-25T23:00:00.000Z');
  });

  it.each([
    // US: spring forward 02:00 EST → 03:00 EDT on 8 March, fall back 02:00 EDT → 01:00 EST on 1 November
    ['America/New_York', [2026, 3, 8, '02:30'], '2026-03-08T07:00:00.000Z'],
    ['America/New_York', [2026, 3, 8, '06:00'], '2026-03-08T10:00:00.000Z'],
    ['America/New_York', [2026, 11, 1, '01:30'], '2026-11-01T05:30:00.000Z'],
    // southern hemisphere: the clock falls back in April and springs forward in October
    ['Australia/Sydney', [2026, 4, 5, '02:30'], '2026-04-04T15:30:00.000Z'],
    ['Australia/Sydney', [2026, 10, 4, '02:30'], '2026-10-03T16:00:00.000Z'],
    // a half-hour daylight-saving shift (+10:30 ↔ +11)
    ['Australia/Lord_Howe', [2026, 10, 4, '02:15'], '2026-10-03T15:30:00.000Z'],
    ['Australia/Lord_Howe', [2026, 4, 5, '01:45'], '2026-04-04T14:45:00.000Z'],
    // a whole local day that never happened (Samoa crossed the date line: 29 Dec 2011 → 31 Dec)
    ['Pacific/Apia', [2011, 12, 30, '12:00'], '2011-12-30T10:00:00.000Z'],
    ['Pacific/Apia', [2011, 12, 31, '00:00'], '2011-12-30T10:00:00.000Z'],
  ] as const)('maps a local time across a transition in %s: %j → %s', (tz, [y, m, d, clock], iso) => {
    expect(new Date(new ZoneClock(tz).instant(y, m, d, parseClock(clock))).toISOString()).toBe(iso);
  });

  it('takes wall-clock times with fractions of a millisecond (as performance-based clocks give)', () => {
    const t = Z('2026-03-29T01:00:00Z') + 0.25;
    expect(berlin.offset(t)).toBe(7_200_000);
    expect(berlin.parts(t - 1)).toMatchObject({ hour: 1, minute: 59, second: 59 }); // just before the jump to 03:00
    expect(berlin.date(t)).toBe('2026-03-29');
    expect(scheduleState(berlin, parseClock('06:00'), parseClock('18:00'), Z('2026-03-29T04:00:00Z') + 0.5).on).toBe(
      true,
    );
  });

  it('refuses an unknown zone when a clock is made', () => {
    expect(() => new ZoneClock('Mars/Olympus')).toThrow(RangeError);
  });

  it('validates zone names and clock strings', () => {
    expect(validTimeZone('Europe/Berlin')).toBe(true);
    expect(validTimeZone('Mars/Olympus')).toBe(false);
    expect(() => parseClock('6:00')).toThrow(RangeError);
  });
});

describe('schedules across daylight-saving changes', () => {
  it('lights 06:00–18:00 switch at local 06:00 and 18:00 on the spring-forward day and around it', () => {
    expect(transitions('06:00', '18:00', Z('2026-03-28T00:00:00Z'), Z('2026-03-30T00:00:00Z'))).toEqual([
      { at: '2026-03-28T05:00:00.000Z', on: true },
      { at: '2026-03-28T17:00:00.000Z', on: false },
      { at: '2026-03-29T04:00:00.000Z', on: true },
      { at: '2026-03-29T16:00:00.000Z', on: false },
    ]);
  });

  it('lights 06:00–18:00 switch at local 06:00 and 18:00 on the fall-back day and around it', () => {
    expect(transitions('06:00', '18:00', Z('2026-10-24T00:00:00Z'), Z('2026-10-26T00:00:00Z'))).toEqual([
      { at: '2026-10-24T04:00:00.000Z', on: true },
      { at: '2026-10-24T16:00:00.000Z', on: false },
      { at: '2026-10-25T05:00:00.000Z', on: true },
      { at: '2026-10-25T17:00:00.000Z', on: false },
    ]);
  });

  it('an on time inside the skipped hour fires once, when the clock jumps', () => {
    const t = transitions('02:30', '12:00', Z('2026-03-28T12:00:00Z'), Z('2026-03-29T12:00:00Z'));
    expect(t).toEqual([
      { at: '2026-03-29T01:00:00.000Z', on: true },
      { at: '2026-03-29T10:00:00.000Z', on: false },
    ]);
  });

  it('an off time inside the repeated hour fires once (the first time), an overnight schedule is not re-toggled', () => {
    const t = transitions('20:00', '02:30', Z('2026-10-24T12:00:00Z'), Z('2026-10-25T12:00:00Z'));
    expect(t).toEqual([
      { at: '2026-10-24T18:00:00.000Z', on: true },
      { at: '2026-10-25T00:30:00.000Z', on: false },
    ]);
  });

  it('lights 06:00–18:00 keep local time through the US and the southern-hemisphere changes', () => {
    const ny = new ZoneClock('America/New_York');
    expect(transitions('06:00', '18:00', Z('2026-03-08T00:00:00Z'), Z('2026-03-09T00:00:00Z'), ny)).toEqual([
      { at: '2026-03-08T10:00:00.000Z', on: true },
      { at: '2026-03-08T22:00:00.000Z', on: false },
    ]);
    const sydney = new ZoneClock('Australia/Sydney');
    // 5 April: on at 06:00 AEST (+10) after the fall back at 03:00 AEDT
    expect(transitions('06:00', '18:00', Z('2026-04-04T12:00:00Z'), Z('2026-04-05T12:00:00Z'), sydney)).toEqual([
      { at: '2026-04-04T20:00:00.000Z', on: true },
      { at: '2026-04-05T08:00:00.000Z', on: false },
    ]);
  });

  it('an overnight schedule that spans the spring-forward gap switches once each way', () => {
    const t = transitions('22:00', '02:30', Z('2026-03-28T12:00:00Z'), Z('2026-03-29T12:00:00Z'));
    // on 22:00 CET (21:00Z); 02:30 does not exist on 29 March: off when the clock jumps (01:00Z)
    expect(t).toEqual([
      { at: '2026-03-28T21:00:00.000Z', on: true },
      { at: '2026-03-29T01:00:00.000Z', on: false },
    ]);
  });

  it('works in zones without DST and with half-hour offsets', () => {
    const kolkata = new ZoneClock('Asia/Kolkata');
    expect(scheduleState(kolkata, parseClock('06:00'), parseClock('18:00'), Z('2026-06-01T00:29:00Z')).on).toBe(false);
    expect(scheduleState(kolkata, parseClock('06:00'), parseClock('18:00'), Z('2026-06-01T00:30:00Z')).on).toBe(true);
  });
});
