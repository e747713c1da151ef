/**
 * Wall-clock arithmetic in an IANA time zone with nothing but
 * Intl.DateTimeFormat (no time-zone library): local parts of an instant,
 * and the instant of a local time, including the daylight-saving edge
 * cases — a local time that does not exist (spring forward) maps to the
 * moment the clock jumps past it; one that exists twice (fall back) maps to
 * its first occurrence.
 */
export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

/** One formatter per zone, created on first use (creating one costs far more than using it). */
export class ZoneClock {
  readonly timeZone: string;
  readonly #fmt: Intl.DateTimeFormat;
  /** Local date and minute → instant; bounded (cleared when it grows past 1024 entries). */
  readonly #instants = new Map<string, number>();

  constructor(timeZone: string) {
    this.timeZone = timeZone;
    this.#fmt = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
  }

  /** The local calendar date and time of an instant (ms since the epoch). */
  parts(ms: number): LocalParts {
    const p: Record<string, number> = {};
    for (const x of this.#fmt.formatToParts(new Date(ms))) if (x.type !== 'literal') p[x.type] = Number(x.value);
    return {
      year: p.year!,
      month: p.month!,
      day: p.day!,
      hour: p.hour! % 24,
      minute: p.minute!,
      second: p.second!,
    };
  }

  /** UTC offset in ms at an instant (local − UTC). */
  offset(ms: number): number {
    const p = this.parts(ms);
    const asUtc = Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second);
    return asUtc - Math.floor(ms / 1000) * 1000;
  }

  /** `YYYY-MM-DD` of the local date of an instant. */
  date(ms: number): string {
    const p = this.parts(ms);
    return `${p.year}-${String(p.month).padStart(2, '0')}-${String(p.day).padStart(2, '0')}`;
  }

  /**
   * The instant at which the local clock shows `minuteOfDay` on the given
   * local date (month 1–12). Nonexistent times give the end of the gap;
   * repeated times give the first occurrence.
   */
  instant(year: number, month: number, day: number, minuteOfDay: number): number {
    const key = `${year}-${month}-${day}-${minuteOfDay}`;
    const hit = this.#instants.get(key);
    if (hit !== undefined) return hit;
    if (this.#instants.size > 1024) this.#instants.clear();
    const t = this.#instant(year, month, day, minuteOfDay);
    this.#instants.set(key, t);
    return t;
  }

  #instant(year: number, month: number, day: number, minuteOfDay: number): number {
    const guess = Date.UTC(year, month - 1, day, 0, minuteOfDay);
    const before = this.offset(guess - 26 * 3_600_000);
    const after = this.offset(guess + 26 * 3_600_000);
    const hits: number[] = [];
    for (const o of new Set([before, after, this.offset(guess)])) {
      const t = guess - o;
      if (Date.UTC(year, month - 1, day, 0, minuteOfDay) === this.#localMinuteUtc(t)) hits.push(t);
    }
    if (hits.length) return Math.min(...hits);
    // In a gap: the clock jumps from before `guess` (offset `before`) to after it; find the jump.
    let lo = guess - after; // still on the old offset, local time before the gap
    let hi = guess - before; // already on the new offset, local time after the gap
    while (hi - lo > 1000) {
      const mid = Math.floor((lo + hi) / 2 / 1000) * 1000;
      if (this.offset(mid) === before) lo = mid;
      else hi = mid;
    }
    return hi;
  }

  /** Local midnight starting the local date after the one containing `ms`. */
  nextMidnight(ms: number): number {
    const p = this.parts(ms);
    const d = new Date(Date.UTC(p.year, p.month - 1, p.day + 1));
    return this.instant(d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), 0);
  }

  #localMinuteUtc(t: number): number {
    const p = this.parts(t);
    return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute);
  }
}

/** Whether `tz` is a time zone this runtime knows. */
export function validTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

/** `HH:MM` → minutes after midnight. */
export function parseClock(s: string): number {
  const m = /^(\d{2}):(\d{2})$/.exec(s);
  if (!m) throw new RangeError(`not a HH:MM time: ${s}`);
  return Number(m[1]) * 60 + Number(m[2]);
}

/**
 * Whether a daily on/off schedule is on at `now`, decided by the most recent
 * of its on and off events (each happens exactly once per local day, even on
 * the days the clock changes). Also returns when that event was.
 */
export function scheduleState(
  zone: ZoneClock,
  onMinute: number,
  offMinute: number,
  now: number,
): { on: boolean; since: number } {
  const p = zone.parts(now);
  let best: { on: boolean; since: number } = { on: false, since: -Infinity };
  for (const dayOffset of [-1, 0]) {
    const d = new Date(Date.UTC(p.year, p.month - 1, p.day + dayOffset));
    const [y, m, dd] = [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate()];
    for (const [minute, on] of [
      [onMinute, true],
      [offMinute, false],
    ] as const) {
      const t = zone.instant(y, m, dd, minute);
      if (t <= now && t > best.since) best = { on, since: t };
    }
  }
  return best;
}
