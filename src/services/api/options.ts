import { CAN_RAW, CAN_WORKER_GROUP, SENSOR_LIVE_PREFIX, WORKER_STATS } from '../../contracts/names.js';
import path from 'node:path';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../../bus/errors.js';
import { apiEnv } from '../../config/api.js';
import { packageVersion } from '../../config/version.js';

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
  /**
   * @defaultValue `DATABASE_READ_URL`, else none (reads on `databaseUrl`) — a PostgreSQL streaming replica
   * that serves history, export and journal reads (docs/scaling-postgres.md).
   */
  databaseReadUrl: string | undefined;
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
  /**
   * @defaultValue `open` when `host` is a loopback address, else `viewer` (derived) — who may read
   * (REST, /ws, /metrics, /docs, export): anyone, or a viewer token or better.
   */
  readAccess: 'open' | 'viewer';
  /**
   * @defaultValue `CANOPY_API_ALLOWED_HOSTS` or none — host names (besides loopback names and IP
   * literals) the `Host` header may carry; anything else is refused (DNS rebinding).
   */
  allowedHosts: string[];
  /**
   * @defaultValue `CANOPY_API_ALLOWED_ORIGINS` or none — origins (`https://farm.example`) besides
   * the API's own that may open /ws or call the control endpoints from a browser.
   */
  allowedOrigins: string[];
  /** @defaultValue 10000 — a client must finish its request headers within this long (slowloris). */
  headersTimeoutMs: number;
  /** @defaultValue 30000 — a client must finish sending its whole request within this long. */
  requestTimeoutMs: number;
  /** @defaultValue 5000 — an idle keep-alive connection is closed after this long. */
  keepAliveTimeoutMs: number;
  /** @defaultValue 60000 — a connection with no traffic at all is closed after this long. */
  idleTimeoutMs: number;
  /** @defaultValue 64 KiB — largest request body. */
  maxBodyBytes: number;
  /**
   * @defaultValue 1000 — requests on one keep-alive connection; the last one
   * is answered with `Connection: close` (as nginx's `keepalive_requests`), and
   * Node answers requests a client still sends on it with 503. 0: no limit.
   */
  maxRequestsPerSocket: number;
  /** @defaultValue 500 — WebSocket clients at once; more are refused (503, counted). */
  wsMaxClients: number;
  /** @defaultValue 5000 — when a token is needed, a /ws client must send it within this long. */
  wsAuthTimeoutMs: number;
  /** @defaultValue 4 — exports streaming at once; more are refused (503, counted). */
  exportMaxConcurrent: number;
  /** @defaultValue `CANOPY_API_EXPORT_MAX_ROWS` or 5,000,000 — an export of more rows is refused (400). */
  exportMaxRows: number;
  /** @defaultValue 5000 — rows read from the store per page (no connection is held between pages). */
  exportPageRows: number;
  /** @defaultValue 30000 — an export whose client takes nothing for this long is cut (counted). */
  exportStallMs: number;
  /** @defaultValue `CANOPY_API_TLS_CERT` — PEM certificate (chain); with `tlsKey` the API serves HTTPS. */
  tlsCert: string | undefined;
  /** @defaultValue `CANOPY_API_TLS_KEY` — PEM private key of `tlsCert`. */
  tlsKey: string | undefined;
  /** @defaultValue `AUTOMATION_DEVICES`, else the shipped `config/devices.yaml` — what control commands are checked against. */
  devicesFile: string;
}

/** Loopback bind addresses: reads stay open there (the quick start). */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
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

/** The package version (for the OpenAPI document). */
export function apiVersion(): string {
  return packageVersion();
}

export const API_DEFAULTS = {
  port: 8000,
  host: '127.0.0.1',
  livePrefix: SENSOR_LIVE_PREFIX,
  staleAfterMs: 5000,
  healthTimeoutMs: 1500,
  maxHistoryPoints: 5000,
  defaultHistoryRangeMs: 24 * 3600_000,
  rawStream: CAN_RAW,
  workerGroup: CAN_WORKER_GROUP,
  workerStatsKey: WORKER_STATS,
  wsMaxBufferedBytes: 1 << 20,
  wsMaxPending: 5000,
  wsFlushIntervalMs: 50,
  wsPingIntervalMs: 30_000,
  wsMaxClientMessageBytes: 64 * 1024,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  maxBodyBytes: 64 * 1024,
  maxRequestsPerSocket: 1000,
  wsMaxClients: 500,
  wsAuthTimeoutMs: 5_000,
  exportMaxConcurrent: 4,
  exportMaxRows: 5_000_000,
  exportPageRows: 5_000,
  exportStallMs: 30_000,
} satisfies Partial<ApiOptions>;

/** Spreads defaults, the environment and `opts`, and validates everything at once. */
export function resolveApiOptions(opts: Partial<ApiOptions> = {}, env: NodeJS.ProcessEnv = process.env): ApiOptions {
  const e = apiEnv(env);
  const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as Partial<ApiOptions>;
  const host = given.host ?? API_DEFAULTS.host;
  const o: ApiOptions = {
    ...API_DEFAULTS,
    ...(e.port !== undefined ? { port: e.port } : {}),
    ...(e.exportMaxRows !== undefined ? { exportMaxRows: e.exportMaxRows } : {}),
    ...(e.wsMaxClients !== undefined ? { wsMaxClients: e.wsMaxClients } : {}),
    ...(e.maxRequestsPerSocket !== undefined ? { maxRequestsPerSocket: e.maxRequestsPerSocket } : {}),
    readAccess: isLoopbackHost(host) ? 'open' : 'viewer',
    allowedHosts: e.allowedHosts,
    allowedOrigins: e.allowedOrigins,
    tlsCert: e.tlsCert,
    tlsKey: e.tlsKey,
    redisUrl: e.redisUrl,
    databaseUrl: e.databaseUrl,
    databaseReadUrl: e.databaseReadUrl,
    fabricDir: e.fabricDir,
    webRoot: path.join(packageRoot(), 'web', 'dist'),
    tokens: e.tokens,
    tokensFile: e.tokensFile,
    devicesFile: e.devicesFile,
    ...given,
  };
  if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535) {
    throw new ConfigError(`API port must be an integer 0–65535, got ${String(opts.port ?? e.port)}`);
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
    'headersTimeoutMs',
    'requestTimeoutMs',
    'keepAliveTimeoutMs',
    'idleTimeoutMs',
    'maxBodyBytes',
    'wsMaxClients',
    'wsAuthTimeoutMs',
    'exportMaxConcurrent',
    'exportMaxRows',
    'exportPageRows',
    'exportStallMs',
  ] as const) {
    if (!(Number.isFinite(o[k]) && o[k] > 0)) throw new ConfigError(`${k} must be a positive number, got ${o[k]}`);
  }
  if (!(Number.isInteger(o.maxRequestsPerSocket) && o.maxRequestsPerSocket >= 0)) {
    throw new ConfigError(
      `maxRequestsPerSocket (CANOPY_API_MAX_REQUESTS_PER_SOCKET) must be an integer >= 0, got ${o.maxRequestsPerSocket}`,
    );
  }
  if (o.headersTimeoutMs > o.requestTimeoutMs) {
    throw new ConfigError(
      `headersTimeoutMs (${o.headersTimeoutMs}) must not exceed requestTimeoutMs (${o.requestTimeoutMs})`,
    );
  }
  if (o.readAccess !== 'open' && o.readAccess !== 'viewer') {
    throw new ConfigError(`readAccess must be open or viewer, got ${String(o.readAccess)}`);
  }
  if (o.readAccess === 'open' && !isLoopbackHost(o.host)) {
    throw new ConfigError(`reads cannot be open on ${o.host}: bound beyond loopback, every read needs a viewer token`);
  }
  if (!o.tlsCert !== !o.tlsKey) {
    throw new ConfigError('CANOPY_API_TLS_CERT and CANOPY_API_TLS_KEY must be set together');
  }
  return o;
}
