import { StoreError } from './errors.js';

/** Tables a retention rule may name. */
export const RETENTION_TABLES = [
  'can_messages',
  'sensor_readings',
  'readings_1m',
  'readings_1h',
  'control_history',
  'alerts',
  'ingested_entries',
] as const;
export type RetentionTable = (typeof RETENTION_TABLES)[number];

/** Options of {@link openStore}. */
export interface StoreOptions {
  /**
   * Age (ms) after which rows are deleted, per table; a missing entry keeps
   * everything (the seeds' decision: no retention). `ingested_entries` (the
   * idempotency keys) is the exception: it must only outlive any stream lag.
   * Alerts are only removed once resolved.
   * @defaultValue `{ ingested_entries: 30 days }`
   */
  retention: Partial<Record<RetentionTable, number>>;
  /** @defaultValue 3_600_000 — period of the automatic retention sweep; 0 disables the timer. */
  sweepIntervalMs: number;
  /** @defaultValue true — openStore() applies pending schema migrations. */
  autoMigrate: boolean;
  /** @defaultValue `'auto'` — PostgreSQL: use TimescaleDB when the extension is available (`'auto'`), require it (`'on'`) or never (`'off'`). */
  timescale: 'auto' | 'on' | 'off';
  /** @defaultValue 7 days — TimescaleDB: compress chunks older than this (ms); 0 disables compression. */
  compressAfterMs: number;
  /** @defaultValue 1 day — TimescaleDB: chunk interval of the hypertables (ms). */
  chunkIntervalMs: number;
  /** @defaultValue 10 — PostgreSQL pool size. Use 1 for single-session servers (PGlite). */
  poolSize: number;
  /** @defaultValue 5_000 — PostgreSQL: connect timeout (ms); a down database fails this fast. */
  connectTimeoutMs: number;
  /** @defaultValue 60_000 — PostgreSQL statement timeout (ms); 0 = none. */
  statementTimeoutMs: number;
  /** @defaultValue `'unnest'` — PostgreSQL bulk path: `INSERT … SELECT FROM unnest(arrays)` or `COPY FROM STDIN`. */
  ingest: 'unnest' | 'copy';
  /**
   * @defaultValue 5_000 — SQLite: how long a write waits for another process's write lock before it fails
   * with STORE_BUSY. SQLite waits synchronously; the store waits 20 ms at a time and otherwise retries
   * asynchronously, so the process (every service of `canopy up --compact`) keeps running meanwhile.
   */
  busyTimeoutMs: number;
  /**
   * @defaultValue `busyTimeoutMs` — SQLite: the busy timeout of {@link Store.writeBatch} alone: the worker
   * keeps it short (200 ms), its batches are held and retried with back-off while the store is unavailable.
   */
  writeBusyTimeoutMs: number | undefined;
  /** @defaultValue 2_000 — rows fetched per round trip by exportReadings(). */
  exportFetchSize: number;
  /**
   * @defaultValue `'NORMAL'` — SQLite `synchronous` of this connection. In WAL mode `NORMAL` may lose the last
   * commits on a power cut (never corrupts); `FULL` syncs the WAL at every commit, so a commit is durable when
   * it returns (the worker uses it: it acks stream entries only after their commit).
   */
  sqliteSynchronous: 'NORMAL' | 'FULL';
  /**
   * @defaultValue none: every read on the primary — PostgreSQL: `postgres://…` of a streaming replica
   * (`DATABASE_READ_URL`). The read side (history, export, journal and message reads) goes there on a
   * read-only pool; writes, migrations and retention stay on the primary. Ignored with SQLite.
   */
  readUrl: string | undefined;
  /** @defaultValue 5_000 — after the replica failed, reads go to the primary this long (ms) before it is tried again. */
  readRetryMs: number;
  /**
   * @defaultValue none (silent) — where the store says which server serves reads, and when the replica
   * goes away or comes back. Credentials are never logged.
   */
  logger: StoreLogger | undefined;
}

/** What the store logs through (a pino logger fits). */
export interface StoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export const DAY_MS = 86_400_000;

export const STORE_DEFAULTS: StoreOptions = {
  retention: { ingested_entries: 30 * DAY_MS },
  sweepIntervalMs: 3_600_000,
  autoMigrate: true,
  timescale: 'auto',
  compressAfterMs: 7 * DAY_MS,
  chunkIntervalMs: DAY_MS,
  poolSize: 10,
  connectTimeoutMs: 5_000,
  statementTimeoutMs: 60_000,
  ingest: 'unnest',
  busyTimeoutMs: 5_000,
  writeBusyTimeoutMs: undefined,
  exportFetchSize: 2_000,
  sqliteSynchronous: 'NORMAL',
  readUrl: undefined,
  readRetryMs: 5_000,
  logger: undefined,
};

/** Spreads the defaults once and validates everything at once. */
export function resolveStoreOptions(opts: Partial<StoreOptions> = {}): StoreOptions {
  const o: StoreOptions = {
    ...STORE_DEFAULTS,
    ...opts,
    retention: { ...STORE_DEFAULTS.retention, ...(opts.retention ?? {}) },
  };
  const problems: string[] = [];
  const nonNeg = (k: keyof StoreOptions) => {
    const v = o[k];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) problems.push(`${k} must be a number ≥ 0`);
  };
  (
    [
      'sweepIntervalMs',
      'compressAfterMs',
      'connectTimeoutMs',
      'statementTimeoutMs',
      'busyTimeoutMs',
      'readRetryMs',
    ] as const
  ).forEach(nonNeg);
  if (o.writeBusyTimeoutMs !== undefined && !(Number.isFinite(o.writeBusyTimeoutMs) && o.writeBusyTimeoutMs >= 0))
    problems.push('writeBusyTimeoutMs must be a number ≥ 0');
  if (o.readUrl !== undefined && !/^postgres(?:ql)?:\/\//.test(o.readUrl))
    problems.push(`readUrl (DATABASE_READ_URL) must be postgres://…, got ${redactUrl(o.readUrl)}`);
  if (!Number.isInteger(o.poolSize) || o.poolSize < 1) problems.push('poolSize must be an integer ≥ 1');
  if (!Number.isInteger(o.exportFetchSize) || o.exportFetchSize < 1)
    problems.push('exportFetchSize must be an integer ≥ 1');
  if (!(o.chunkIntervalMs >= 60_000)) problems.push('chunkIntervalMs must be ≥ 60000');
  if (!['auto', 'on', 'off'].includes(o.timescale)) problems.push("timescale must be 'auto', 'on' or 'off'");
  if (!['unnest', 'copy'].includes(o.ingest)) problems.push("ingest must be 'unnest' or 'copy'");
  if (!['NORMAL', 'FULL'].includes(o.sqliteSynchronous)) problems.push("sqliteSynchronous must be 'NORMAL' or 'FULL'");
  for (const [table, ms] of Object.entries(o.retention)) {
    if (!(RETENTION_TABLES as readonly string[]).includes(table)) problems.push(`retention: unknown table ${table}`);
    else if (ms !== undefined && !(typeof ms === 'number' && ms > 0))
      problems.push(`retention.${table} must be > 0 ms`);
  }
  if (problems.length) throw new StoreError('STORE_CONFIG', `invalid store options: ${problems.join('; ')}`);
  return o;
}

/** Parses `DATABASE_URL`: `sqlite:PATH` (also `sqlite://PATH`, `file:PATH`) or `postgres://` / `postgresql://`. */
export function parseDatabaseUrl(url: string): { kind: 'sqlite'; path: string } | { kind: 'postgres'; url: string } {
  const m = /^(?:sqlite|file):(?:\/\/)?(.+)$/.exec(url);
  if (m?.[1]) return { kind: 'sqlite', path: m[1] };
  if (/^postgres(?:ql)?:\/\//.test(url)) return { kind: 'postgres', url };
  throw new StoreError(
    'STORE_CONFIG',
    `unsupported DATABASE_URL scheme (expected sqlite:PATH or postgres://…): ${redactUrl(url)}`,
  );
}

/** A database URL with its credentials masked (for messages and logs). */
export function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

/** `host:port/database` of a `postgres://` URL: names the server in logs without any credential. */
export function serverOf(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}${u.pathname || '/'}`;
  } catch {
    return 'an unparsable URL';
  }
}
