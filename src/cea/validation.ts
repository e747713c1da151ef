import type { RejectReason } from './types.js';

/**
 * Validation of single readings: physical range and rate of change. Fault
 * bits and the dry-wick check need more than one value and live in the
 * processor; the counters here count every reason.
 */

export interface RangeLimits {
  min: number;
  max: number;
}

/** 'range' when outside [min, max] (inclusive), 'not_finite' for NaN/±∞, else null. */
export function checkRange(value: number, limits: RangeLimits): RejectReason | null {
  if (!Number.isFinite(value)) return 'not_finite';
  return value < limits.min || value > limits.max ? 'range' : null;
}

/**
 * True when a wet bulb above the dry bulb by more than `marginC` shows a dry
 * wick (exactly the margin is still fine: 1e-9 absorbs binary rounding).
 */
export function isDryWick(dryC: number, wetC: number, marginC = 0.3): boolean {
  return wetC - dryC > marginC + 1e-9;
}

export interface RateOptions {
  /** Largest plausible change per second; 0 disables the check. */
  maxRatePerSecond: number;
  /** @defaultValue 1 — the allowed change is maxRate × max(elapsed s, minWindowS). */
  minWindowS: number;
  /** @defaultValue 5 — consecutive rejections after which the new level is accepted. */
  resetAfter: number;
}

/**
 * Rate-of-change state of one sensor. The first reading is always accepted.
 * A reading is compared with the last accepted one; the allowed change is
 * maxRate × max(elapsed seconds, minWindowS) (a window so that readings with
 * equal or out-of-order timestamps are not rejected for a tiny change). After
 * `resetAfter` consecutive rejections the next reading is accepted as the
 * new baseline: a real step change must not lock the sensor out forever.
 */
export class RateTracker {
  private last = Number.NaN;
  private lastTime = 0;
  private rejectedInRow = 0;

  /** Checks without changing state: 'rate' or null. */
  check(value: number, time: number, opts: RateOptions): RejectReason | null {
    if (opts.maxRatePerSecond <= 0 || Number.isNaN(this.last)) return null;
    if (this.rejectedInRow >= opts.resetAfter) return null;
    const dt = Math.max((time - this.lastTime) / 1000, opts.minWindowS);
    return Math.abs(value - this.last) > opts.maxRatePerSecond * dt ? 'rate' : null;
  }

  accept(value: number, time: number): void {
    this.last = value;
    this.lastTime = time;
    this.rejectedInRow = 0;
  }

  reject(): void {
    this.rejectedInRow++;
  }

  /** The last accepted value and its time, or null. */
  latest(): { value: number; time: number } | null {
    return Number.isNaN(this.last) ? null : { value: this.last, time: this.lastTime };
  }
}

/** Rejections counted by sensor and by reason. */
export class RejectionCounters {
  readonly bySensor = new Map<string, Map<RejectReason, number>>();
  readonly byReason = new Map<RejectReason, number>();
  total = 0;

  add(sensor: string, reason: RejectReason): void {
    let m = this.bySensor.get(sensor);
    if (!m) this.bySensor.set(sensor, (m = new Map()));
    m.set(reason, (m.get(reason) ?? 0) + 1);
    this.byReason.set(reason, (this.byReason.get(reason) ?? 0) + 1);
    this.total++;
  }

  get(sensor: string, reason?: RejectReason): number {
    const m = this.bySensor.get(sensor);
    if (!m) return 0;
    if (reason) return m.get(reason) ?? 0;
    let n = 0;
    for (const v of m.values()) n += v;
    return n;
  }

  /** Plain-object snapshot for logs and health endpoints. */
  toJSON(): { total: number; byReason: Record<string, number>; bySensor: Record<string, Record<string, number>> } {
    return {
      total: this.total,
      byReason: Object.fromEntries(this.byReason),
      bySensor: Object.fromEntries([...this.bySensor].map(([s, m]) => [s, Object.fromEntries(m)])),
    };
  }
}
