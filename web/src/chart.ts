import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { api, type Bucket, type Sensor } from './api.js';

/** Target bands per growth stage, by sensor base name: [low, high]. */
export const STAGES: Record<string, { label: string; bands: Record<string, [number, number]> }> = {
  none: { label: 'none', bands: {} },
  propagation: { label: 'Propagation', bands: { vpd: [0.4, 0.8], rh: [70, 80], dry_bulb: [22, 26] } },
  veg: { label: 'Vegetative', bands: { vpd: [0.8, 1.2], rh: [60, 70], dry_bulb: [22, 28] } },
  early_flower: { label: 'Early flower', bands: { vpd: [1.0, 1.5], rh: [50, 60], dry_bulb: [20, 26] } },
  late_flower: { label: 'Late flower', bands: { vpd: [1.2, 1.6], rh: [40, 50], dry_bulb: [18, 24] } },
};

export const RANGES: Array<[label: string, ms: number]> = [
  ['1 h', 3600_000],
  ['24 h', 86400_000],
  ['7 d', 7 * 86400_000],
  ['30 d', 30 * 86400_000],
  ['1 y', 365 * 86400_000],
];

const COLORS = ['#2e7d32', '#1565c0', '#c62828', '#ef6c00', '#6a1b9a', '#00838f', '#ad1457', '#5d4037'];

/** Buckets of several sensors on one time axis (union of bucket starts, gaps as null). */
export function align(series: Bucket[][]): {
  xs: number[];
  avg: (number | null)[][];
  min: (number | null)[][];
  max: (number | null)[][];
} {
  const xs = [...new Set(series.flatMap((b) => b.map((x) => x.t)))].sort((a, b) => a - b);
  const index = new Map(xs.map((t, i) => [t, i]));
  const fill = () => series.map(() => new Array<number | null>(xs.length).fill(null));
  const avg = fill();
  const min = fill();
  const max = fill();
  series.forEach((b, s) => {
    for (const x of b) {
      const i = index.get(x.t)!;
      avg[s]![i] = x.avg;
      min[s]![i] = x.min;
      max[s]![i] = x.max;
    }
  });
  return { xs, avg, min, max };
}

/**
 * The history chart: several sensors on one uPlot chart (one y scale per
 * unit), min–max envelope when one sensor is shown, target bands of the
 * chosen growth stage drawn behind the lines.
 */
export class HistoryChart {
  readonly #root: HTMLElement;
  readonly #status: HTMLElement;
  #plot: uPlot | undefined;
  #abort: AbortController | undefined;
  stage = 'none';

  constructor(root: HTMLElement, status: HTMLElement) {
    this.#root = root;
    this.#status = status;
    new ResizeObserver(() => this.#plot?.setSize(this.#size())).observe(root);
  }

  #size(): { width: number; height: number } {
    const width = Math.max(240, this.#root.clientWidth);
    return { width, height: width < 600 ? 220 : 340 };
  }

  async load(sensors: Sensor[], rangeMs: number): Promise<void> {
    this.#abort?.abort();
    const abort = new AbortController();
    this.#abort = abort;
    if (sensors.length === 0) {
      this.#destroy();
      this.#status.textContent = 'Pick at least one sensor.';
      this.#root.dataset.points = '0';
      return;
    }
    const to = Date.now();
    const from = to - rangeMs;
    const points = Math.min(1500, Math.max(100, Math.round(this.#size().width)));
    this.#status.textContent = 'loading…';
    let data: Bucket[][];
    try {
      data = await Promise.all(sensors.map((s) => api.history(s.name, from, to, points, abort.signal)));
    } catch (err) {
      if (abort.signal.aborted) return;
      this.#destroy();
      this.#root.dataset.points = '0';
      this.#status.textContent = `History unavailable: ${(err as Error).message}`;
      return;
    }
    if (abort.signal.aborted) return;
    this.#draw(sensors, data, from, to);
  }

  #destroy(): void {
    this.#plot?.destroy();
    this.#plot = undefined;
  }

  #draw(sensors: Sensor[], data: Bucket[][], from: number, to: number): void {
    const { xs, avg, min, max } = align(data);
    const total = data.reduce((n, b) => n + b.length, 0);
    this.#root.dataset.points = String(total);
    this.#status.textContent = total === 0 ? 'No readings in this range.' : `${total} points`;
    const units = [...new Set(sensors.map((s) => s.unit))];
    const single = sensors.length === 1;
    const series: uPlot.Series[] = [{}];
    const columns: (number | null)[][] = [];
    sensors.forEach((s, i) => {
      const color = COLORS[i % COLORS.length]!;
      series.push({ label: s.name, scale: s.unit, stroke: color, width: 1.5, spanGaps: false });
      columns.push(avg[i]!);
    });
    const bands: uPlot.Band[] = [];
    if (single) {
      const s = sensors[0]!;
      series.push({ label: `${s.name} max`, scale: s.unit, stroke: 'rgba(46,125,50,0.35)', width: 1 });
      series.push({ label: `${s.name} min`, scale: s.unit, stroke: 'rgba(46,125,50,0.35)', width: 1 });
      columns.push(max[0]!, min[0]!);
      bands.push({ series: [2, 3], fill: 'rgba(46,125,50,0.12)' });
    }
    const axes: uPlot.Axis[] = [{}];
    units
      .slice(0, 2)
      .forEach((u, i) => axes.push({ scale: u, label: u, side: i === 0 ? 3 : 1, grid: { show: i === 0 } }));
    const scales: uPlot.Scales = { x: { time: true, min: from, max: to } };
    for (const u of units) scales[u] = { auto: true };
    const stageBands = STAGES[this.stage]?.bands ?? {};
    const drawBands = (u: uPlot) => {
      const ctx = u.ctx;
      ctx.save();
      for (const s of sensors) {
        const b = stageBands[s.base];
        if (!b) continue;
        const y1 = u.valToPos(b[1], s.unit, true);
        const y0 = u.valToPos(b[0], s.unit, true);
        ctx.fillStyle = 'rgba(255, 193, 7, 0.16)';
        ctx.fillRect(u.bbox.left, Math.min(y0, y1), u.bbox.width, Math.abs(y0 - y1));
      }
      ctx.restore();
    };
    const opts: uPlot.Options = {
      ...this.#size(),
      ms: 1,
      series,
      axes,
      scales,
      bands,
      legend: { live: true },
      hooks: { drawAxes: [drawBands] },
    };
    this.#destroy();
    this.#plot = new uPlot(opts, [xs, ...columns] as uPlot.AlignedData, this.#root);
    this.#plot.root.dataset.testid = 'history-plot';
  }
}
