import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildSummary, chartSpec, readReports, renderChart, writeSummary, allRatios } from '../../bench/lib/summary.js';
import { RATIOS } from '../../bench/lib/targets.js';
import { tempDir } from '../support/tmp.js';

const reports = {
  bus: {
    figures: { drain_per_s: 90_000, raw_drain_per_s: 100_000, pubsub_p50_us: 100, pubsub_raw_node_redis_p50_us: 100 },
    loadAvg1mAtStart: 1.25,
    at: '2026-12-01T16:00:00.000Z',
  },
  soak: { figures: { soak_restarts: 0, soak_rss_total_mb: 420 } },
};

describe('benchmark summary', () => {
  it('lists every target with its figure, denominator, ratio and status', () => {
    const md = buildSummary(reports, 'summary.svg');
    const rows = md
      .split('\n')
      .filter((l) => l.startsWith('| bus |') || l.startsWith('| soak |') || l.startsWith('| api |'));
    const drain = rows.find((l) => l.includes('`drain_per_s`'))!;
    expect(drain).toContain('`raw_drain_per_s` 100,000');
    expect(drain).toContain('| 0.9 |');
    expect(drain).toContain('missed');
    expect(rows.find((l) => l.includes('`pubsub_p50_us`'))).toContain('met');
    expect(rows.find((l) => l.includes('`soak_restarts`'))).toContain('met');
    expect(rows.find((l) => l.includes('`soak_rss_total_mb`'))).toContain('missed');
    expect(rows.find((l) => l.includes('`live_req_per_s`'))).toContain('not measured');
    expect(md).toContain(`of ${RATIOS.length} targets`);
    expect(md).toContain('![ratios against their targets](summary.svg)');
  });

  it('records each run with its load average at start and lists every figure', () => {
    const md = buildSummary(reports);
    expect(md).toContain('| bus | 2026-12-01T16:00:00.000Z | 1.25 |');
    expect(md).toContain('| `pubsub_raw_node_redis_p50_us` | 100 |');
  });

  it('charts only the measured ratios, coloured by status', () => {
    const spec = chartSpec(allRatios(reports)) as unknown as { data: { values: { ratio: string; status: string }[] } };
    const v = spec.data.values;
    expect(v.map((x) => x.ratio)).toContain('bus: drain_vs_raw');
    expect(v.find((x) => x.ratio === 'bus: drain_vs_raw')!.status).toBe('missed');
    expect(v.some((x) => x.ratio.startsWith('api:'))).toBe(false);
  });

  it('keeps every bar inside the plotted range and every label right of its bar and the target line', () => {
    const spec = chartSpec(allRatios(reports)) as unknown as {
      data: { values: { score: number; at: number }[] };
    };
    const v = spec.data.values;
    expect(v.some((x) => x.score < 1)).toBe(true); // a miss in the fixture
    for (const x of v) {
      expect(x.score).toBeGreaterThanOrEqual(0.1);
      expect(x.score).toBeLessThanOrEqual(100);
      expect(x.at).toBe(Math.max(1, x.score));
    }
  });

  it('renders the chart to SVG with a library and writes both files', async () => {
    const svg = await renderChart(allRatios(reports));
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('drain_vs_raw');
    const dir = tempDir();
    fs.writeFileSync(path.join(dir, 'bus.json'), JSON.stringify(reports.bus));
    fs.writeFileSync(path.join(dir, 'broken.json'), '{"figures":');
    expect(Object.keys(readReports(dir))).toEqual(['bus']);
    const file = await writeSummary(dir);
    expect(fs.readFileSync(file, 'utf8')).toContain('`raw_drain_per_s` 100,000');
    expect(fs.readFileSync(path.join(dir, 'summary.svg'), 'utf8')).toContain('<svg');
  }, 60_000);
});
