/** Pure statistics of the analytics service: rolling windows, daily extremes, time in a band. */

export interface WindowStats {
  count: number;
  min: number | null;
  max: number | null;
  mean: number | null;
  std: number | null;
}

/** Least-squares trend of a window. */
export interface WindowTrend {
  /** Readings in the window. */
  points: number;
  /** Seconds from the first to the last of them. */
  span_s: number;
  /** Units per hour; null when there is too little to fit. */
  slope_per_h: number | null;
  /** Goodness of the fit, 0–1 (1 for a flat or perfectly straight series); null with the slope. */
  r2: number | null;
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

  #prune(now: number): void {
    const from = now - this.windowMs;
    while (this.#head < this.#ts.length && (this.#ts[this.#head] as number) < from) this.#head++;
    if (this.#head > 1024 && this.#head > this.#ts.length / 2) {
      this.#ts = this.#ts.slice(this.#head);
      this.#v = this.#v.slice(this.#head);
      this.#head = 0;
    }
  }

  /**
   * Least-squares line through the window's readings: slope per hour and
   * R². The slope is null with fewer than `minPoints` readings or when they
   * span less than `minSpanMs` (too little to say where the value goes).
   */
  trend(now: number, minPoints = 3, minSpanMs = 0): WindowTrend {
    this.#prune(now);
    const n = this.#v.length - this.#head;
    const none = { points: n, span_s: 0, slope_per_h: null, r2: null };
    if (n < Math.max(2, minPoints)) return none;
    const t0 = this.#ts[this.#head] as number;
    const span = (this.#ts[this.#ts.length - 1] as number) - t0;
    if (span <= 0 || span < minSpanMs) return { ...none, span_s: Math.round(span / 1000) };
    // hours since the first reading, centred, for a well-conditioned fit
    let mx = 0;
    let my = 0;
    for (let i = this.#head; i < this.#v.length; i++) {
      mx += ((this.#ts[i] as number) - t0) / 3_600_000;
      my += this.#v[i] as number;
    }
    mx /= n;
    my /= n;
    let sxy = 0;
    let sxx = 0;
    let syy = 0;
    for (let i = this.#head; i < this.#v.length; i++) {
      const dx = ((this.#ts[i] as number) - t0) / 3_600_000 - mx;
      const dy = (this.#v[i] as number) - my;
      sxy += dx * dy;
      sxx += dx * dx;
      syy += dy * dy;
    }
    const slope = sxy / sxx;
    const r2 = syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
    return { points: n, span_s: Math.round(span / 1000), slope_per_h: round(slope), r2: round(r2, 3) };
  }

  stats(now: number): WindowStats {
    this.#prune(now);
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
