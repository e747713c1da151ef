import type Database from 'better-sqlite3';
import { DAY_MS, type RetentionTable } from './options.js';

/**
 * The default retention of a SQLite store (a Raspberry Pi's SD card): raw
 * rows (`can_messages`, `sensor_readings`) for 90 days; the 1-minute and
 * 1-hour rollups, which the history charts read past a few days, are kept.
 * PostgreSQL/TimescaleDB keeps everything unless told (compression instead).
 */
export const SQLITE_DEFAULT_RAW_DAYS = 90;

/** The tables the raw-days setting applies to (rollups are not raw). */
export const RAW_TABLES = ['can_messages', 'sensor_readings'] as const satisfies readonly RetentionTable[];

/**
 * Retention rules for `openStore` from the raw-days setting: `undefined`
 * (unset) means {@link SQLITE_DEFAULT_RAW_DAYS} on SQLite and nothing on
 * PostgreSQL; 0 keeps everything.
 */
export function rawRetention(
  kind: 'sqlite' | 'postgres',
  rawDays: number | undefined,
): Partial<Record<RetentionTable, number>> {
  const days = rawDays ?? (kind === 'sqlite' ? SQLITE_DEFAULT_RAW_DAYS : 0);
  if (!(days > 0)) return {};
  return Object.fromEntries(RAW_TABLES.map((t) => [t, days * DAY_MS]));
}

/** How fast a SQLite store grows, measured from its own rows. */
export interface StoreGrowth {
  /** Bytes of the database and its WAL. */
  fileBytes: number;
  /** Rows of every time-series table (raw and rollups). */
  rows: number;
  /** fileBytes / rows (indexes included); undefined without rows. */
  bytesPerRow: number | undefined;
  /** Rows written in the last 24 hours (raw and rollups). */
  rowsLastDay: number;
  /**
   * Rows per day: rowsLastDay, or scaled up to a day when the store holds
   * less than a day of readings (a new install), from the span it holds.
   */
  rowsPerDay: number;
  /** The span (ms) the figure is measured over: a day, or less on a new store. */
  measuredMs: number;
  /** rowsPerDay × bytesPerRow. */
  bytesPerDay: number;
}

const SERIES: Array<[table: string, timeColumn: string, toMs: number]> = [
  ['can_messages', 'timestamp', 1000], // seconds (REAL)
  ['sensor_readings', 'time', 1],
  ['readings_1m', 'bucket', 1],
  ['readings_1h', 'bucket', 1],
];

/**
 * Measures the growth of a SQLite store: rows written in the last day
 * times the average size of a row (file size over row count, indexes
 * included). Tables that do not exist yet count as empty.
 */
export function sqliteGrowth(db: Database.Database, fileBytes: number, now = Date.now()): StoreGrowth {
  const tables = new Set(db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[]);
  let rows = 0;
  let rowsLastDay = 0;
  for (const [table, col, toMs] of SERIES) {
    if (!tables.has(table)) continue;
    rows += Number(db.prepare(`SELECT count(*) FROM ${table}`).pluck().get());
    rowsLastDay += Number(
      db
        .prepare(`SELECT count(*) FROM ${table} WHERE ${col} >= ?`)
        .pluck()
        .get((now - DAY_MS) / toMs),
    );
  }
  const bytesPerRow = rows > 0 ? fileBytes / rows : undefined;
  // a store younger than a day: scale what it holds to a day (at least a minute of it)
  let measuredMs = DAY_MS;
  if (tables.has('sensor_readings')) {
    const oldest = db.prepare('SELECT min(time) FROM sensor_readings').pluck().get() as number | null;
    if (oldest !== null && now - oldest < DAY_MS) measuredMs = Math.max(60_000, now - oldest);
  }
  const rowsPerDay = Math.round((rowsLastDay * DAY_MS) / measuredMs);
  return {
    fileBytes,
    rows,
    bytesPerRow,
    rowsLastDay,
    rowsPerDay,
    measuredMs,
    bytesPerDay: Math.round(rowsPerDay * (bytesPerRow ?? 0)),
  };
}
