import { setTimeout as delay } from 'node:timers/promises';
import type { FrameError } from '../errors.js';
import type { CanFrame } from '../frame.js';

/**
 * A source of CAN frames: the simulator, SocketCAN (through `candump -L`),
 * a pipe, or the replay of a log file.
 *
 * Pull-based: `batches()` is an async iterator of frame batches, so a slow
 * consumer (the scanner waiting on Redis) slows the source down instead of
 * piling frames up in memory. Iterate it once. The iterator ends when the
 * source ends (end of a replay file, `candump` exiting cleanly) or after
 * `close()`; it throws a {@link SourceError} when the source fails (no such
 * interface, `candump` missing or exiting with an error). Malformed input
 * lines never end the iteration: they are counted in `stats().badLines` and
 * reported to `onBadLine`.
 */
export interface FrameSource {
  readonly kind: 'simulator' | 'socketcan' | 'pipe' | 'replay';
  batches(): AsyncIterable<CanFrame[]>;
  /** Stops the source; a pending iteration ends. Idempotent. */
  close(): Promise<void>;
  stats(): SourceStats;
}

export interface SourceStats {
  /** Frames yielded. */
  frames: number;
  batches: number;
  /** Malformed input lines by FrameError code. */
  badLines: Record<string, number>;
  /** Error frames (CAN_ERR_FLAG) seen; yielded only with `includeErrorFrames`. */
  errorFrames: number;
  /** Remote requests seen; yielded only with `includeRemoteFrames`. */
  remoteFrames: number;
}

export function emptyStats(): SourceStats {
  return { frames: 0, batches: 0, badLines: {}, errorFrames: 0, remoteFrames: 0 };
}

/** Time, injectable for tests. */
export interface Clock {
  /** unix ms: the wall clock, which steps (NTP after a boot without RTC, an operator); frames are stamped with it */
  now(): number;
  /** ms on a clock that never steps (any origin): what pacing measures, so a step neither stalls nor floods a source */
  monotonic(): number;
  /** Resolves after `ms` (early, without error, when `signal` aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) => delay(ms, undefined, { signal }).catch(() => undefined),
};

/** Options shared by the line-reading sources (SocketCAN, pipe, replay). */
export interface LineSourceOptions {
  /** @defaultValue 500 — frames per batch at most. */
  maxBatch: number;
  /** @defaultValue 5 — a partial batch is yielded after this many ms without a full one. */
  flushMs: number;
  /** @defaultValue false — yield error frames (CAN_ERR_FLAG) too; they have no `can:raw` representation. */
  includeErrorFrames: boolean;
  /** @defaultValue false — yield remote requests too; they have no `can:raw` representation. */
  includeRemoteFrames: boolean;
  /**
   * @defaultValue 1024 — longest input line, in bytes. Longer lines are
   * dropped as they arrive (never buffered whole), counted as
   * `badLines.OVERSIZED` and reported to `onBadLine` with their first bytes.
   */
  maxLineBytes: number;
  /** @defaultValue none — called for each malformed line (after counting it). */
  onBadLine: ((line: string, error: FrameError) => void) | undefined;
}

export const LINE_SOURCE_DEFAULTS: LineSourceOptions = {
  maxBatch: 500,
  flushMs: 5,
  includeErrorFrames: false,
  includeRemoteFrames: false,
  maxLineBytes: 1024,
  onBadLine: undefined,
};
