/**
 * The pure parts of the history chart (no DOM, no uPlot): units and their
 * precision, grouping series onto at most two axes per chart, aligning
 * buckets of several sensors on one time axis, breaking lines at outages,
 * target bands from the rooms' key values, legend labels.
 */
import type { Sensor } from './api.js';

/** Decimals shown per unit (legend, hover, axis ticks, CSV). */
const PRECISION: Record<string, number> = { '°C': 1, '%': 0, kPa: 2, ppm: 0, hPa: 0 };

/** Decimals for a unit: °C 0.1, % 1, kPa 0.01, ppm 1, hPa 1; anything else 0.1. */
export function decimalsFor(unit: string): number {
  return PRECISION[unit] ?? 1;
}

/** `24.3 °C`, `61 %`, `1.12 kPa`; a dash for no value. */
export function formatValue(v: number | null | undefined, unit: string, withUnit = true): string {
  if (v === null || v === undefined || !Number.isFinite(v)) return '—';
  // -0.0 reads as a sign error to a grower
  const text = v.toFixed(decimalsFor(unit)).replace(/^-(0(\.0+)?)$/, '$1');
  return withUnit && unit ? `${text} ${unit}` : text;
}

/** At most this many units (y axes) on one chart: one left, one right. */
export const MAX_UNITS_PER_CHART = 2;

/**
 * Items grouped into charts by unit: units in order of first appearance,
 * each chart holds at most two units (one axis each); a third unit starts
 * the next chart (small multiples), never a line without its axis.
 */
export function groupByUnit<T extends { unit: string }>(items: T[]): Array<{ units: string[]; items: T[] }> {
  const units: string[] = [];
  for (const it of items) if (!units.includes(it.unit)) units.push(it.unit);
  const groups: Array<{ units: string[]; items: T[] }> = [];
  for (let i = 0; i < units.length; i += MAX_UNITS_PER_CHART) {
    const chunk = units.slice(i, i + MAX_UNITS_PER_CHART);
    groups.push({ units: chunk, items: items.filter((it) => chunk.includes(it.unit)) });
  }
  return groups;
}

export interface Point {
  t: number;
  v: number;
}

/** Median distance between consecutive points (0 with fewer than two). */
export function medianSpacing(points: Point[]): number {
  const d: number[] = [];
  for (let i = 1; i < points.length; i++) d.push(points[i]!.t - points[i - 1]!.t);
  if (d.length === 0) return 0;
  d.sort((a, b) => a - b);
  return d[Math.floor(d.length / 2)]!;
}

/** Consecutive points further apart than this many spacings are an outage. */
export const GAP_FACTOR = 2.5;

/**
 * Where a series has no data: pairs [after, before] of consecutive point
 * times further apart than 2.5 × the larger of the bucket width and the
 * series' usual spacing (a sensor read every 10 s in 5 s buckets is not
 * an outage every other bucket).
 */
export function findGaps(points: Point[], bucketMs: number): Array<[number, number]> {
  const step = Math.max(bucketMs, medianSpacing(points));
  if (step <= 0) return [];
  const gaps: Array<[number, number]> = [];
  for (let i = 1; i < points.length; i++) {
    const a = points[i - 1]!.t;
    const b = points[i]!.t;
    if (b - a > GAP_FACTOR * step) gaps.push([a, b]);
  }
  return gaps;
}

/**
 * Columns for uPlot: the union of all point times, one column per series.
 * A series without a point at a time has `undefined` there (uPlot joins
 * over it); inside one of its outages it has `null` (uPlot, spanGaps off,
 * breaks the line there). An outage with no other series' time inside it
 * gets a time of its own (the first bucket after the last point).
 */
export function alignWithGaps(
  series: Point[][],
  bucketMs: number,
): { xs: number[]; ys: (number | null | undefined)[][]; gaps: Array<Array<[number, number]>> } {
  const gaps = series.map((p) => findGaps(p, bucketMs));
  const times = new Set<number>();
  for (const p of series) for (const x of p) times.add(x.t);
  gaps.forEach((g, s) => {
    const step = Math.max(bucketMs, medianSpacing(series[s]!));
    for (const [a, b] of g) {
      // some time strictly inside the outage carries the null
      let inside = false;
      for (const t of times) if (t > a && t < b) inside = true;
      if (!inside) times.add(Math.min(a + step, (a + b) / 2));
    }
  });
  const xs = [...times].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const ys = series.map((points, s) => {
    const col = new Array<number | null | undefined>(xs.length).fill(undefined);
    for (const p of points) col[index.get(p.t)!] = p.v;
    for (const [a, b] of gaps[s]!) {
      for (let i = 0; i < xs.length; i++) if (xs[i]! > a && xs[i]! < b) col[i] = null;
    }
    return col;
  });
  return { xs, ys, gaps };
}

/** The y range of a scale: the data's and every band's bounds, padded by 5 % (never empty). */
export function rangeWith(dataMin: number | null, dataMax: number | null, extra: number[]): [number, number] | null {
  const vals = [...(dataMin === null ? [] : [dataMin]), ...(dataMax === null ? [] : [dataMax]), ...extra].filter((v) =>
    Number.isFinite(v),
  );
  if (vals.length === 0) return null;
  let lo = Math.min(...vals);
  let hi = Math.max(...vals);
  if (hi === lo) {
    const pad = Math.abs(hi) * 0.05 || 1;
    return [lo - pad, hi + pad];
  }
  const pad = (hi - lo) * 0.05;
  lo -= pad;
  hi += pad;
  return [lo, hi];
}

/** A target band of one sensor (from its room's targets). */
export interface TargetBand {
  sensor: string;
  low?: number | undefined;
  high?: number | undefined;
  target?: number | undefined;
}

/** A catalogue entry with its friendly label (GET /api/sensors `label`, when configured). */
export type Labelled = Sensor & { label?: string };

/** The part of a room of GET /api/rooms the chart reads: its key values' bands. */
export interface RoomTargets {
  location: string;
  cluster: string;
  key?: Array<{ quantity: string; sensor?: string; low?: number; high?: number; target?: number }>;
}

/** Which sensor base a room key quantity is measured by (VPD leaf is computed, not a sensor). */
const QUANTITY_BASE: Record<string, string> = { temperature: 'dry_bulb', rh: 'rh', vpd_air: 'vpd', co2: 'co2' };

export const labelOf = (s: Labelled): string => s.label?.trim() || s.name;

/**
 * Legend names: the sensor's label, with its room when two sensors on the
 * chart would otherwise read the same ("Temperature · Flower Room front").
 */
export function seriesLabels(sensors: Labelled[]): Map<string, string> {
  const count = new Map<string, number>();
  for (const s of sensors) count.set(labelOf(s), (count.get(labelOf(s)) ?? 0) + 1);
  return new Map(
    sensors.map((s) => {
      const l = labelOf(s);
      if ((count.get(l) ?? 0) < 2 || l === s.name) return [s.name, l];
      return [s.name, `${l} · ${s.cluster === 'main' ? s.location : `${s.location} ${s.cluster}`}`];
    }),
  );
}

/** Target bands of the sensors from their rooms' key values (interface 1 of GET /api/rooms). */
export function bandsFromRooms(rooms: RoomTargets[], catalogue: Sensor[]): TargetBand[] {
  const out: TargetBand[] = [];
  for (const r of rooms) {
    for (const k of r.key ?? []) {
      if (k.low === undefined && k.high === undefined && k.target === undefined) continue;
      const names = k.sensor
        ? [k.sensor]
        : catalogue
            .filter((s) => s.location === r.location && s.cluster === r.cluster && s.base === QUANTITY_BASE[k.quantity])
            .map((s) => s.name);
      for (const sensor of names) out.push({ sensor, low: k.low, high: k.high, target: k.target });
    }
  }
  return out;
}
