/**
 * The PostgreSQL store (TimescaleDB when the extension is available). Its
 * pools (pools.ts) reconnect by themselves: while the server is down every
 * call rejects with STORE_UNAVAILABLE within the connect timeout, and the
 * first call after it returns succeeds. With a read replica (`readUrl`) the
 * read side goes there and falls back to the primary. Batches go in with
 * `INSERT … SELECT FROM unnest(arrays)` (one round trip per table) or COPY
 * (`ingest: 'copy'`).
 */
import pg from 'pg';
import {
  chooseWidth,
  fitPoints,
  mergePartials,
  rollupFor,
  splitRange,
  validateHistoryQuery,
  HOUR,
} from '../buckets.js';
import type { Partial } from '../buckets.js';
import { readMessages } from '../messages.js';
import { checkPage, freshRows, streamIdsOf, validateBatch } from '../batch.js';
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
  ReadStatus,
  Store,
  StoreKind,
  StoredCanMessage,
  SweepResult,
  WriteBatch,
} from '../types.js';
import { insertMessages, insertReadings, TS } from './writes.js';
import { runPgMigrations } from './schema.js';
import { PgPools, type Side } from './pools.js';

const MS = (col: string) => `(extract(epoch from ${col}) * 1000)::float8`;
const DIALECT: Dialect = { ms: MS, ts: TS, json: (p) => `${p}::jsonb` };

const RETENTION: Record<RetentionTable, { sql: string; cagg?: boolean }> = {
  can_messages: { sql: `DELETE FROM can_messages WHERE timestamp < ${TS('$1')}` },
  sensor_readings: { sql: `DELETE FROM sensor_readings WHERE time < ${TS('$1')}` },
  readings_1m: { sql: `SELECT drop_chunks('readings_1m', older_than => ${TS('$1')})`, cagg: true },
  readings_1h: { sql: `SELECT drop_chunks('readings_1h', older_than => ${TS('$1')})`, cagg: true },
  control_history: { sql: `DELETE FROM control_history WHERE time < ${TS('$1')}` },
  alerts: { sql: `DELETE FROM alerts WHERE state = 'resolved' AND resolved_at < ${TS('$1')}` },
  ingested_entries: { sql: `DELETE FROM ingested_entries WHERE ingested_at < ${TS('$1')}` },
};

export class PgStore extends RecordStore implements Store {
  kind: StoreKind = 'postgres';
  private readonly pools: PgPools;
  private readonly opts: StoreOptions;
  private closed = false;
  private readonly timer: NodeJS.Timeout | undefined;
  protected readonly records: RecordMethods;
  private readonly sql: SqlDriver;
  /** The same driver on the read side (the replica when there is one). */
  private readonly readSql: SqlDriver;

  private constructor(url: string, opts: StoreOptions) {
    super();
    this.opts = opts;
    this.pools = new PgPools(url, opts);
    this.sql = this.driver('primary');
    this.readSql = this.driver('read');
    this.records = {
      ...recordMethods(this.sql),
      ...journalMethods(this.sql),
      controlHistory: recordMethods(this.readSql).controlHistory,
      listJournal: journalMethods(this.readSql).listJournal,
    };
    if (opts.sweepIntervalMs > 0) {
      this.timer = setInterval(() => void this.sweep().catch(() => undefined), opts.sweepIntervalMs);
      this.timer.unref();
    }
  }

  static async open(url: string, opts: StoreOptions): Promise<PgStore> {
    const s = new PgStore(url, opts);
    try {
      s.kind = await s.detect();
      if (opts.autoMigrate) await s.migrate();
      s.pools.announce();
      return s;
    } catch (err) {
      await s.close();
      throw toStoreError(err, 'openStore');
    }
  }

  /** Runs `fn` on one pooled client of `side`; connection-level failures discard the client. */
  private withClient<T>(context: string, fn: (c: pg.PoolClient) => Promise<T>, side: Side = 'primary'): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError('STORE_CLOSED', `${context}: the store is closed`));
    return this.pools.withClient(side, context, fn);
  }

  private async tx<T>(context: string, fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    return this.withClient(context, async (c) => {
      await c.query('BEGIN');
      try {
        const out = await fn(c);
        await c.query('COMMIT');
        return out;
      } catch (err) {
        await c.query('ROLLBACK').catch(() => undefined);
        throw err;
      }
    });
  }

  private driver(side: Side): SqlDriver {
    const on = (c: pg.ClientBase): SqlDriver => ({
      dialect: DIALECT,
      all: async <T>(sql: string, params?: unknown[]) => (await c.query(sql, params)).rows as T[],
      run: async (sql, params) => (await c.query(sql, params)).rowCount ?? 0,
      tx: (fn) => fn(on(c)),
    });
    return {
      dialect: DIALECT,
      all: (sql, params) => this.withClient('query', (c) => on(c).all(sql, params), side),
      run: (sql, params) => this.withClient('query', (c) => on(c).run(sql, params), side),
      tx: (fn) => this.tx('transaction', (c) => fn(on(c))),
    };
  }

  /** TimescaleDB when installed here, or available and allowed (then it is created). */
  private async detect(): Promise<StoreKind> {
    if (this.opts.timescale === 'off') return 'postgres';
    return this.withClient('detect TimescaleDB', async (c) => {
      const r = await c.query<{ installed: string | null; available: string | null; migrated: boolean }>(
        `SELECT (SELECT extversion FROM pg_extension WHERE extname = 'timescaledb') AS installed,
                (SELECT default_version FROM pg_available_extensions WHERE name = 'timescaledb') AS available,
                to_regclass('sensor_readings') IS NOT NULL AS migrated`,
      );
      const row = r.rows[0]!;
      if (row.migrated) {
        // an existing schema keeps its kind: TimescaleDB only if its readings are a hypertable
        if (!row.installed) return 'postgres';
        const h = await c.query(
          "SELECT 1 FROM timescaledb_information.hypertables WHERE hypertable_name = 'sensor_readings'",
        );
        return h.rowCount ? 'timescaledb' : 'postgres';
      }
      if (row.installed) return 'timescaledb';
      if (!row.available) {
        if (this.opts.timescale === 'on') {
          throw new StoreError('STORE_CONFIG', 'timescale: on, but the timescaledb extension is not available');
        }
        return 'postgres';
      }
      try {
        await c.query('CREATE EXTENSION IF NOT EXISTS timescaledb');
        return 'timescaledb';
      } catch (err) {
        // e.g. not in shared_preload_libraries: plain PostgreSQL works too
        if (this.opts.timescale === 'on') throw err;
        return 'postgres';
      }
    });
  }

  async migrate(): Promise<void> {
    await this.withClient('migrate', async (c) => {
      try {
        await runPgMigrations(c, {
          timescale: this.kind === 'timescaledb',
          chunkIntervalMs: this.opts.chunkIntervalMs,
          compressAfterMs: this.opts.compressAfterMs,
        });
      } catch (err) {
        const se = toStoreError(err, `migration ${(err as { migration?: string }).migration ?? ''}`.trim());
        if (se.code === 'STORE_QUERY') throw new StoreError('STORE_MIGRATION', se.message, { cause: err });
        throw se;
      }
    });
  }

  async writeBatch(b: WriteBatch): Promise<{ stored: number; duplicates: number }> {
    validateBatch(b);
    const ids = streamIdsOf(b);
    if (!ids.length) return { stored: 0, duplicates: 0 };
    return this.tx('writeBatch', async (c) => {
      // concurrent writers of the same id: the second waits for the first's commit, then skips it
      const claimed = await c.query<{ stream_id: string }>(
        'INSERT INTO ingested_entries (stream_id) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING stream_id',
        [ids],
      );
      const fresh = new Set(claimed.rows.map((r) => r.stream_id));
      const { messages, readings } = freshRows(b, fresh);
      await insertMessages(c, messages, this.opts.ingest);
      await insertReadings(c, readings, this.opts.ingest, this.kind === 'postgres');
      return { stored: fresh.size, duplicates: ids.length - fresh.size };
    });
  }

  async history(q: Parameters<Store['history']>[0]): ReturnType<Store['history']> {
    validateHistoryQuery(q);
    const width = chooseWidth(q.from, q.to, q.points);
    const ts = this.kind === 'timescaledb';
    // rollups: TimescaleDB's continuous aggregates, or plain PostgreSQL's tables of the same shape
    const res = rollupFor(width);
    const { a, b } = splitRange(q.from, q.to, res);
    const stride = 'make_interval(secs => $2::float8 / 1000)';
    const bucket = (col: string) =>
      ts ? `time_bucket(${stride}, ${col}, TIMESTAMPTZ 'epoch')` : `date_bin(${stride}, ${col}, TIMESTAMPTZ 'epoch')`;
    return this.withClient(
      'history',
      async (c) => {
        const parts: Partial[] = [];
        const raw = async (lo: number, hi: number) => {
          if (hi <= lo) return;
          const r = await c.query<Partial>(
            `SELECT ${MS(bucket('time'))} AS t, min(value) AS min, max(value) AS max, sum(value) AS sum, count(*) AS count
           FROM sensor_readings WHERE sensor = $1 AND time >= ${TS('$3')} AND time < ${TS('$4')} GROUP BY 1`,
            [q.sensor, width, lo, hi],
          );
          parts.push(...r.rows);
        };
        await raw(q.from, a);
        await raw(b, q.to);
        if (b > a) {
          const view = res === HOUR ? 'readings_1h' : 'readings_1m';
          const r = await c.query<Partial>(
            `SELECT ${MS(bucket('bucket'))} AS t, min(min_value) AS min, max(max_value) AS max, sum(sum_value) AS sum,
                  sum(n_values)::float8 AS count
           FROM ${view} WHERE sensor = $1 AND bucket >= ${TS('$3')} AND bucket < ${TS('$4')} GROUP BY 1`,
            [q.sensor, width, a, b],
          );
          parts.push(...r.rows);
        }
        return fitPoints(mergePartials(parts, width), q.points);
      },
      'read',
    );
  }

  async *exportReadings(q: ExportQuery): AsyncIterable<ExportRow> {
    if (!Array.isArray(q.sensors) || !Number.isFinite(q.from) || !Number.isFinite(q.to)) {
      throw new StoreError('STORE_INVALID', 'exportReadings: need sensors[] and finite from/to');
    }
    if (!q.sensors.length) return;
    if (this.closed) throw new StoreError('STORE_CLOSED', 'exportReadings: the store is closed');
    const client = await this.pools.connect('read', 'exportReadings');
    let broken: Error | undefined;
    try {
      // a server-side cursor in a read-only snapshot: memory stays constant for any range
      await client.query('BEGIN READ ONLY');
      await client.query(
        `DECLARE canopy_export NO SCROLL CURSOR FOR
         SELECT ${MS('time')} AS time, sensor, value, location, cluster FROM sensor_readings
         WHERE sensor IN (${q.sensors.map((s) => pg.escapeLiteral(String(s))).join(', ')})
           AND time >= ${TS(String(Number(q.from)))} AND time < ${TS(String(Number(q.to)))}
         ORDER BY time, sensor`,
      );
      while (true) {
        const r = await client.query<ExportRow>(`FETCH ${this.opts.exportFetchSize} FROM canopy_export`);
        for (const row of r.rows) yield row;
        if (r.rows.length < this.opts.exportFetchSize) break;
      }
    } catch (err) {
      const se = toStoreError(err, 'exportReadings');
      if (se.code === 'STORE_UNAVAILABLE') broken = se;
      throw se;
    } finally {
      if (!broken) await client.query('ROLLBACK').catch((e: Error) => (broken = e));
      client.release(broken);
    }
  }

  async exportPage(q: ExportPageQuery): Promise<ExportRow[]> {
    checkPage(q);
    if (!q.sensors.length) return [];
    return this.withClient(
      'exportPage',
      async (c) => {
        const r = await c.query<ExportRow>(
          `SELECT ${MS('time')} AS time, sensor, value, location, cluster FROM sensor_readings
         WHERE sensor = ANY($1::text[]) AND time >= ${TS('$2')} AND time < ${TS('$3')}
         ORDER BY time, sensor, value, location, cluster LIMIT $4 OFFSET $5`,
          [q.sensors.map(String), q.from, q.to, q.limit, q.skip],
        );
        return r.rows;
      },
      'read',
    );
  }

  async countExport(q: ExportQuery, limit: number): Promise<number> {
    checkPage({ ...q, skip: 0, limit });
    if (!q.sensors.length) return 0;
    return this.withClient(
      'countExport',
      async (c) => {
        const r = await c.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM (SELECT 1 FROM sensor_readings
         WHERE sensor = ANY($1::text[]) AND time >= ${TS('$2')} AND time < ${TS('$3')} LIMIT $4) x`,
          [q.sensors.map(String), q.from, q.to, limit],
        );
        return Number(r.rows[0]?.n ?? 0);
      },
      'read',
    );
  }

  async latestReadings(sensors?: string[]): Promise<LatestReading[]> {
    return this.withClient(
      'latestReadings',
      async (c) => {
        const r = await c.query<LatestReading>(
          `SELECT sensor, ${MS('time')} AS time, value, location, cluster FROM sensor_latest
         WHERE $1::text[] IS NULL OR sensor = ANY($1::text[]) ORDER BY sensor`,
          [sensors ?? null],
        );
        return r.rows;
      },
      'read',
    );
  }

  private async count(table: string): Promise<number> {
    return this.withClient(`count ${table}`, async (c) => {
      const r = await c.query<{ n: number }>(`SELECT count(*) AS n FROM ${table}`);
      return Number(r.rows[0]?.n ?? 0);
    });
  }

  countMessages(): Promise<number> {
    return this.count('can_messages');
  }

  messages(q: MessageQuery): Promise<StoredCanMessage[]> {
    return readMessages(this.readSql, q, MS('timestamp'), TS('$2'));
  }

  countReadings(): Promise<number> {
    return this.count('sensor_readings');
  }

  /** Deletes rows past each table's retention; for the continuous aggregates, drops whole chunks (counted). */
  async sweep(now = Date.now()): Promise<SweepResult> {
    return this.withClient('sweep', async (c) => {
      const out: SweepResult = {};
      for (const [table, ms] of Object.entries(this.opts.retention) as [RetentionTable, number | undefined][]) {
        if (!ms) continue;
        const rule = RETENTION[table];
        if (rule.cagg && this.kind !== 'timescaledb') continue;
        const r = await c.query(rule.sql, [now - ms]);
        out[table] = rule.cagg ? r.rows.length : (r.rowCount ?? 0);
      }
      return out;
    });
  }

  async ping(): Promise<void> {
    await this.withClient('ping', (c) => c.query('SELECT 1'));
  }

  override readStatus(timeoutMs?: number): Promise<ReadStatus> {
    return this.pools.status(timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.pools.end();
  }
}
