/**
 * What the soak makes of its samples (pure; test/bench/soak-stats.test.ts):
 * peak of the summed RSS and of the summed PSS, the worst process's RSS slope over the second half,
 * descriptor growth over the second half, restarts (a service seen under a
 * new pid).
 */

/** One process at one sample time. */
export interface ProcSample {
  /** Seconds since the soak started. */
  t: number;
  /** Which service (stable across restarts), e.g. "worker", "redis-server". */
  key: string;
  pid: number;
  rssMb: number;
  /**
   * Proportional set size: the process's own pages plus its share of pages it
   * shares (the node binary's text, mapped by every Node process). The sum over
   * processes is what the machine spends; the RSS sum counts shared pages once per
   * process. NaN when the kernel does not say (no /proc/PID/smaps_rollup).
   */
  pssMb: number;
  fds: number;
}

export interface SoakFigures {
  soak_rss_total_mb: number;
  /** Peak of the summed PSS; absent when a sample had none. */
  soak_pss_total_mb?: number;
  soak_rss_slope_mb_per_h_max: number;
  soak_fds_growth: number;
  soak_restarts: number;
  soak_processes: number;
}

/** Least-squares slope of y over x (per unit of x); 0 with fewer than 2 distinct x. */
export function slope(xs: number[], ys: number[]): number {
  const n = xs.length;
  if (n < 2) return 0;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  for (let i = 0; i < n; i++) {
    num += (xs[i]! - mx) * (ys[i]! - my);
    den += (xs[i]! - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

export function soakFigures(samples: ProcSample[], durationS: number): SoakFigures {
  const byT = new Map<number, number>();
  const pssByT = new Map<number, number>();
  for (const s of samples) {
    byT.set(s.t, (byT.get(s.t) ?? 0) + s.rssMb);
    pssByT.set(s.t, (pssByT.get(s.t) ?? 0) + s.pssMb);
  }
  const pssPeak = Math.max(0, ...pssByT.values());
  const half = durationS / 2;
  const keys = [...new Set(samples.map((s) => s.key))];
  let slopeMax = 0;
  let fdsGrowth = 0;
  let restarts = 0;
  for (const k of keys) {
    const mine = samples.filter((s) => s.key === k).sort((a, b) => a.t - b.t);
    for (let i = 1; i < mine.length; i++) if (mine[i]!.pid !== mine[i - 1]!.pid) restarts++;
    // the second half, on the pid seen last (a restarted process starts from scratch)
    const last = mine[mine.length - 1]!.pid;
    const late = mine.filter((s) => s.t >= half && s.pid === last);
    if (late.length >= 2) {
      slopeMax = Math.max(
        slopeMax,
        slope(
          late.map((s) => s.t / 3600),
          late.map((s) => s.rssMb),
        ),
      );
      fdsGrowth = Math.max(fdsGrowth, late[late.length - 1]!.fds - late[0]!.fds);
    }
  }
  return {
    soak_rss_total_mb: r1(Math.max(0, ...byT.values())),
    ...(Number.isFinite(pssPeak) && pssByT.size ? { soak_pss_total_mb: r1(pssPeak) } : {}),
    soak_rss_slope_mb_per_h_max: r1(slopeMax),
    soak_fds_growth: fdsGrowth,
    soak_restarts: restarts,
    soak_processes: keys.length,
  };
}

/** What Redis holds of `can:raw` at the end of a soak (XLEN, MEMORY USAGE … SAMPLES 0, XINFO STREAM's entries-added). */
export interface StreamSample {
  entries: number;
  bytes: number;
  /** Entries ever added (trimmed ones included); undefined before Redis 7. */
  added: number | undefined;
}

export interface StreamFigures {
  /** The frames/s the simulated nodes sent. */
  soak_stream_entries_per_s: number;
  /** Redis's memory for one `can:raw` entry, the stream's own overhead spread over its entries. */
  soak_stream_bytes_per_entry: number;
  /** What `can:raw` would hold at the product's length bound (CANOPY_STREAM_MAXLEN's default). */
  soak_stream_mb_at_default_maxlen: number;
  /** How long the simulated nodes take to fill it to that bound. */
  soak_stream_hours_to_default_maxlen: number;
}

/**
 * Redis grows while `can:raw` fills towards its length bound — by design: it
 * is the worker's backlog buffer. These figures size that buffer at the
 * product's default bound from what one soak measured.
 */
export function streamFigures(s: StreamSample, durationS: number, defaultMaxLen: number): StreamFigures {
  const perEntry = s.entries > 0 ? s.bytes / s.entries : 0;
  const rate = durationS > 0 ? (s.added ?? s.entries) / durationS : 0;
  return {
    soak_stream_entries_per_s: r1(rate),
    soak_stream_bytes_per_entry: r1(perEntry),
    soak_stream_mb_at_default_maxlen: r1((perEntry * defaultMaxLen) / 1e6),
    soak_stream_hours_to_default_maxlen: rate > 0 ? r1(defaultMaxLen / rate / 3600) : 0,
  };
}
