import { ConfigError } from '../bus/errors.js';
import { positiveInt, text } from './read.js';

/** The scanner's bounds when no variable sets them. */
export const SCANNER_BOUNDS_DEFAULTS = {
  spoolMaxBytes: 512 * 1024 * 1024,
  maxFutureSkewMs: 5 * 60_000,
  waitTimeoutMs: 1000,
  /** `can:raw`'s length bound: some 50 bytes an entry in Redis, so about 100 MB when full (docs/operations.md). */
  streamMaxLen: 2_000_000,
};

/** What `canopy scanner` takes from the environment (docs/configuration.md). */
export interface ScannerEnv {
  /** `CANOPY_SPOOL_MAX_BYTES` — the spool's size limit (frames beyond it are dropped, counted). */
  spoolMaxBytes: number;
  /** `CANOPY_MAX_FUTURE_SKEW_MS` — frames stamped further ahead are rejected (counted). */
  maxFutureSkewMs: number;
  /** `CANOPY_STREAM_MINID_MS` (age) or `CANOPY_STREAM_MAXLEN` (length, default 2,000,000): how `can:raw` is trimmed. */
  trim: { minAgeMs: number } | { maxLen: number };
  /** `CANOPY_SCANNER_WAIT_REPLICAS` — `auto` (1 when the primary has replicas, else 0) or a number: replicas that must confirm a batch. */
  waitReplicas: number | 'auto';
  /** `CANOPY_SCANNER_WAIT_TIMEOUT_MS` — how long one WAIT for them may take. */
  waitTimeoutMs: number;
}

export function scannerEnv(env: NodeJS.ProcessEnv = process.env): ScannerEnv {
  const minAge = text(env, 'CANOPY_STREAM_MINID_MS');
  const maxLen = positiveInt(env, 'CANOPY_STREAM_MAXLEN', SCANNER_BOUNDS_DEFAULTS.streamMaxLen);
  return {
    spoolMaxBytes: positiveInt(env, 'CANOPY_SPOOL_MAX_BYTES', SCANNER_BOUNDS_DEFAULTS.spoolMaxBytes),
    maxFutureSkewMs: positiveInt(env, 'CANOPY_MAX_FUTURE_SKEW_MS', SCANNER_BOUNDS_DEFAULTS.maxFutureSkewMs),
    trim: minAge ? { minAgeMs: positiveInt(env, 'CANOPY_STREAM_MINID_MS', 1) } : { maxLen },
    waitReplicas: waitReplicas(text(env, 'CANOPY_SCANNER_WAIT_REPLICAS')),
    waitTimeoutMs: positiveInt(env, 'CANOPY_SCANNER_WAIT_TIMEOUT_MS', SCANNER_BOUNDS_DEFAULTS.waitTimeoutMs),
  };
}

function waitReplicas(v: string | undefined): number | 'auto' {
  if (v === undefined || v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new ConfigError(`CANOPY_SCANNER_WAIT_REPLICAS must be auto or an integer >= 0, got "${v}"`);
  }
  return n;
}
