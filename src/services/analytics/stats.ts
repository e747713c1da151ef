/** Pure statistics of the analytics service: rolling windows, daily extremes, time in a band. */

export interface WindowStats {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
}

/** Readings of the last `windowMs`, summarised on demand. */
export class RollingWindow {
  readonly windowMs: number;
  #ts: number[] = [];
  #v: number[] = [];
  #head = 0;

  constructor(windowMs: number) {
    this.windowMs = windowMs;
  }

  add(ts: number, value: number): void {
    this.#ts.push(ts);
    this.#v.push(value);
  }

  stats(now: number): WindowStats {
    const from = now - this.windowMs;
    while (this.#head < this.#ts.length && (this.#ts[this.#head] as number) < from) this.#head++;
    if (this.#head > 1024 && this.#head > this.#ts.length / 2) {
      this.#ts = this.#ts.slice(this.#head);
      this.#v = this.#v.slice(this.#head);
      this.#head = 0;
    }
    const n = this.#v.length - this.#head;
    if (n <= 0) return { count: 0, min: null, max: null, mean: null, std: null };
    let min = Infinity;
    let max = -Infinity;
    let sum = 0;
    for (let i = this.#head; i < this.#v.length; i++) {
      const x = this.#v[i] as number;
      if (x < min) min = x;
      if (x > max) max = x;
      sum += x;
    }
    const mean = sum / n;
    let sq = 0;
    for (let i = this.#head; i < this.#v.length; i++) sq += ((this.#v[i] as number) - mean) ** 2;
    return { count: n, min: round(min), max: round(max), mean: round(mean), std: round(Math.sqrt(sq / n)) };
  }
}

export function round(x: number, digits = 4): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Local calendar date `YYYY-MM-DD`. */
export function localDay(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}

export interface DailyExtremes {
  day: string;
  min: number;
  max: number;
  min_at: string;
  max_at: string;
}

/**
 * The share of time a value spent inside a band, per day: the time between
 * two consecutive readings counts for the state of the earlier one, at most
 * `maxGapMs` (a longer silence is not counted either way).
 */
export class BandTimer {
  readonly maxGapMs: number;
  day = '';
  inMs = 0;
  totalMs = 0;
  #last: { ts: number; inside: boolean } | undefined;

  constructor(maxGapMs = 120_000) {
    this.maxGapMs = maxGapMs;
  }

  add(ts: number, inside: boolean): void {
    const day = localDay(ts);
    if (day !== this.day) {
      this.day = day;
      this.inMs = 0;
      this.totalMs = 0;
    } else if (this.#last && ts > this.#last.ts) {
      const dt = Math.min(ts - this.#last.ts, this.maxGapMs);
      this.totalMs += dt;
      if (this.#last.inside) this.inMs += dt;
    }
    this.#last = { ts, inside };
  }

  /** Fraction 0–1, or null before any time was counted. */
  get share(): number | null {
    return this.totalMs > 0 ? round(this.inMs / this.totalMs) : null;
  }
}
