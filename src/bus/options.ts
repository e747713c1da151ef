import { ConfigError } from './errors.js';
import type { BusLogger } from './log.js';
import { silentLogger } from './log.js';

/** How to reach Redis and how patient to be. */
export interface ConnectionOptions {
  /**
   * `redis://[user:password@]host[:port][/db]` or `rediss://…` for TLS.
   * @defaultValue `redis://127.0.0.1:6379`
   */
  url: string;
  /**
   * Database number; overrides the `/db` of the URL.
   * @defaultValue the URL's `/db`, else 0
   */
  db: number;
  /** @defaultValue 5000 — time allowed for TCP/TLS connect plus AUTH/SELECT. */
  connectTimeoutMs: number;
  /** @defaultValue 5000 — time allowed for one command's reply. */
  commandTimeoutMs: number;
  /** @defaultValue 100 — first reconnect delay; doubles each attempt. */
  reconnectBaseMs: number;
  /** @defaultValue 10000 — ceiling of the reconnect delay. */
  reconnectMaxMs: number;
  /**
   * @defaultValue Infinity — reconnect attempts before giving up for good.
   * The first connect is never retried: a wrong URL should fail fast.
   */
  reconnectMaxAttempts: number;
  /** @defaultValue 5000 — PING interval of the health check; 0 disables it. */
  healthCheckIntervalMs: number;
  /** @defaultValue `canopy` — CLIENT SETNAME, visible in `CLIENT LIST`. */
  clientName: string;
  /** @defaultValue `6.2.0` — older servers are refused (XAUTOCLAIM, GETDEL, MINID). */
  minServerVersion: string;
  /**
   * Sentinels to ask for the primary, `[{host, port}]`. When non-empty the
   * connection discovers the primary through them and follows a failover;
   * `url` then only gives credentials, TLS and database.
   * @defaultValue `[]` — connect to `url` directly
   */
  sentinels: RedisNode[];
  /** @defaultValue `mymaster` — the master name the sentinels monitor. */
  sentinelMaster: string;
  /** @defaultValue none — password of the sentinels themselves (`requirepass` in sentinel.conf). */
  sentinelPassword?: string;
  /**
   * Seed nodes of a Redis Cluster, `[{host, port}]`. When non-empty the bus
   * runs on the cluster (see `src/bus/cluster/`); `url` then only gives
   * credentials and TLS, and `db` must be 0.
   * @defaultValue `[]` — a single server (or Sentinel)
   */
  clusterNodes: RedisNode[];
  /** @defaultValue silent */
  logger: BusLogger;
  /**
   * Aborted when the process is stopping. From then on the connection no
   * longer waits for Redis: when it is not connected (at that moment, or
   * later when it loses the server) it is closed at once: the commands
   * waiting for a reconnect fail with a `ConnectionError`, later ones with a
   * `ClosedError`, instead of each waiting out `commandTimeoutMs` for a
   * server that may not come back; while connected
   * it works as usual. Connections duplicated from this one share it.
   * @defaultValue none — a stop waits for Redis like any other caller
   */
  stopSignal?: AbortSignal;
}

/** One Redis server, sentinel or cluster node. */
export interface RedisNode {
  host: string;
  port: number;
}

export const CONNECTION_DEFAULTS: Omit<ConnectionOptions, 'url' | 'db'> = {
  connectTimeoutMs: 5000,
  commandTimeoutMs: 5000,
  reconnectBaseMs: 100,
  reconnectMaxMs: 10_000,
  reconnectMaxAttempts: Number.POSITIVE_INFINITY,
  healthCheckIntervalMs: 5000,
  clientName: 'canopy',
  minServerVersion: '6.2.0',
  sentinels: [],
  sentinelMaster: 'mymaster',
  clusterNodes: [],
  logger: silentLogger,
};

/** Where a connection goes when no `url` is given. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

export interface ParsedUrl {
  tls: boolean;
  host: string;
  port: number;
  username?: string;
  password?: string;
  db?: number;
}

/** Parses a Redis URL; throws {@link ConfigError} with the reason. */
export function parseRedisUrl(url: string): ParsedUrl {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new ConfigError(`Redis URL is not a URL: ${redactUrl(url)}`, { cause });
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') {
    throw new ConfigError(`Redis URL must start with redis:// or rediss://, got ${u.protocol}//`);
  }
  const port = u.port ? Number(u.port) : 6379;
  const path = u.pathname.replace(/^\//, '');
  let db: number | undefined;
  if (path !== '') {
    db = Number(path);
    if (!Number.isInteger(db) || db < 0) throw new ConfigError(`Redis URL database must be a number, got "/${path}"`);
  }
  const out: ParsedUrl = { tls: u.protocol === 'rediss:', host: u.hostname || '127.0.0.1', port };
  if (u.username) out.username = decodeURIComponent(u.username);
  if (u.password) out.password = decodeURIComponent(u.password);
  if (db !== undefined) out.db = db;
  return out;
}

/** The URL with its password replaced, safe to log. */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

/**
 * Spreads defaults over the given options, validates them at once and
 * returns the complete set. The bus reads no environment variable: a
 * process passes its URL and database explicitly.
 */
export function resolveConnectionOptions(opts: Partial<ConnectionOptions> = {}): ConnectionOptions {
  const url = opts.url ?? DEFAULT_REDIS_URL;
  const parsed = parseRedisUrl(url);
  const db = opts.db ?? parsed.db ?? 0;
  if (!Number.isInteger(db) || db < 0) throw new ConfigError(`db must be a non-negative integer, got ${db}`);
  const o: ConnectionOptions = { ...CONNECTION_DEFAULTS, ...stripUndefined(opts), url, db };
  for (const k of ['connectTimeoutMs', 'commandTimeoutMs', 'reconnectBaseMs', 'reconnectMaxMs'] as const) {
    if (!(o[k] > 0)) throw new ConfigError(`${k} must be > 0, got ${o[k]}`);
  }
  if (!(o.healthCheckIntervalMs >= 0)) throw new ConfigError(`healthCheckIntervalMs must be >= 0`);
  if (o.reconnectMaxMs < o.reconnectBaseMs) throw new ConfigError('reconnectMaxMs must be >= reconnectBaseMs');
  return o;
}

/**
 * Exponential backoff with full jitter: a random delay in
 * [base·2^(n-1) / 2, base·2^(n-1)], capped at `max`.
 */
export function backoffDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Parses `host:port,host:port` (IPv6 as `[::1]:26379`) into nodes; throws
 * {@link ConfigError} naming `what` and the bad item.
 */
export function parseNodeList(list: string, what: string): RedisNode[] {
  const out: RedisNode[] = [];
  for (const raw of list.split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(item);
    const port = m ? Number(m[3]) : NaN;
    if (!m || !(port > 0 && port < 65536)) {
      throw new ConfigError(`${what}: "${item}" is not host:port`);
    }
    out.push({ host: (m[1] ?? m[2]) as string, port });
  }
  if (out.length === 0) throw new ConfigError(`${what}: no host:port given`);
  return out;
}
