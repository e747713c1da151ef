/**
 * `canopy monitor can`: the frames the database received (or the `can:raw`
 * stream), one scanner-style line each, colour-coded by message type, with
 * counts per type. On a terminal a fixed two-line header and the newest lines
 * below it; piped, new lines are printed as they arrive (like `tail -f`).
 */
import type { NodeMap } from '../cea/config.js';
import type { FrameSource } from './can-sources.js';
import { formatFrameLine, formatTime, TypeCounts, typeColour, type DisplayFrame } from './frames.js';
import { fit, painter, runLoop, runScreen } from './screen.js';

/** Options of {@link CanMonitor}. */
export interface CanMonitorOptions {
  /** Node map for room names. @defaultValue undefined (node numbers only) */
  nodes: NodeMap | undefined;
  /** @defaultValue false */
  color: boolean;
  /** Frames read per refresh at most (the rest come with the next one). @defaultValue 2000 */
  batch: number;
  /** Frames counted by the first screen (`--once`: all it shows). @defaultValue 1000 */
  window: number;
  /** @defaultValue `Date.now` */
  now: () => number;
}

export const CAN_MONITOR_DEFAULTS: CanMonitorOptions = {
  nodes: undefined,
  color: false,
  batch: 2000,
  window: 1000,
  now: Date.now,
};

/** What one screen shows. */
export interface CanScreenState {
  source: string;
  /** Newest last. */
  frames: readonly DisplayFrame[];
  counts: TypeCounts;
  /** `read since 12:00:01` */
  countsLabel: string;
  now: number;
}

const HEADER_LINES = 3;

/** One screen: header, counts per type, a rule, then the newest frames that fit (pure). */
export function renderCanScreen(
  s: CanScreenState,
  o: { nodes: NodeMap | undefined; color: boolean; width: number; height: number },
): string[] {
  const p = painter(o.color);
  const counts = s.counts.entries();
  const lines = [
    `${p.paint('bold', 'Canopy CAN monitor')}  ${s.source}  ${formatTime(s.now)}  Ctrl+C exits`,
    `${p.paint('bold', 'Counts')} (${s.counts.total} ${s.countsLabel}): ` +
      (counts.length
        ? counts.map(([t, n]) => `${p.paint(typeColour(t), t)} ${n}`).join('  ')
        : p.paint('grey', 'none')),
    p.paint('grey', '-'.repeat(o.width)),
  ];
  const room = Math.max(0, o.height - HEADER_LINES);
  const shown = room > 0 ? s.frames.slice(-room) : [];
  if (shown.length === 0 && room > 0) lines.push(p.paint('grey', 'waiting for frames…'));
  // below 100 columns the date (it is in the header) makes room for the values
  const timeOnly = o.width < 100;
  for (const f of shown) lines.push(formatFrameLine(f, o.nodes, p, { timeOnly }));
  return fit(lines, o.width, o.height);
}

/** Follows a {@link FrameSource}: keeps the newest frames and the counts per type. */
export class CanMonitor {
  readonly counts = new TypeCounts();
  private frames: DisplayFrame[] = [];
  private readonly opts: CanMonitorOptions;
  private started = false;
  private readonly since: number;

  constructor(
    private readonly source: FrameSource,
    options: Partial<CanMonitorOptions> = {},
  ) {
    this.opts = { ...CAN_MONITOR_DEFAULTS, ...options };
    for (const k of ['batch', 'window'] as const) {
      if (!Number.isInteger(this.opts[k]) || this.opts[k] < 1) throw new RangeError(`${k} must be an integer ≥ 1`);
    }
    this.since = this.opts.now();
  }

  /**
   * The first call reads the newest `window` frames; every later call the
   * frames that arrived since. Returns the new frames, oldest first.
   */
  async poll(): Promise<DisplayFrame[]> {
    const fresh = this.started ? await this.source.next(this.opts.batch) : await this.source.latest(this.opts.window);
    this.started = true;
    this.counts.add(fresh);
    this.frames.push(...fresh);
    if (this.frames.length > 1000) this.frames = this.frames.slice(-1000);
    return fresh;
  }

  screen(width: number, height: number): string[] {
    return renderCanScreen(
      {
        source: this.source.label,
        frames: this.frames,
        counts: this.counts,
        countsLabel: `read since ${formatTime(this.since).slice(11, 19)}`,
        now: this.opts.now(),
      },
      { nodes: this.opts.nodes, color: this.opts.color, width, height },
    );
  }

  line(f: DisplayFrame): string {
    return formatFrameLine(f, this.opts.nodes, painter(this.opts.color));
  }
}

/**
 * Runs the monitor: `once` prints one screen; on a terminal it redraws every
 * `intervalMs`; otherwise it prints each new frame's line.
 */
export async function runCanMonitor(
  m: CanMonitor,
  o: {
    once: boolean;
    tty: boolean;
    intervalMs: number;
    size: () => { width: number; height: number };
    out?: NodeJS.WritableStream;
    onError?: (err: Error) => void;
  },
): Promise<void> {
  const out = o.out ?? process.stdout;
  if (o.once || o.tty) {
    await runScreen(
      async () => {
        await m.poll();
        const { width, height } = o.size();
        return m.screen(width, height);
      },
      { once: o.once, intervalMs: o.intervalMs, tty: o.tty, out },
    );
    return;
  }
  await runLoop(
    async () => {
      const fresh = await m.poll();
      if (fresh.length) out.write(`${fresh.map((f) => m.line(f)).join('\n')}\n`);
    },
    {
      intervalMs: o.intervalMs,
      onError: o.onError ?? ((err) => process.stderr.write(`canopy monitor: ${err.message}\n`)),
    },
  );
}
