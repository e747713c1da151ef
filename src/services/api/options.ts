import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../bus/errors.js';

/** Options of the HTTP/WebSocket API service (`canopy api`). */
export interface ApiOptions {
  /** @defaultValue 8000 — `--port` or `CANOPY_API_PORT`; 0 picks a free port. */
  port: number;
  /** @defaultValue `127.0.0.1` — `--host`; `0.0.0.0` lets phones on the LAN reach the dashboard. */
  host: string;
  /** @defaultValue `REDIS_URL` or `redis://127.0.0.1:6379` */
  redisUrl: string | undefined;
  /** @defaultValue `DATABASE_URL` or `sqlite:$CANOPY_DATA_DIR/canopy.db` */
  databaseUrl: string;
  /** @defaultValue `$CANOPY_DATA_DIR/fabric` — heartbeat files of services running without Redis (docs/fallback.md). */
  fabricDir: string;
  /** @defaultValue `sensor:` — prefix of the live keys (`sensor:<name>` and `sensor:<name>:ts`). */
  livePrefix: string;
  /** @defaultValue 5000 — a live value older than this is flagged `stale`. */
  staleAfterMs: number;
  /** @defaultValue 1500 — /health gives up on Redis or the store after this long. */
  healthTimeoutMs: number;
  /** @defaultValue 5000 — the most buckets a history query may ask for. */
  maxHistoryPoints: number;
  /** @defaultValue 24 h — history range when `from` is omitted (ending at `to`, default now). */
  defaultHistoryRangeMs: number;
  /** @defaultValue `can:raw` — the stream whose lag /metrics reports. */
  rawStream: string;
  /** @defaultValue `can-worker` — the consumer group whose lag /metrics reports. */
  workerGroup: string;
  /** @defaultValue `stats:worker` — the hash of the worker's counters that /metrics reports. */
  workerStatsKey: string;
  /** @defaultValue 1 MiB — a WebSocket client whose send buffer holds more gets coalesced updates. */
  wsMaxBufferedBytes: number;
  /** @defaultValue 5000 — distinct sensors/devices a lagging client's queue holds before the oldest is dropped. */
  wsMaxPending: number;
  /** @defaultValue 50 — how often (ms) a lagging client's queue is retried. */
  wsFlushIntervalMs: number;
  /** @defaultValue 30000 — WebSocket ping interval; clients that miss a ping are dropped. */
  wsPingIntervalMs: number;
  /** @defaultValue 64 KiB — largest message a WebSocket client may send. */
  wsMaxClientMessageBytes: number;
  /** @defaultValue `web/dist` of the package — the built dashboard served at `/`. */
  webRoot: string;
  /** @defaultValue `CANOPY_API_TOKENS` — `role:token` pairs, comma separated (never logged). */
  tokens: string | undefined;
  /** @defaultValue `CANOPY_API_TOKENS_FILE` — a file of `role:token` lines, mode 0600 or tighter. */
  tokensFile: string | undefined;
}

/** The package root (the directory holding package.json), from src/ or dist/src/. */
export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) return from;
    dir = up;
  }
}

/** The package version (for the OpenAPI document and the heartbeat). */
export function apiVersion(): string {
  try {
    const p = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version?: string };
    return p.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export const API_DEFAULTS = {
  port: 8000,
  host: '127.0.0.1',
  livePrefix: 'sensor:',
  staleAfterMs: 5000,
  healthTimeoutMs: 1500,
  maxHistoryPoints: 5000,
  defaultHistoryRangeMs: 24 * 3600_000,
  rawStream: 'can:raw',
  workerGroup: 'can-worker',
  workerStatsKey: 'stats:worker',
  wsMaxBufferedBytes: 1 << 20,
  wsMaxPending: 5000,
  wsFlushIntervalMs: 50,
  wsPingIntervalMs: 30_000,
  wsMaxClientMessageBytes: 64 * 1024,
} satisfies Partial<ApiOptions>;

/** Spreads defaults, the environment and `opts`, and validates everything at once. */
export function resolveApiOptions(opts: Partial<ApiOptions> = {}, env: NodeJS.ProcessEnv = process.env): ApiOptions {
  const dataDir = path.resolve(env.CANOPY_DATA_DIR || './data');
  const envPort = env.CANOPY_API_PORT ? Number(env.CANOPY_API_PORT) : undefined;
  const o: ApiOptions = {
    ...API_DEFAULTS,
    ...(envPort !== undefined ? { port: envPort } : {}),
    redisUrl: env.REDIS_URL || undefined,
    databaseUrl: env.DATABASE_URL || `sqlite:${path.join(dataDir, 'canopy.db')}`,
    fabricDir: path.join(dataDir, 'fabric'),
    webRoot: path.join(packageRoot(), 'web', 'dist'),
    tokens: env.CANOPY_API_TOKENS || undefined,
    tokensFile: env.CANOPY_API_TOKENS_FILE || undefined,
    ...Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)),
  };
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    throw new ConfigError(`API port must be an integer 0–65535, got ${String(opts.port ?? env.CANOPY_API_PORT)}`);
  }
  if (o.host === '') throw new ConfigError('API host must not be empty');
  for (const k of [
    'staleAfterMs',
    'healthTimeoutMs',
    'maxHistoryPoints',
    'defaultHistoryRangeMs',
    'wsMaxBufferedBytes',
    'wsMaxPending',
    'wsFlushIntervalMs',
    'wsPingIntervalMs',
    'wsMaxClientMessageBytes',
  ] as const) {
    if (!(Number.isFinite(o[k]) && o[k] > 0)) throw new ConfigError(`${k} must be a positive number, got ${o[k]}`);
  }
  return o;
}
