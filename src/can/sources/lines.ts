import type { Readable } from 'node:stream';
import { parseCandumpLine } from '../candump.js';
import { FrameError, SourceError } from '../errors.js';
import type { CanFrame } from '../frame.js';
import { LineSplitter } from './line-splitter.js';
import type { LineSourceOptions, SourceStats } from './types.js';

/**
 * Turns a stream of `candump -L` lines into frame batches: full batches at
 * once, partial ones after `flushMs`. When more than `highWater` batches
 * wait for the consumer, the input stream is paused (backpressure).
 */
export class LineBatcher {
  private current: CanFrame[] = [];
  private readonly ready: CanFrame[][] = [];
  private timer: NodeJS.Timeout | null = null;
  private waiter: (() => void) | null = null;
  private ended = false;
  private failure: Error | null = null;
  private paused = false;
  private readonly highWater = 64;

  constructor(
    private readonly input: Readable,
    private readonly opts: LineSourceOptions,
    private readonly stats: SourceStats,
    /** End when the input ends (files, pipes); a child process source ends on its exit instead. */
    endWithInput = true,
  ) {
    const splitter = new LineSplitter(
      opts.maxLineBytes,
      (line) => this.onLine(line),
      (bytes, head) => this.onOversized(bytes, head),
    );
    input.on('data', (chunk: Buffer | string) => splitter.push(chunk));
    input.on('end', () => {
      splitter.end();
      if (endWithInput) this.end();
    });
    input.on('error', (err) =>
      this.end(new SourceError('SOURCE_IO', `reading frames failed: ${err.message}`, { cause: err })),
    );
  }

  private onOversized(bytes: number, head: string): void {
    if (this.ended) return;
    oversizedLine(this.stats, this.opts, bytes, head);
  }

  private onLine(line: string): void {
    if (this.ended || line === '') return;
    const r = parseCandumpLine(line);
    if (!r.ok) {
      this.stats.badLines[r.error.code] = (this.stats.badLines[r.error.code] ?? 0) + 1;
      this.opts.onBadLine?.(line, r.error);
      return;
    }
    const f = r.frame;
    if (f.error) {
      this.stats.errorFrames++;
      if (!this.opts.includeErrorFrames) return;
    } else if (f.rtr) {
      this.stats.remoteFrames++;
      if (!this.opts.includeRemoteFrames) return;
    }
    this.current.push(f);
    if (this.current.length >= this.opts.maxBatch) this.flush();
    else if (!this.timer) this.timer = setTimeout(() => this.flush(), this.opts.flushMs);
  }

  private flush(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
    if (this.current.length === 0) return;
    this.ready.push(this.current);
    this.current = [];
    if (this.ready.length >= this.highWater && !this.paused) {
      this.paused = true;
      this.input.pause();
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Ends the batches (after the ones already read); with an error, the iteration throws it at the end. */
  end(error?: Error): void {
    if (this.ended) return;
    this.flush();
    this.ended = true;
    if (error) this.failure = error;
    this.wake();
  }

  async *batches(): AsyncGenerator<CanFrame[]> {
    while (true) {
      const b = this.ready.shift();
      if (b) {
        if (this.paused && this.ready.length < this.highWater / 2) {
          this.paused = false;
          this.input.resume();
        }
        this.stats.batches++;
        this.stats.frames += b.length;
        yield b;
        continue;
      }
      if (this.ended) {
        if (this.failure) throw this.failure;
        return;
      }
      await new Promise<void>((resolve) => (this.waiter = resolve));
    }
  }
}

/** Counts and reports a line over `maxLineBytes` (shared by the line sources). */
export function oversizedLine(
  stats: SourceStats,
  opts: Pick<LineSourceOptions, 'maxLineBytes' | 'onBadLine'>,
  bytes: number,
  head: string,
): void {
  stats.badLines.OVERSIZED = (stats.badLines.OVERSIZED ?? 0) + 1;
  opts.onBadLine?.(
    head,
    new FrameError('OVERSIZED', `line of more than ${opts.maxLineBytes} bytes (${bytes} dropped) is not a CAN frame`),
  );
}
