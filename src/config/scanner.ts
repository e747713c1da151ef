import { positiveInt, text } from './read.js';

/** The scanner's bounds when no variable sets them. */
export const SCANNER_BOUNDS_DEFAULTS = { spoolMaxBytes: 512 * 1024 * 1024, maxFutureSkewMs: 5 * 60_000 };

/** What `canopy scanner` takes from the environment (docs/configuration.md). */
export interface ScannerEnv {
  /** `CANOPY_SPOOL_MAX_BYTES` — the spool's size limit (frames beyond it are dropped, counted). */
  spoolMaxBytes: number;
  /** `CANOPY_MAX_FUTURE_SKEW_MS` — frames stamped further ahead are rejected (counted). */
  maxFutureSkewMs: number;
  /** `CANOPY_STREAM_MINID_MS` (age) or `CANOPY_STREAM_MAXLEN` (length, default 2,000,000): how `can:raw` is trimmed. */
  trim: { minAgeMs: number } | { maxLen: number };
}

export function scannerEnv(env: NodeJS.ProcessEnv = process.env): ScannerEnv {
  const minAge = text(env, 'CANOPY_STREAM_MINID_MS');
  return {
    spoolMaxBytes: positiveInt(env, 'CANOPY_SPOOL_MAX_BYTES', SCANNER_BOUNDS_DEFAULTS.spoolMaxBytes),
    maxFutureSkewMs: positiveInt(env, 'CANOPY_MAX_FUTURE_SKEW_MS', SCANNER_BOUNDS_DEFAULTS.maxFutureSkewMs),
    trim: minAge ? { minAgeMs: Number(minAge) } : { maxLen: Number(env.CANOPY_STREAM_MAXLEN || 2_000_000) },
  };
}
