import fs from 'node:fs';
import { parseCandumpLine } from '../candump.js';
import { SourceError } from '../errors.js';
import type { CanFrame } from '../frame.js';
import { LineSplitter } from './line-splitter.js';
import { oversizedLine } from './lines.js';
import { stripUndefined } from './socketcan.js';
import {
  emptyStats,
  LINE_SOURCE_DEFAULTS,
  systemClock,
  type Clock,
  type FrameSource,
  type LineSourceOptions,
  type SourceStats,
} from './types.js';

/**
 * Replays a `candump -L` log file: with its original timing divided by
 * `speed`, or as fast as the consumer takes the batches (`speed: 'max'`).
 */
export interface ReplayOptions extends Omit<LineSourceOptions, 'flushMs'> {
  /** The log file (required). */
  path: string;
  /** @defaultValue 'max' — 1 replays in real time, 10 ten times faster, 'max' without waiting. */
  speed: number | 'max';
  /**
   * @defaultValue 'original' — keep the logged timestamps; 'now' stamps each frame with
   * the time it is replayed (its due time when timed), so live keys stay fresh.
   */
  timestamps: 'original' | 'now';
  /** @defaultValue the system clock */
  clock: Clock;
}

export class ReplaySource implements FrameSource {
  readonly kind = 'replay' as const;
  private readonly opts: ReplayOptions;
  private readonly counters: SourceStats = emptyStats();
  private readonly abort = new AbortController();
  private stream: fs.ReadStream | null = null;

  constructor(opts: Partial<ReplayOptions> & { path: string }) {
    this.opts = {
      ...LINE_SOURCE_DEFAULTS,
      speed: 'max',
      timestamps: 'original',
      clock: systemClock,
      ...stripUndefined(opts),
      path: opts.path,
    };
    const s = this.opts.speed;
    if (s !== 'max' && !(typeof s === 'number' && s > 0 && Number.isFinite(s))) {
      throw new SourceError('SOURCE_CONFIG', `speed must be a positive number or 'max', got ${String(s)}`);
    }
    if (!(this.opts.maxBatch >= 1)) throw new SourceError('SOURCE_CONFIG', 'maxBatch must be ≥ 1');
  }

  async *batches(): AsyncGenerator<CanFrame[]> {
    const { clock, maxBatch, speed } = this.opts;
    if (!fs.existsSync(this.opts.path)) {
      throw new SourceError('SOURCE_IO', `replay file ${this.opts.path} does not exist`);
    }
    const stream = fs.createReadStream(this.opts.path);
    this.stream = stream;
    const lines = readLines(stream, this.opts.maxLineBytes, (bytes, head) =>
      oversizedLine(this.counters, this.opts, bytes, head),
    );
    const startMono = clock.monotonic(); // paced on the clock that never steps
    let firstTs: number | null = null;
    let batch: CanFrame[] = [];
    const emit = () => {
      const b = batch;
      batch = [];
      this.counters.batches++;
      this.counters.frames += b.length;
      return b;
    };
    try {
      for await (const line of lines) {
        if (this.abort.signal.aborted) break;
        if (line === '') continue;
        const r = parseCandumpLine(line);
        if (!r.ok) {
          this.counters.badLines[r.error.code] = (this.counters.badLines[r.error.code] ?? 0) + 1;
          this.opts.onBadLine?.(line, r.error);
          continue;
        }
        const f = r.frame;
        if (f.error) {
          this.counters.errorFrames++;
          if (!this.opts.includeErrorFrames) continue;
        } else if (f.rtr) {
          this.counters.remoteFrames++;
          if (!this.opts.includeRemoteFrames) continue;
        }
        if (firstTs === null) firstTs = f.ts;
        let due = 0;
        if (speed !== 'max') {
          due = startMono + (f.ts - firstTs) / speed;
          const wait = due - clock.monotonic();
          if (wait > 0) {
            if (batch.length > 0) yield emit();
            await clock.sleep(wait, this.abort.signal);
            if (this.abort.signal.aborted) break;
          }
        }
        // 'now': the wall-clock time of the frame's due instant (a step moves it, as it would a real scanner's)
        if (this.opts.timestamps === 'now') {
          f.ts = speed === 'max' ? clock.now() : Math.round(due + clock.now() - clock.monotonic());
        }
        batch.push(f);
        if (batch.length >= maxBatch) yield emit();
      }
      if (batch.length > 0 && !this.abort.signal.aborted) yield emit();
    } catch (err) {
      throw new SourceError('SOURCE_IO', `reading ${this.opts.path} failed: ${(err as Error).message}`, { cause: err });
    } finally {
      stream.destroy();
    }
  }

  async close(): Promise<void> {
    this.abort.abort();
    this.stream?.destroy();
  }

  stats(): SourceStats {
    return structuredClone(this.counters);
  }
}

/** The lines of a stream, each at most `maxLineBytes` (longer ones go to `onOversized`, never buffered whole). */
async function* readLines(
  stream: AsyncIterable<Buffer>,
  maxLineBytes: number,
  onOversized: (bytes: number, head: string) => void,
): AsyncGenerator<string> {
  let ready: string[] = [];
  const splitter = new LineSplitter(maxLineBytes, (l) => ready.push(l), onOversized);
  for await (const chunk of stream) {
    splitter.push(chunk);
    const out = ready;
    ready = [];
    yield* out;
  }
  splitter.end();
  yield* ready;
}
