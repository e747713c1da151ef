import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import {
  alignWithGaps,
  decimalsFor,
  formatValue,
  groupByUnit,
  rangeWith,
  type Point,
  type TargetBand,
} from './chart-data.js';

export type { TargetBand } from './chart-data.js';
import type { CsvColumn } from './csv.js';

export const RANGES: Array<[label: string, ms: number]> = [
  ['1 h', 3600_000],
  ['24 h', 86400_000],
  ['7 d', 7 * 86400_000],
  ['30 d', 30 * 86400_000],
  ['1 y', 365 * 86400_000],
];

const COLORS = ['#2e7d32', '#1565c0', '#c62828', '#ef6c00', '#6a1b9a', '#00838f', '#ad1457', '#5d4037'];

/** One sensor's history, ready to draw. */
export interface ChartSeries {
  /** The sensor's name (internal). */
  name: string;
  /** What a grower reads: the configured label, else the name. */
  label: string;
  unit: string;
  avg: Point[];
  min: Point[];
  max: Point[];
}

/** A journal note drawn as a vertical marker. */
export interface Marker {
  time: number;
  text: string;
  by?: string | undefined;
}

export interface ChartInput {
  series: ChartSeries[];
  /** The bucket width the API used (ms); 0 when unknown. */
  bucketMs: number;
  from: number;
  to: number;
  bands: TargetBand[];
  markers: Marker[];
}

/** What one drawn chart holds, on its element as `canopyData` (for tests and the CSV). */
export interface DrawnData {
  units: string[];
  xs: number[];
  series: Array<{ name: string; label: string; unit: string; values: (number | null | undefined)[] }>;
  gaps: number;
  /** The y axes uPlot drew: their unit (scale) and side (3 left, 1 right). */
  axes: Array<{ unit: string; side: number }>;
  /** The target bands drawn (behind the lines, inside the plot). */
  bands: Array<{ unit: string; low?: number | undefined; high?: number | undefined; target?: number | undefined }>;
  /** Each y scale's range as drawn: [min, max]. */
  scales: Record<string, [number, number]>;
}

type PlotElement = HTMLElement & { canopyData?: DrawnData };

const alpha = (hex: string, a: number): string => {
  const n = Number.parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
};

/**
 * The history charts: one uPlot chart per group of at most two units (one
 * y axis each, left and right), so a third unit gets a chart of its own.
 * Lines break at outages, target bands are drawn inside the plot area and
 * widen its scale, journal notes are markers with their text on hover/tap.
 */
export class HistoryCharts {
  readonly #root: HTMLElement;
  #plots: uPlot[] = [];
  #drawn: DrawnData[] = [];
  readonly #resize: ResizeObserver;

  constructor(root: HTMLElement) {
    this.#root = root;
    this.#resize = new ResizeObserver(() => {
      for (const p of this.#plots) p.setSize(this.#size());
    });
    this.#resize.observe(root);
  }

  #size(): { width: number; height: number } {
    const width = Math.max(240, this.#root.clientWidth);
    return { width, height: width < 600 ? 220 : 300 };
  }

  /** Bucket count to ask the API for: about one per pixel. */
  points(): number {
    return Math.min(1500, Math.max(100, Math.round(this.#size().width)));
  }

  clear(): void {
    for (const p of this.#plots) p.destroy();
    this.#plots = [];
    this.#drawn = [];
    this.#root.replaceChildren();
  }

  close(): void {
    this.clear();
    this.#resize.disconnect();
  }

  /** Target bands drawn, over every chart. */
  bands(): number {
    return this.#drawn.reduce((n, d) => n + d.bands.length, 0);
  }

  /** Outages drawn as breaks, over every chart. */
  gaps(): number {
    return this.#drawn.reduce((n, d) => n + d.gaps, 0);
  }

  /** The drawn series as CSV columns (avg, plus min and max when one sensor is shown). */
  columns(): CsvColumn[] {
    const out: CsvColumn[] = [];
    for (const d of this.#drawn) {
      for (const s of d.series) {
        const values = new Map<number, number | null | undefined>();
        s.values.forEach((v, i) => values.set(d.xs[i]!, v));
        out.push({ label: s.label, unit: s.unit, values });
      }
    }
    return out;
  }

  render(input: ChartInput): void {
    this.clear();
    const single = input.series.length === 1;
    let colorIndex = 0;
    const colorOf = new Map(input.series.map((s) => [s.name, COLORS[colorIndex++ % COLORS.length]!]));
    for (const group of groupByUnit(input.series)) {
      const box = document.createElement('div') as PlotElement;
      box.className = 'history-plot';
      box.dataset.units = group.units.join(',');
      this.#root.append(box);
      this.#draw(box, group.units, group.items, single, colorOf, input);
    }
  }

  #draw(
    box: PlotElement,
    units: string[],
    items: ChartSeries[],
    single: boolean,
    colorOf: Map<string, string>,
    input: ChartInput,
  ): void {
    const cols: Point[][] = [];
    const meta: DrawnData['series'] = [];
    const series: uPlot.Series[] = [{}];
    const value = (unit: string) => (_u: uPlot, v: number | null) => formatValue(v, unit);
    for (const s of items) {
      const color = colorOf.get(s.name)!;
      series.push({
        label: `${s.label} (${s.unit})`,
        scale: s.unit,
        stroke: color,
        width: 2,
        spanGaps: false,
        value: value(s.unit),
      });
      cols.push(s.avg);
      meta.push({ name: s.name, label: s.label, unit: s.unit, values: [] });
    }
    const bands: uPlot.Band[] = [];
    if (single) {
      const s = items[0]!;
      const color = colorOf.get(s.name)!;
      for (const [k, pts] of [
        ['max', s.max],
        ['min', s.min],
      ] as const) {
        series.push({
          label: `${s.label} ${k} (${s.unit})`,
          scale: s.unit,
          stroke: alpha(color, 0.4),
          width: 1,
          spanGaps: false,
          value: value(s.unit),
        });
        cols.push(pts);
        meta.push({ name: `${s.name}_${k}`, label: `${s.label} ${k}`, unit: s.unit, values: [] });
      }
      bands.push({ series: [2, 3], fill: alpha(color, 0.12) });
    }
    const { xs, ys, gaps } = alignWithGaps(cols, input.bucketMs);
    ys.forEach((col, i) => (meta[i]!.values = col));
    const drawn: DrawnData = {
      units,
      xs,
      series: meta,
      gaps: gaps.reduce((n, g) => n + g.length, 0),
      axes: [],
      bands: [],
      scales: {},
    };
    box.canopyData = drawn;
    box.dataset.gaps = String(drawn.gaps);
    this.#drawn.push(drawn);

    // the bands of the sensors on this chart, once each (rooms often share targets)
    const seen = new Set<string>();
    const myBands: Array<TargetBand & { unit: string; color: string }> = [];
    for (const b of input.bands) {
      const s = items.find((x) => x.name === b.sensor);
      if (!s) continue;
      const key = `${s.unit}|${b.low}|${b.high}|${b.target}`;
      if (seen.has(key)) continue;
      seen.add(key);
      myBands.push({ ...b, unit: s.unit, color: colorOf.get(s.name)! });
    }
    box.dataset.bands = String(myBands.length);
    drawn.bands = myBands.map((b) => ({ unit: b.unit, low: b.low, high: b.high, target: b.target }));

    const fg = getComputedStyle(this.#root).color || '#1d2a1f';
    const grid = { stroke: 'rgba(128, 128, 128, 0.22)', width: 1 };
    const axes: uPlot.Axis[] = [{ stroke: fg, grid, ticks: grid }];
    units.forEach((u, i) =>
      axes.push({
        scale: u,
        label: u,
        stroke: fg,
        side: i === 0 ? 3 : 1,
        grid: { ...grid, show: i === 0 },
        ticks: grid,
        size: 56,
        values: (_u, splits) => splits.map((v) => formatValue(v, u, false)),
      }),
    );
    const scales: uPlot.Scales = { x: { time: true, min: input.from, max: input.to } };
    for (const u of units) {
      const extra = myBands
        .filter((b) => b.unit === u)
        .flatMap((b) => [b.low, b.high, b.target].filter((v): v is number => typeof v === 'number'));
      scales[u] = {
        auto: true,
        range: (_u, min, max) => {
          const r = rangeWith(min ?? null, max ?? null, extra) ?? [0, 1];
          const step = 10 ** -decimalsFor(u);
          return [Math.floor(r[0] / step) * step, Math.ceil(r[1] / step) * step];
        },
      };
    }
    const drawBands = (u: uPlot) => {
      const ctx = u.ctx;
      const { left, top, width, height } = u.bbox;
      ctx.save();
      // inside the plot area only, never over the axes
      ctx.beginPath();
      ctx.rect(left, top, width, height);
      ctx.clip();
      const line = (v: number, unit: string, color: string, dash: number[]) => {
        const y = u.valToPos(v, unit, true);
        ctx.strokeStyle = color;
        ctx.setLineDash(dash);
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(left, y);
        ctx.lineTo(left + width, y);
        ctx.stroke();
      };
      for (const b of myBands) {
        // filled only when it is the chart's one band (one unit, sensors sharing it); otherwise a
        // fill would seem to cover the other unit's lines: its edges only, in its line's colour
        const shared = units.length === 1 && myBands.length === 1;
        if (shared && (b.low !== undefined || b.high !== undefined)) {
          const y0 = b.low === undefined ? top + height : u.valToPos(b.low, b.unit, true);
          const y1 = b.high === undefined ? top : u.valToPos(b.high, b.unit, true);
          ctx.fillStyle = alpha(b.color, 0.1);
          ctx.fillRect(left, Math.min(y0, y1), width, Math.abs(y0 - y1));
        } else {
          for (const v of [b.low, b.high]) if (v !== undefined) line(v, b.unit, alpha(b.color, 0.45), [2, 3]);
        }
        if (b.target !== undefined) line(b.target, b.unit, alpha(b.color, 0.7), [6, 4]);
      }
      ctx.restore();
    };
    const markers = input.markers.filter((m) => m.time >= input.from && m.time <= input.to);
    const opts: uPlot.Options = {
      ...this.#size(),
      ms: 1,
      series,
      axes,
      scales,
      bands,
      legend: { live: true },
      cursor: { points: { size: 8 } },
      hooks: {
        drawClear: [drawBands],
        draw: [
          (u) => {
            for (const k of units) drawn.scales[k] = [u.scales[k]?.min ?? Number.NaN, u.scales[k]?.max ?? Number.NaN];
            placeMarkers(u, markers);
          },
        ],
      },
    };
    const plot = new uPlot(opts, [xs, ...ys] as uPlot.AlignedData, box);
    plot.root.dataset.testid = 'history-plot';
    drawn.axes = plot.axes.slice(1).map((a) => ({ unit: a.scale ?? '', side: a.side ?? 3 }));
    this.#plots.push(plot);
  }
}

/** Journal notes as thin lines over the plot with a 44 px wide tap target; their text on hover or tap. */
function placeMarkers(u: uPlot, markers: Marker[]): void {
  const over = u.over;
  for (const old of over.querySelectorAll('.journal-marker, .journal-tip')) old.remove();
  if (markers.length === 0) return;
  const tip = document.createElement('div');
  tip.className = 'journal-tip';
  tip.hidden = true;
  tip.setAttribute('role', 'status');
  for (const m of markers) {
    const x = u.valToPos(m.time, 'x');
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'journal-marker';
    b.style.left = `${x}px`;
    const when = new Date(m.time).toLocaleString([], { dateStyle: 'short', timeStyle: 'short' });
    const text = `${when}${m.by ? ` · ${m.by}` : ''}: ${m.text}`;
    b.setAttribute('aria-label', `note ${text}`);
    b.dataset.time = String(m.time);
    const show = () => {
      tip.textContent = text;
      tip.hidden = false;
      tip.style.left = `${Math.min(Math.max(0, x - 80), Math.max(0, over.clientWidth - 200))}px`;
    };
    b.onmouseenter = show;
    b.onfocus = show;
    b.onclick = (e) => {
      e.stopPropagation();
      show();
    };
    b.onmouseleave = () => (tip.hidden = true);
    b.onblur = () => (tip.hidden = true);
    over.append(b);
  }
  over.append(tip);
}
