import { describe, expect, it } from 'vitest';
import { ZoneClock, parseClock, scheduleState, validTimeZone } from '../../../src/cea/control/timezone.js';

const berlin = new ZoneClock('Europe/Berlin');
const Z = (s: string) => Date.parse(s);

/** Every transition of a schedule, minute by minute, over [from, to). */
function transitions(on: string, off: string, from: number, to: number): { at: string; on: boolean }[] {
  const out: { at: string; on: boolean }[] = [];
  let prev = scheduleState(berlin, parseClock(on), parseClock(off), from).on;
  for (let t = from + 60_000; t < to; t += 60_000) {
    const s = scheduleState(berlin, parseClock(on), parseClock(off), t).on;
    if (s !== prev) out.push({ at: new Date(t).toISOString(), on: s });
    prev = s;
  }
  return out;
}

describe('time zone arithmetic with Intl only', () => {
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

  it('works in zones without DST and with half-hour offsets', () => {
    const kolkata = new ZoneClock('Asia/Kolkata');
    expect(scheduleState(kolkata, parseClock('06:00'), parseClock('18:00'), Z('2026-06-01T00:29:00Z')).on).toBe(false);
    expect(scheduleState(kolkata, parseClock('06:00'), parseClock('18:00'), Z('2026-06-01T00:30:00Z')).on).toBe(true);
  });
});
