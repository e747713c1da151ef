import { StoreError } from './errors.js';
import type { HistoryPoint, HistoryQuery, ReadingRow } from './types.js';

export const MINUTE = 60_000;
export const HOUR = 3_600_000;
const DAY = 86_400_000;

/** Bucket widths history() may use, finest first (all epoch-aligned). */
const WIDTHS = [
  1,
  2,
  5,
  10,
  20,
  50,
  100,
  200,
  500,
  1_000,
  2_000,
  5_000,
  10_000,
  15_000,
  30_000,
  MINUTE,
  2 * MINUTE,
  5 * MINUTE,
  10 * MINUTE,
  15 * MINUTE,
  30 * MINUTE,
  HOUR,
  2 * HOUR,
  3 * HOUR,
  4 * HOUR,
  6 * HOUR,
  12 * HOUR,
  DAY,
  2 * DAY,
  7 * DAY,
  14 * DAY,
  28 * DAY,
];

/** Number of epoch-aligned buckets of `width` that [from, to) touches. */
export function bucketCount(from: number, to: number, width: number): number {
  return Math.floor((to - 1) / width) - Math.floor(from / width) + 1;
}

export function validateHistoryQuery(q: HistoryQuery): void {
  const ok =
    typeof q.sensor === 'string' &&
    q.sensor.length > 0 &&
    Number.isFinite(q.from) &&
    Number.isFinite(q.to) &&
    q.to > q.from &&
    Number.isInteger(q.points) &&
    q.points >= 1;
  if (!ok) {
    throw new StoreError(
      'STORE_INVALID',
      'history: need a sensor, finite from < to (unix ms) and an integer points ≥ 1',
    );
  }
}

/** The finest epoch-aligned bucket width (ms) giving at most `points` buckets over [from, to). */
export function chooseWidth(from: number, to: number, points: number): number {
  for (const w of WIDTHS) if (bucketCount(from, to, w) <= points) return w;
  // beyond the table: whole multiples of 28 days
  const base = 28 * DAY;
  let k = Math.max(2, Math.ceil((to - from) / points / base));
  // Epoch-aligned buckets: a range across 1970-01-01 is split at 0 whatever the width,
  // so one bucket cannot be had there; two can (any width of at least the range), and
  // history() merges them into one (fitPoints). Every other wish is met by a wide
  // enough width, so the loop ends.
  const acrossEpoch = from < 0 && to - 1 >= 0;
  const want = points === 1 && acrossEpoch ? 2 : points;
  while (bucketCount(from, to, k * base) > want) k++;
  return k * base;
}

/**
 * At most `max` points: consecutive points merged (min of mins, max of maxes,
 * count-weighted mean) when the chosen width gave more — only a one-point
 * history of a range that straddles a bucket boundary does.
 */
export function fitPoints(points: HistoryPoint[], max: number): HistoryPoint[] {
  if (points.length <= max) return points;
  const size = Math.ceil(points.length / max);
  const out: HistoryPoint[] = [];
  for (let i = 0; i < points.length; i += size) {
    const group = points.slice(i, i + size);
    const count = group.reduce((n, p) => n + p.count, 0);
    out.push({
      t: group[0]!.t,
      min: Math.min(...group.map((p) => p.min)),
      max: Math.max(...group.map((p) => p.max)),
      avg: group.reduce((sum, p) => sum + p.avg * p.count, 0) / count,
      count,
    });
  }
  return out;
}

/** The coarsest rollup resolution the width is a whole multiple of (0: raw rows only). */
export function rollupFor(width: number): 0 | typeof MINUTE | typeof HOUR {
  if (width % HOUR === 0) return HOUR;
  if (width % MINUTE === 0) return MINUTE;
  return 0;
}

/**
 * Splits [from, to) into the rollup-covered middle [a, b) (aligned to `res`)
 * and the raw edges [from, a) and [b, to). With res = 0 everything is raw.
 */
export function splitRange(from: number, to: number, res: number): { a: number; b: number } {
  if (res === 0) return { a: to, b: to };
  const a = Math.ceil(from / res) * res;
  const b = Math.floor(to / res) * res;
  return a < b ? { a, b } : { a: to, b: to };
}

/** Partial aggregate of one bucket: merges rollup rows and raw rows alike. */
export interface Partial {
  t: number;
  min: number;
  max: number;
  sum: number;
  count: number;
}

/** Merges partial aggregates (any order, possibly several per bucket) into sorted history points. */
export function mergePartials(parts: Iterable<Partial>, width: number): HistoryPoint[] {
  const byBucket = new Map<number, Partial>();
  for (const p of parts) {
    if (!p.count) continue;
    const t = Math.floor(p.t / width) * width;
    const cur = byBucket.get(t);
    if (!cur) byBucket.set(t, { t, min: p.min, max: p.max, sum: p.sum, count: p.count });
    else {
      if (p.min < cur.min) cur.min = p.min;
      if (p.max > cur.max) cur.max = p.max;
      cur.sum += p.sum;
      cur.count += p.count;
    }
  }
  return [...byBucket.values()]
    .sort((x, y) => x.t - y.t)
    .map((p) => ({ t: p.t, min: p.min, max: p.max, avg: p.sum / p.count, count: p.count }));
}

/** Per sensor and `res`-wide bucket: min, max, sum and count of the readings (rollup rows to upsert). */
export function aggregateReadings(readings: ReadingRow[], res: number): (Partial & { sensor: string })[] {
  const out: (Partial & { sensor: string })[] = [];
  // sensor -> bucket start -> its aggregate (no key string per reading)
  const bySensor = new Map<string, Map<number, Partial & { sensor: string }>>();
  for (const r of readings) {
    const t = Math.floor(r.time / res) * res;
    let buckets = bySensor.get(r.sensor);
    if (!buckets) bySensor.set(r.sensor, (buckets = new Map()));
    const p = buckets.get(t);
    if (!p) {
      const q = { sensor: r.sensor, t, min: r.value, max: r.value, sum: r.value, count: 1 };
      buckets.set(t, q);
      out.push(q);
    } else {
      if (r.value < p.min) p.min = r.value;
      if (r.value > p.max) p.max = r.value;
      p.sum += r.value;
      p.count++;
    }
  }
  return out;
}
