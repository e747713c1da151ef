/**
 * The SQLite store: one file in WAL mode with synchronous=NORMAL (FULL for
 * a connection whose commits must be durable when they return: the worker's), one
 * transaction per batch (an SD card never sees one commit per reading), and
 * 1-minute / 1-hour rollups (min, max, sum, count per sensor per bucket)
 * maintained in the same transaction so history() over a year reads rollups.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import {
  HOUR,
  chooseWidth,
  fitPoints,
  mergePartials,
  rollupFor,
  splitRange,
  validateHistoryQuery,
} from '../buckets.js';
import type { Partial } from '../buckets.js';
import { readMessages } from '../messages.js';
import { checkPage, validateBatch } from '../batch.js';
import { StoreError, toStoreError } from '../errors.js';
import type { RetentionTable, StoreOptions } from '../options.js';
import { journalMethods } from '../journal.js';
import { RecordStore, recordMethods, type Dialect, type RecordMethods, type SqlDriver } from '../records.js';
import type {
  ExportPageQuery,
  ExportQuery,
  ExportRow,
  LatestReading,
  MessageQuery,
  Store,
  StoredCanMessage,
  SweepResult,
  WriteBatch,
} from '../types.js';
import { SQLITE_MIGRATIONS } from './schema.js';
import { StatementCache } from './statements.js';
import { writeRows } from './writes.js';

/** The longest one try waits synchronously for another process's write lock (ms); writes then retry asynchronously. */
const BUSY_SLICE_MS = 20;

type Db = Database.Database;

const DIALECT: Dialect = { ms: (c) => c, ts: (p) => p, json: (p) => p };

/** `$1` placeholders → better-sqlite3 named parameters. */
function toNamed(sql: string, params: unknown[] = []): [string, Record<string, unknown>] {
  const named: Record<string, unknown> = {};
  params.forEach((v, i) => {
    named[`p${i + 1}`] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
  });
  return [sql.replace(/\$(\d+)/g, '@p$1'), named];
}

const RETENTION_SQL: Record<RetentionTable, string> = {
  can_messages: 'DELETE FROM can_messages WHERE timestamp < @cutoff / 1000.0',
  sensor_readings: 'DELETE FROM sensor_readings WHERE time < @cutoff',
  readings_1m: 'DELETE FROM readings_1m WHERE bucket < @cutoff',
  readings_1h: 'DELETE FROM readings_1h WHERE bucket < @cutoff',
  control_history: 'DELETE FROM control_history WHERE time < @cutoff',
  alerts: "DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < @cutoff",
  ingested_entries: 'DELETE FROM ingested_entries WHERE ingested_at < @cutoff',
};

export class SqliteStore extends RecordStore implements Store {
  readonly kind = 'sqlite' as const;
  readonly file: string;
  private readonly db: Db;
  private readonly opts: StoreOptions;
  private closed = false;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly stmts: StatementCache;
  private readonly writeTx: Database.Transaction<(b: WriteBatch) => { stored: number; duplicates: number }>;
  protected readonly records: RecordMethods;
  private readonly sql: SqlDriver;
  private lock: Promise<unknown> = Promise.resolve();

  private constructor(file: string, opts: StoreOptions) {
    super();
    this.file = file;
    this.opts = opts;
    if (file !== ':memory:') fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
    // SQLite waits for a lock synchronously, stalling the whole process: each try waits a slice at most,
    // and writes retry asynchronously (exclusive) until their busy timeout
    this.db = new Database(file, { timeout: Math.min(opts.busyTimeoutMs, BUSY_SLICE_MS) });
    // switching a new file to WAL needs it to itself, and SQLite does not wait (busy_timeout) for that:
    // several processes opening one new file at once retry here until the busy timeout
    const until = performance.now() + opts.busyTimeoutMs;
    for (;;) {
      try {
        this.db.pragma('journal_mode = WAL');
        break;
      } catch (err) {
        if ((err as { code?: string }).code !== 'SQLITE_BUSY' || performance.now() > until) throw err;
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    }
    this.db.pragma(`synchronous = ${opts.sqliteSynchronous === 'FULL' ? 'FULL' : 'NORMAL'}`);
    this.stmts = new StatementCache(this.db);
    this.writeTx = this.db.transaction((b: WriteBatch) => writeRows(this.stmts, b));
    this.sql = this.driver();
    this.records = { ...recordMethods(this.sql), ...journalMethods(this.sql) };
    if (opts.sweepIntervalMs > 0) {
      this.timer = setInterval(() => void this.sweep().catch(() => undefined), opts.sweepIntervalMs);
      this.timer.unref();
    }
  }

  /**
   * Runs several record writes in one transaction (the automation's control
   * history: one commit per batch of rows, not per row). All or nothing.
   */
  writeControlBatch(fn: (w: Pick<RecordMethods, 'setDeviceState' | 'setSetpoint'>) => Promise<void>): Promise<void> {
    return this.sql.tx((d) => fn(recordMethods(d)));
  }

  /** The `synchronous` setting in force on this connection (0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA). */
  synchronousLevel(): number {
    return this.db.pragma('synchronous', { simple: true }) as number;
  }

  static async open(file: string, opts: StoreOptions): Promise<SqliteStore> {
    let s: SqliteStore;
    try {
      s = new SqliteStore(file, opts);
    } catch (err) {
      throw new StoreError('STORE_UNAVAILABLE', `cannot open SQLite database ${file}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (opts.autoMigrate) {
      try {
        await s.migrate();
      } catch (err) {
        await s.close();
        throw err;
      }
    }
    return s;
  }

  /**
   * Runs `fn` after every earlier exclusive section has finished; while another process holds the write
   * lock (STORE_BUSY) it tries again, waiting without blocking the event loop, for up to `patienceMs`.
   */
  private exclusive<T>(fn: () => Promise<T>, patienceMs = this.opts.busyTimeoutMs): Promise<T> {
    const attempt = async (): Promise<T> => {
      const until = performance.now() + patienceMs;
      for (;;) {
        try {
          return await fn();
        } catch (err) {
          if (!(err instanceof StoreError && err.code === 'STORE_BUSY') || performance.now() >= until) throw err;
          await new Promise((r) => setTimeout(r, BUSY_SLICE_MS));
        }
      }
    };
    const run = this.lock.then(attempt, attempt);
    this.lock = run.catch(() => undefined);
    return run;
  }

  /** Runs `fn` synchronously against the open database, mapping errors. */
  private use<T>(context: string, fn: (db: Db) => T): T {
    if (this.closed) throw new StoreError('STORE_CLOSED', `${context}: the store is closed`);
    try {
      return fn(this.db);
    } catch (err) {
      throw toStoreError(err, context);
    }
  }

  private driver(): SqlDriver {
    const all = <T>(sql: string, params?: unknown[]): T[] =>
      this.use('query', () => {
        const [s, p] = toNamed(sql, params);
        const st = this.stmts.prepare(s);
        return (st.reader ? st.all(p) : (st.run(p), [])) as T[];
      });
    const run = (sql: string, params?: unknown[]): number =>
      this.use('query', () => {
        const [s, p] = toNamed(sql, params);
        return this.stmts.prepare(s).run(p).changes;
      });
    // inside a transaction: statements run directly (the lock is held)
    const inner: SqlDriver = {
      dialect: DIALECT,
      all: async (sql, params) => all(sql, params),
      run: async (sql, params) => run(sql, params),
      tx: (fn) => fn(inner),
    };
    // outside: every statement waits for the lock, so an async transaction
    // (record methods await between statements) never takes in another caller's statement
    return {
      dialect: DIALECT,
      all: (sql, params) => this.exclusive(async () => all(sql, params)),
      run: (sql, params) => this.exclusive(async () => run(sql, params)),
      tx: (fn) =>
        this.exclusive(async () => {
          this.use('begin', (db) => db.exec('BEGIN IMMEDIATE'));
          try {
            const out = await fn(inner);
            this.use('commit', (db) => db.exec('COMMIT'));
            return out;
          } catch (err) {
            if (this.db.inTransaction) this.db.exec('ROLLBACK');
            throw err;
          }
        }),
    };
  }

  async migrate(): Promise<void> {
    await this.exclusive(async () => this.migrateNow());
  }

  private migrateNow(): void {
    this.use('migrate', (db) => {
      db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)`);
      const done = new Set(
        (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
      );
      for (const m of SQLITE_MIGRATIONS) {
        if (done.has(m.version)) continue;
        try {
          db.transaction(() => {
            // under the write lock: another process (a second worker) may have applied it meanwhile
            if (db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(m.version)) return;
            db.exec(m.sql);
            db.prepare('INSERT INTO schema_migrations (version, name) VALUES (?, ?)').run(m.version, m.name);
          }).immediate();
        } catch (err) {
          throw new StoreError(
            'STORE_MIGRATION',
            `SQLite migration ${m.version} (${m.name}) failed: ${(err as Error).message}`,
            {
              cause: err,
            },
          );
        }
      }
    });
  }

  async writeBatch(b: WriteBatch): Promise<{ stored: number; duplicates: number }> {
    validateBatch(b);
    if (!b.messages.length && !b.readings.length) return { stored: 0, duplicates: 0 };
    return this.exclusive(
      async () => this.use('writeBatch', () => this.writeTx.immediate(b)),
      this.opts.writeBusyTimeoutMs ?? this.opts.busyTimeoutMs,
    );
  }

  async history(q: Parameters<Store['history']>[0]): ReturnType<Store['history']> {
    validateHistoryQuery(q);
    const width = chooseWidth(q.from, q.to, q.points);
    const res = rollupFor(width);
    const { a, b } = splitRange(q.from, q.to, res);
    return this.use('history', () => {
      const raw = this.stmts.prepare(
        `SELECT (time / CAST(@w AS INTEGER)) * CAST(@w AS INTEGER) AS t, min(value) AS min, max(value) AS max, sum(value) AS sum, count(*) AS count
         FROM sensor_readings WHERE sensor = @sensor AND time >= @lo AND time < @hi GROUP BY 1`,
      );
      const parts: Partial[] = [];
      const rawRange = (lo: number, hi: number) => {
        if (hi > lo) parts.push(...(raw.all({ w: width, sensor: q.sensor, lo, hi }) as Partial[]));
      };
      rawRange(q.from, a);
      rawRange(b, q.to);
      if (b > a) {
        const table = res === HOUR ? 'readings_1h' : 'readings_1m';
        const rolled = this.stmts
          .prepare(
            `SELECT (bucket / CAST(@w AS INTEGER)) * CAST(@w AS INTEGER) AS t, min(min_value) AS min, max(max_value) AS max, sum(sum_value) AS sum,
               sum(n_values) AS count FROM ${table} WHERE sensor = @sensor AND bucket >= @lo AND bucket < @hi GROUP BY 1`,
          )
          .all({ w: width, sensor: q.sensor, lo: a, hi: b }) as Partial[];
        parts.push(...rolled);
      }
      return fitPoints(mergePartials(parts, width), q.points);
    });
  }

  async *exportReadings(q: ExportQuery): AsyncIterable<ExportRow> {
    if (!Array.isArray(q.sensors) || !Number.isFinite(q.from) || !Number.isFinite(q.to)) {
      throw new StoreError('STORE_INVALID', 'exportReadings: need sensors[] and finite from/to');
    }
    if (!q.sensors.length) return;
    if (this.closed) throw new StoreError('STORE_CLOSED', 'exportReadings: the store is closed');
    // a second, read-only connection: its cursor sees one WAL snapshot and never
    // blocks the writer on the main connection
    let reader: Db;
    try {
      reader = new Database(this.file, { readonly: true, fileMustExist: true, timeout: this.opts.busyTimeoutMs });
    } catch (err) {
      throw toStoreError(err, 'exportReadings');
    }
    try {
      const marks = q.sensors.map(() => '?').join(', ');
      const it = reader
        .prepare(
          `SELECT time, sensor, value, location, cluster FROM sensor_readings INDEXED BY idx_sensor_readings_time
           WHERE time >= ? AND time < ? AND sensor IN (${marks}) ORDER BY time, rowid`,
        )
        .iterate(q.from, q.to, ...q.sensors) as IterableIterator<ExportRow>;
      for (const row of it) yield row;
    } catch (err) {
      throw toStoreError(err, 'exportReadings');
    } finally {
      reader.close();
    }
  }

  async exportPage(q: ExportPageQuery): Promise<ExportRow[]> {
    checkPage(q);
    if (!q.sensors.length) return [];
    const marks = q.sensors.map(() => '?').join(', ');
    return this.use(
      'exportPage',
      () =>
        this.stmts
          .prepare(
            `SELECT time, sensor, value, location, cluster FROM sensor_readings INDEXED BY idx_sensor_readings_time
           WHERE time >= ? AND time < ? AND sensor IN (${marks})
           ORDER BY time, sensor, value, location, cluster LIMIT ? OFFSET ?`,
          )
          .all(q.from, q.to, ...q.sensors, q.limit, q.skip) as ExportRow[],
    );
  }

  async countExport(q: ExportQuery, limit: number): Promise<number> {
    checkPage({ ...q, skip: 0, limit });
    if (!q.sensors.length) return 0;
    const marks = q.sensors.map(() => '?').join(', ');
    return this.use(
      'countExport',
      () =>
        (
          this.stmts
            .prepare(
              `SELECT count(*) AS n FROM (SELECT 1 FROM sensor_readings INDEXED BY idx_sensor_readings_time
               WHERE time >= ? AND time < ? AND sensor IN (${marks}) LIMIT ?)`,
            )
            .get(q.from, q.to, ...q.sensors, limit) as { n: number }
        ).n,
    );
  }

  async latestReadings(sensors?: string[]): Promise<LatestReading[]> {
    return this.use('latestReadings', () => {
      const rows = this.stmts
        .prepare('SELECT sensor, time, value, location, cluster FROM sensor_latest ORDER BY sensor')
        .all() as LatestReading[];
      return sensors ? rows.filter((r) => sensors.includes(r.sensor)) : rows;
    });
  }

  async countMessages(): Promise<number> {
    return this.count('countMessages', 'can_messages');
  }

  private count(context: string, table: 'can_messages' | 'sensor_readings'): number {
    return this.use(context, () => (this.stmts.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n);
  }

  messages(q: MessageQuery): Promise<StoredCanMessage[]> {
    return readMessages(this.sql, q, 'timestamp * 1000.0', '$2 / 1000.0');
  }

  async countReadings(): Promise<number> {
    return this.count('countReadings', 'sensor_readings');
  }

  async sweep(now = Date.now()): Promise<SweepResult> {
    return this.exclusive(async () =>
      this.use('sweep', () => {
        const out: SweepResult = {};
        for (const [table, ms] of Object.entries(this.opts.retention) as [RetentionTable, number | undefined][]) {
          if (ms) out[table] = this.stmts.prepare(RETENTION_SQL[table]).run({ cutoff: now - ms }).changes;
        }
        return out;
      }),
    );
  }

  async ping(): Promise<void> {
    this.use('ping', () => this.stmts.prepare('SELECT 1').get());
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.db.close();
  }
}
