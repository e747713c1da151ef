/**
 * The ratios issue #17 sets targets for: each a figure of one result file
 * over a denominator measured in the same run (same file), or an absolute
 * figure against a fixed bound. Pure: no I/O, unit-tested
 * (test/bench/targets.test.ts).
 */

/** 'atLeast': met when ratio ≥ target; 'atMost': met when ratio ≤ target. */
export type Direction = 'atLeast' | 'atMost';

/** A denominator that is not a figure of its own: computed from the file's figures. */
export interface DerivedDenominator {
  label: string;
  value(figures: Record<string, number>): number | undefined;
}

export interface RatioSpec {
  /** Stable id, also the key in the result file's `ratios`. */
  id: string;
  /** The result file (`bench/results/<bench>.json`) holding the figure and its denominator. */
  bench: string;
  figure: string;
  /** A figure of the same file, a derived value, or null for an absolute bound (ratio = figure). */
  denominator: string | DerivedDenominator | null;
  direction: Direction;
  target: number;
  /** What the target means, for the summary ("≥ 1.5 × raw drain"). */
  text: string;
}

export type RatioStatus = 'met' | 'missed' | 'not measured';

export interface RatioResult {
  id: string;
  bench: string;
  figure: string;
  figureValue: number | null;
  denominator: string | null;
  denominatorValue: number | null;
  ratio: number | null;
  direction: Direction;
  target: number;
  status: RatioStatus;
  text: string;
}

/** The live API's p99 bound in ms: connections ÷ requests per second. */
export const liveBound: DerivedDenominator = {
  label: 'live_connections ÷ live_req_per_s (ms)',
  value: (f) => {
    const c = f.live_connections;
    const r = f.live_req_per_s;
    return c !== undefined && r !== undefined && r > 0 ? (c / r) * 1000 : undefined;
  },
};

export const RATIOS: readonly RatioSpec[] = [
  {
    id: 'drain_vs_raw',
    bench: 'bus',
    figure: 'drain_per_s',
    denominator: 'raw_drain_per_s',
    direction: 'atLeast',
    target: 1.5,
    text: 'group drain ≥ 1.5 × a plain node-redis XREADGROUP + XACK loop',
  },
  {
    id: 'pubsub_p50_vs_raw',
    bench: 'bus',
    figure: 'pubsub_p50_us',
    denominator: 'pubsub_raw_node_redis_p50_us',
    direction: 'atMost',
    target: 1.1,
    text: 'pub/sub p50 ≤ 1.1 × plain node-redis',
  },
  {
    id: 'pubsub_p99_vs_raw',
    bench: 'bus',
    figure: 'pubsub_p99_us',
    denominator: 'pubsub_raw_node_redis_p99_us',
    direction: 'atMost',
    target: 1.1,
    text: 'pub/sub p99 ≤ 1.1 × plain node-redis',
  },
  {
    id: 'e2e_postgres_vs_bare',
    bench: 'pipeline',
    figure: 'e2e_postgres_frames_per_s',
    denominator: 'bare_postgres_frames_per_s',
    direction: 'atLeast',
    target: 0.5,
    text: 'end to end on PostgreSQL ≥ 0.5 × COPY into the seeds’ schema',
  },
  {
    id: 'e2e_sqlite_vs_bare',
    bench: 'pipeline',
    figure: 'e2e_sqlite_frames_per_s',
    denominator: 'bare_sqlite_frames_per_s',
    direction: 'atLeast',
    target: 0.5,
    text: 'end to end on SQLite ≥ 0.5 × prepared INSERTs into the seeds’ schema',
  },
  {
    id: 'update_latency_p50',
    bench: 'pipeline',
    figure: 'update_latency_p50_ms',
    denominator: null,
    direction: 'atMost',
    target: 1,
    text: 'XADD → sensor:update p50 ≤ 1 ms at 1,000 frames/s',
  },
  {
    id: 'update_latency_p99',
    bench: 'pipeline',
    figure: 'update_latency_p99_ms',
    denominator: null,
    direction: 'atMost',
    target: 5,
    text: 'XADD → sensor:update p99 ≤ 5 ms at 1,000 frames/s',
  },
  {
    id: 'worker_peak_rss',
    bench: 'pipeline',
    figure: 'worker_peak_rss_mb',
    denominator: null,
    direction: 'atMost',
    target: 120,
    text: 'worker peak RSS ≤ 120 MB at the maximum rate',
  },
  {
    id: 'live_vs_bare',
    bench: 'api',
    figure: 'live_req_per_s',
    denominator: 'live_bare_req_per_s',
    direction: 'atLeast',
    target: 0.8,
    text: '/api/sensors/live requests/s ≥ 0.8 × a bare fastify route',
  },
  {
    id: 'live_p99_bound',
    bench: 'api',
    figure: 'live_p99_ms',
    denominator: liveBound,
    direction: 'atMost',
    target: 2,
    text: '/api/sensors/live p99 ≤ 2 × connections ÷ requests per second',
  },
  {
    id: 'ws_fanout_vs_bare',
    bench: 'api',
    figure: 'ws_fanout_publish_p99_ms',
    denominator: 'ws_bare_fanout_p99_ms',
    direction: 'atMost',
    target: 1.5,
    text: 'WebSocket fan-out p99 ≤ 1.5 × a bare ws broadcast',
  },
  {
    id: 'gateway_capacity_vs_bare',
    bench: 'gateway',
    figure: 'capacity_msgs_per_s',
    denominator: 'bare_capacity_msgs_per_s',
    direction: 'atLeast',
    target: 0.5,
    text: 'gateway capacity ≥ 0.5 × a bare ws server publishing pipelined',
  },
  {
    id: 'e2e_sqlite_vs_naive',
    bench: 'baseline',
    figure: 'canopy_e2e_sqlite_frames_per_s',
    denominator: 'naive_e2e_sqlite_frames_per_s',
    direction: 'atLeast',
    target: 10,
    text: 'end to end on SQLite ≥ 10 × the seeds’ naive design',
  },
  {
    id: 'e2e_postgres_vs_naive',
    bench: 'baseline',
    figure: 'canopy_e2e_postgres_frames_per_s',
    denominator: 'naive_e2e_postgres_frames_per_s',
    direction: 'atLeast',
    target: 10,
    text: 'end to end on PostgreSQL ≥ 10 × the seeds’ naive design',
  },
  {
    id: 'relay_p99_vs_naive',
    bench: 'baseline',
    figure: 'canopy_relay_latency_p99_ms',
    denominator: 'naive_relay_latency_p99_ms',
    direction: 'atMost',
    target: 0.01,
    text: 'relay latency p99 ≤ 1/100 of the naive design’s',
  },
  {
    id: 'soak_rss_total',
    bench: 'soak',
    figure: 'soak_rss_total_mb',
    denominator: null,
    direction: 'atMost',
    target: 300,
    text: 'all of canopy up --separate (one process per service: the default above 4 GiB) ≤ 300 MB RSS (peak of the sum)',
  },
  {
    id: 'soak_compact_rss_total',
    bench: 'soak-compact',
    figure: 'soak_compact_rss_total_mb',
    denominator: null,
    direction: 'atMost',
    target: 300,
    text: 'all of canopy up --compact (one process: the default on ≤ 4 GiB, every Pi 3/4 up to 4 GB) ≤ 300 MB RSS (peak of the sum)',
  },
  {
    id: 'soak_pss_total',
    bench: 'soak',
    figure: 'soak_pss_total_mb',
    denominator: null,
    direction: 'atMost',
    target: 300,
    text: 'all of canopy up --separate ≤ 300 MB PSS, what the machine spends (peak of the sum; pages the processes share, the node binary first, counted once)',
  },
  {
    id: 'soak_compact_pss_total',
    bench: 'soak-compact',
    figure: 'soak_compact_pss_total_mb',
    denominator: null,
    direction: 'atMost',
    target: 300,
    text: 'canopy up --compact ≤ 300 MB PSS (peak of the sum)',
  },
  {
    id: 'soak_compact_rss_slope',
    bench: 'soak-compact',
    figure: 'soak_compact_rss_slope_mb_per_h_max',
    denominator: null,
    direction: 'atMost',
    target: 2,
    text: 'canopy up --compact: no process growing > 2 MB/h over the second half',
  },
  {
    id: 'soak_rss_slope',
    bench: 'soak',
    figure: 'soak_rss_slope_mb_per_h_max',
    denominator: null,
    direction: 'atMost',
    target: 2,
    text: 'canopy up --separate: no process growing > 2 MB/h over the second half',
  },
  {
    id: 'soak_fds_growth',
    bench: 'soak',
    figure: 'soak_fds_growth',
    denominator: null,
    direction: 'atMost',
    target: 0,
    text: 'no file-descriptor growth',
  },
  {
    id: 'soak_restarts',
    bench: 'soak',
    figure: 'soak_restarts',
    denominator: null,
    direction: 'atMost',
    target: 0,
    text: 'no restarts',
  },
  {
    id: 'failover_lost',
    bench: 'scale',
    figure: 'failover_frames_lost',
    denominator: null,
    direction: 'atMost',
    target: 0,
    text: 'no frame lost when the Redis primary is killed under Sentinel',
  },
  {
    id: 'cluster_drain_vs_single',
    bench: 'scale',
    figure: 'cluster_drain_per_s',
    denominator: 'single_drain_per_s',
    direction: 'atLeast',
    target: 0.5,
    text: 'group drain on a six-node cluster (one machine) ≥ 0.5 × one server',
  },
];

const finite = (x: number | undefined): x is number => typeof x === 'number' && Number.isFinite(x);

/** Evaluates one spec against a result file's figures. */
export function evaluate(spec: RatioSpec, figures: Record<string, number>): RatioResult {
  const figureValue = figures[spec.figure];
  let denominator: string | null = null;
  let denominatorValue: number | undefined;
  if (typeof spec.denominator === 'string') {
    denominator = spec.denominator;
    denominatorValue = figures[spec.denominator];
  } else if (spec.denominator) {
    denominator = spec.denominator.label;
    denominatorValue = spec.denominator.value(figures);
  }
  let ratio: number | null = null;
  if (finite(figureValue)) {
    if (spec.denominator === null) ratio = figureValue;
    else if (finite(denominatorValue) && denominatorValue !== 0) ratio = figureValue / denominatorValue;
  }
  const status: RatioStatus =
    ratio === null
      ? 'not measured'
      : (spec.direction === 'atLeast' ? ratio >= spec.target : ratio <= spec.target)
        ? 'met'
        : 'missed';
  return {
    id: spec.id,
    bench: spec.bench,
    figure: spec.figure,
    figureValue: finite(figureValue) ? figureValue : null,
    denominator,
    denominatorValue: finite(denominatorValue) ? denominatorValue : null,
    ratio: ratio === null ? null : Math.round(ratio * 10_000) / 10_000,
    direction: spec.direction,
    target: spec.target,
    status,
    text: spec.text,
  };
}

/** Every ratio of one benchmark's figures (what its result file carries beside them). */
export function ratiosFor(bench: string, figures: Record<string, number>, specs = RATIOS): RatioResult[] {
  return specs.filter((s) => s.bench === bench).map((s) => evaluate(s, figures));
}

/**
 * How far a ratio is from its target on one scale where 1 is the target and
 * more is better (ratio ÷ target when at least, target ÷ ratio when at most);
 * for a target of 0 (no growth), 1 when met and 0 when not. For the chart.
 */
export function score(r: RatioResult): number | null {
  if (r.ratio === null) return null;
  if (r.target === 0) return r.ratio <= 0 ? 1 : 0;
  if (r.direction === 'atLeast') return r.ratio / r.target;
  return r.ratio === 0 ? Infinity : r.target / r.ratio;
}
