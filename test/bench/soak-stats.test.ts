import { describe, expect, it } from 'vitest';
import { slope, soakFigures, streamFigures, type ProcSample } from '../../bench/lib/soak-stats.js';

const s = (t: number, key: string, pid: number, rssMb: number, fds = 20, pssMb = rssMb / 2): ProcSample => ({
  t,
  key,
  pid,
  rssMb,
  pssMb,
  fds,
});

describe('soak figures', () => {
  it('fits a least-squares slope', () => {
    expect(slope([0, 1, 2, 3], [10, 12, 14, 16])).toBeCloseTo(2);
    expect(slope([1], [5])).toBe(0);
    expect(slope([2, 2], [1, 9])).toBe(0);
  });

  it('takes the peak of the summed RSS over every process at one sample time', () => {
    const f = soakFigures([s(0, 'a', 1, 50), s(0, 'b', 2, 60), s(10, 'a', 1, 70), s(10, 'b', 2, 45)], 10);
    expect(f.soak_rss_total_mb).toBe(115);
    expect(f.soak_processes).toBe(2);
  });

  it('takes the peak of the summed PSS on its own: its peak need not be the RSS peak', () => {
    const f = soakFigures(
      [s(0, 'a', 1, 80, 20, 30), s(0, 'b', 2, 60, 20, 20), s(10, 'a', 1, 70, 20, 45), s(10, 'b', 2, 45, 20, 25)],
      10,
    );
    expect(f.soak_rss_total_mb).toBe(140);
    expect(f.soak_pss_total_mb).toBe(70);
  });

  it('leaves the PSS total out when the kernel gave no PSS for a sample', () => {
    const f = soakFigures([s(0, 'a', 1, 80, 20, NaN), s(0, 'b', 2, 60, 20, 20)], 0);
    expect(f.soak_rss_total_mb).toBe(140);
    expect(f).not.toHaveProperty('soak_pss_total_mb');
  });

  it('reports the worst process slope over the second half only, in MB per hour', () => {
    const samples: ProcSample[] = [];
    for (let i = 0; i <= 10; i++) {
      const t = i * 360; // 0 … 3,600 s
      // "warm" grows fast in the first half then stays flat; "leak" grows 4 MB/h in the second half
      samples.push(s(t, 'warm', 1, i <= 5 ? 40 + i * 10 : 90));
      samples.push(s(t, 'leak', 2, i <= 5 ? 50 : 50 + (t - 1800) / 900));
    }
    const f = soakFigures(samples, 3600);
    expect(f.soak_rss_slope_mb_per_h_max).toBeCloseTo(4, 1);
  });

  it('counts a restart whenever a service shows up under a new pid, and measures the new pid only', () => {
    const f = soakFigures(
      [s(0, 'w', 1, 80, 30), s(5, 'w', 1, 90, 30), s(6, 'w', 7, 40, 10), s(8, 'w', 7, 40, 10), s(10, 'w', 7, 40, 12)],
      10,
    );
    expect(f.soak_restarts).toBe(1);
    expect(f.soak_fds_growth).toBe(2);
    expect(f.soak_rss_slope_mb_per_h_max).toBe(0);
  });

  it('finds no growth and no restarts in a steady run', () => {
    const samples = [0, 10, 20, 30].flatMap((t) => [s(t, 'a', 1, 50, 22), s(t, 'b', 2, 30, 15)]);
    expect(soakFigures(samples, 30)).toMatchObject({
      soak_fds_growth: 0,
      soak_restarts: 0,
      soak_rss_slope_mb_per_h_max: 0,
    });
  });
});

describe("soak: can:raw's buffer at the default bound", () => {
  it('sizes the buffer from bytes per entry and the rate entries were added (trimmed ones included)', () => {
    const f = streamFigures({ entries: 20_000, bytes: 1_040_000, added: 54_000 }, 3600, 2_000_000);
    expect(f).toEqual({
      soak_stream_entries_per_s: 15,
      soak_stream_bytes_per_entry: 52,
      soak_stream_mb_at_default_maxlen: 104,
      soak_stream_hours_to_default_maxlen: 37,
    });
  });

  it('falls back to the entries present when Redis does not report entries-added, and to zeros on an empty stream', () => {
    expect(
      streamFigures({ entries: 3600, bytes: 180_000, added: undefined }, 3600, 1000).soak_stream_entries_per_s,
    ).toBe(1);
    expect(streamFigures({ entries: 0, bytes: 0, added: 0 }, 0, 2_000_000)).toEqual({
      soak_stream_entries_per_s: 0,
      soak_stream_bytes_per_entry: 0,
      soak_stream_mb_at_default_maxlen: 0,
      soak_stream_hours_to_default_maxlen: 0,
    });
  });
});
