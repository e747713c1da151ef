/**
 * `bench/results/summary.md` and `summary.svg` from the result files: every
 * ratio of bench/targets.ts (figure, denominator, ratio, target, met or
 * missed), then every benchmark's figures, and a chart of the ratios against
 * their targets rendered by vega-lite + vega to SVG (no browser, no canvas).
 * `buildSummary` and `chartSpec` are pure (test/bench/summary.test.ts).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { BenchReport } from '../report.js';
import { RATIOS, evaluate, score, type RatioResult } from './targets.js';

/** A result file as read back (older files may lack ratios / load). */
export type LoadedReport = Pick<BenchReport, 'figures'> & Partial<Omit<BenchReport, 'figures'>>;

/** Reads every `<name>.json` of `dir` (not summary files). */
export function readReports(dir: string): Record<string, LoadedReport> {
  const out: Record<string, LoadedReport> = {};
  if (!fs.existsSync(dir)) return out;
  for (const f of fs.readdirSync(dir).sort()) {
    if (!f.endsWith('.json')) continue;
    try {
      const r = JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as LoadedReport;
      if (r && typeof r.figures === 'object') out[f.slice(0, -5)] = r;
    } catch {
      // a half-written or foreign file: not part of the summary
    }
  }
  return out;
}

/** Every ratio over the reports (re-evaluated, so a target change shows without re-running). */
export function allRatios(reports: Record<string, LoadedReport>): RatioResult[] {
  return RATIOS.map((s) => evaluate(s, reports[s.bench]?.figures ?? {}));
}

const fmt = (x: number | null): string => {
  if (x === null) return '—';
  const a = Math.abs(x);
  if (a !== 0 && a < 0.01) return x.toPrecision(2);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  return String(Math.round(x * 100) / 100);
};

const cmp = (r: RatioResult): string => `${r.direction === 'atLeast' ? '≥' : '≤'} ${fmt(r.target)}`;

const mark = (r: RatioResult): string =>
  r.status === 'met' ? '✅ met' : r.status === 'missed' ? '❌ missed' : '— not measured';

/** The Markdown summary. `chartFile` is linked when given. */
export function buildSummary(reports: Record<string, LoadedReport>, chartFile?: string): string {
  const ratios = allRatios(reports);
  const met = ratios.filter((r) => r.status === 'met').length;
  const missed = ratios.filter((r) => r.status === 'missed').length;
  const lines: string[] = [
    '# Benchmark summary',
    '',
    'Written by `npm run bench -- all` (or `npm run bench -- summary` from the result files present).',
    'Each ratio is a Canopy figure over a limit measured in the same run on the same machine;',
    'absolute bounds (no denominator) compare the figure itself. How each is measured: ',
    '[docs/benchmarks.md](../../docs/benchmarks.md).',
    '',
    `**${met} met, ${missed} missed, ${ratios.length - met - missed} not measured** of ${ratios.length} targets.`,
    '',
  ];
  if (chartFile) lines.push(`![ratios against their targets](${chartFile})`, '');
  lines.push(
    '| benchmark | target | figure | denominator | ratio | status |',
    '|---|---|---|---|---|---|',
    ...ratios.map(
      (r) =>
        `| ${r.bench} | ${r.text} (${cmp(r)}) | \`${r.figure}\` ${fmt(r.figureValue)} | ${
          r.denominator === null ? '—' : `\`${r.denominator}\` ${fmt(r.denominatorValue)}`
        } | ${r.denominator === null ? '—' : fmt(r.ratio)} | ${mark(r)} |`,
    ),
    '',
    '## Runs',
    '',
    '| benchmark | finished | load average (1 min) at start | machine |',
    '|---|---|---|---|',
  );
  const names = Object.keys(reports).sort();
  for (const n of names) {
    const r = reports[n]!;
    const m = r.machine ? `${r.machine.cpus} × ${r.machine.model}, ${r.machine.memGiB} GiB` : '—';
    lines.push(`| ${n} | ${r.at ?? '—'} | ${r.loadAvg1mAtStart ?? '—'} | ${m} |`);
  }
  lines.push('', '## Every figure', '');
  for (const n of names) {
    lines.push(`### ${n}`, '', '| figure | value |', '|---|---|');
    for (const [k, v] of Object.entries(reports[n]!.figures)) lines.push(`| \`${k}\` | ${fmt(v)} |`);
    lines.push('');
  }
  return lines.join('\n');
}

/** The chart's range of scores: one below 0.1 (ten times worse than its target) or above 100 is drawn at the edge. */
const CHART_MIN = 0.1;
const CHART_MAX = 100;

/**
 * A vega-lite bar chart: one bar per measured ratio, from the target (1) to
 * how far the ratio is from it, on a log scale where right is better,
 * coloured met / missed, with a rule at 1.
 */
export function chartSpec(ratios: RatioResult[]): vl.TopLevelSpec {
  const values = ratios
    .map((r) => ({ r, s: score(r) }))
    .filter((x): x is { r: RatioResult; s: number } => x.s !== null)
    .map(({ r, s }) => {
      // clamp to the plotted range so 0 and ∞ still show
      const score = Math.min(CHART_MAX, Math.max(CHART_MIN, s));
      return {
        ratio: `${r.bench}: ${r.id}`,
        score,
        // the label starts right of the bar and of the target line, so no bar covers it
        at: Math.max(1, score),
        status: r.status,
        label: `${fmt(r.ratio)} (${cmp(r)})`,
      };
    });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Canopy against its targets (1 = target, right of it = met)',
    width: 420,
    height: { step: 18 },
    data: { values },
    layer: [
      {
        mark: 'bar',
        encoding: {
          y: { field: 'ratio', type: 'nominal', sort: null, title: null, axis: { labelLimit: 280 } },
          // from the target (1) to the score: left of it missed, right of it met
          x2: { datum: 1 },
          x: {
            field: 'score',
            type: 'quantitative',
            scale: { type: 'log', domain: [CHART_MIN, CHART_MAX] },
            title: 'ratio ÷ target (≥) or target ÷ ratio (≤), log scale',
          },
          color: {
            field: 'status',
            type: 'nominal',
            scale: { domain: ['met', 'missed'], range: ['#2e7d32', '#c62828'] },
            title: null,
          },
        },
      },
      {
        mark: { type: 'text', align: 'left', dx: 4, fontSize: 10 },
        encoding: {
          y: { field: 'ratio', type: 'nominal', sort: null },
          x: { field: 'at', type: 'quantitative' },
          text: { field: 'label' },
        },
      },
      { data: { values: [{ one: 1 }] }, mark: { type: 'rule', strokeDash: [4, 3] }, encoding: { x: { datum: 1 } } },
    ],
  };
}

/** Renders the chart to an SVG string (vega's headless renderer). */
export async function renderChart(ratios: RatioResult[]): Promise<string> {
  const { spec } = vl.compile(chartSpec(ratios));
  const view = new vega.View(vega.parse(spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes summary.md and summary.svg into `dir`; returns the Markdown path. */
export async function writeSummary(dir: string): Promise<string> {
  const reports = readReports(dir);
  const svg = await renderChart(allRatios(reports));
  fs.writeFileSync(path.join(dir, 'summary.svg'), svg);
  const file = path.join(dir, 'summary.md');
  fs.writeFileSync(file, buildSummary(reports, 'summary.svg') + '\n');
  return file;
}
