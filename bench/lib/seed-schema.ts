/**
 * The seeds' schema only (`can_messages` + `sensor_readings` with their
 * indexes; no idempotency table, no side tables, no rollups) and two ways of
 * writing rows into it:
 *  - bare: what the hardware and the libraries allow — COPY in large
 *    transactions on PostgreSQL, prepared INSERTs in large transactions on
 *    SQLite (WAL, synchronous=FULL like the worker's default);
 *  - naive: the seeds' original design — one autocommit INSERT per row.
 * The denominators of bench/pipeline.ts and the baseline of bench/baseline.ts.
 */
import Database from 'better-sqlite3';
import pg from 'pg';
import type { CanMessageRow, ReadingRow } from '../../src/cea/types.js';
import { copyRows } from '../../src/store/postgres/copy.js';

export interface Rows {
  messages: CanMessageRow[];
  readings: ReadingRow[];
}

const SQLITE_DDL = `
CREATE TABLE IF NOT EXISTS can_messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp REAL NOT NULL,
    can_id INTEGER NOT NULL,
    node_id INTEGER,
    message_type TEXT,
    dlc INTEGER NOT NULL,
    raw_data TEXT NOT NULL,
    decoded_data TEXT,
    created_at TEXT DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX IF NOT EXISTS idx_can_messages_timestamp ON can_messages (timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_can_messages_node_id ON can_messages (node_id);
CREATE INDEX IF NOT EXISTS idx_can_messages_message_type ON can_messages (message_type);
CREATE INDEX IF NOT EXISTS idx_can_messages_can_id ON can_messages (can_id);
CREATE TABLE IF NOT EXISTS sensor_readings (
    time INTEGER NOT NULL,
    sensor TEXT NOT NULL,
    value REAL NOT NULL,
    location TEXT NOT NULL,
    cluster TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_sensor_readings_sensor_time ON sensor_readings (sensor, time);
CREATE INDEX IF NOT EXISTS idx_sensor_readings_time ON sensor_readings (time);
`;

const PG_DDL = [
  `CREATE TABLE IF NOT EXISTS can_messages (
      id BIGSERIAL,
      timestamp TIMESTAMPTZ NOT NULL,
      can_id INTEGER NOT NULL,
      node_id INTEGER,
      message_type TEXT,
      dlc INTEGER NOT NULL,
      raw_data TEXT NOT NULL,
      decoded_data JSONB,
      created_at TIMESTAMPTZ DEFAULT NOW()
  )`,
  'CREATE INDEX IF NOT EXISTS idx_can_messages_timestamp ON can_messages (timestamp DESC)',
  'CREATE INDEX IF NOT EXISTS idx_can_messages_node_id ON can_messages (node_id)',
  'CREATE INDEX IF NOT EXISTS idx_can_messages_message_type ON can_messages (message_type)',
  'CREATE INDEX IF NOT EXISTS idx_can_messages_can_id ON can_messages (can_id)',
  `CREATE TABLE IF NOT EXISTS sensor_readings (
      time TIMESTAMPTZ NOT NULL,
      sensor TEXT NOT NULL,
      value DOUBLE PRECISION NOT NULL,
      location TEXT NOT NULL,
      cluster TEXT NOT NULL
  )`,
  'CREATE INDEX IF NOT EXISTS idx_sensor_readings_sensor_time ON sensor_readings (sensor, time)',
  'CREATE INDEX IF NOT EXISTS idx_sensor_readings_time ON sensor_readings (time)',
];

const MSG_SQL = `INSERT INTO can_messages (timestamp, can_id, node_id, message_type, dlc, raw_data, decoded_data)
  VALUES (?, ?, ?, ?, ?, ?, ?)`;
const READING_SQL = 'INSERT INTO sensor_readings (time, sensor, value, location, cluster) VALUES (?, ?, ?, ?, ?)';
const json = (m: CanMessageRow) => (m.decodedData ? JSON.stringify(m.decodedData) : null);

/** A SQLite file with the seeds' schema, WAL, synchronous FULL. */
export function openSeedSqlite(file: string): Database.Database {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.exec(SQLITE_DDL);
  return db;
}

/** Bare SQLite: the rows in transactions of `perTx` frames, prepared statements. Returns seconds. */
export function bareSqlite(file: string, rows: Rows, perTx = 10_000): number {
  const db = openSeedSqlite(file);
  try {
    const insMsg = db.prepare(MSG_SQL);
    const insReading = db.prepare(READING_SQL);
    const tx = db.transaction((from: number, to: number, rFrom: number, rTo: number) => {
      for (let i = from; i < to; i++) {
        const m = rows.messages[i]!;
        insMsg.run(m.timestamp / 1000, m.canId, m.nodeId, m.messageType, m.dlc, m.rawData, json(m));
      }
      for (let i = rFrom; i < rTo; i++) {
        const r = rows.readings[i]!;
        insReading.run(r.time, r.sensor, r.value, r.location, r.cluster);
      }
    });
    const perFrame = rows.readings.length / Math.max(1, rows.messages.length);
    const t0 = performance.now();
    for (let i = 0; i < rows.messages.length; i += perTx) {
      const to = Math.min(rows.messages.length, i + perTx);
      const rTo = to === rows.messages.length ? rows.readings.length : Math.round(to * perFrame);
      tx(i, to, Math.round(i * perFrame), rTo);
    }
    return (performance.now() - t0) / 1000;
  } finally {
    db.close();
  }
}

export async function openSeedPostgres(url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  for (const sql of PG_DDL) await c.query(sql);
  return c;
}

/** Bare PostgreSQL: COPY of both tables per `perTx` frames, one transaction each. Returns seconds. */
export async function barePostgres(url: string, rows: Rows, perTx = 10_000): Promise<number> {
  const c = await openSeedPostgres(url);
  try {
    const perFrame = rows.readings.length / Math.max(1, rows.messages.length);
    const t0 = performance.now();
    for (let i = 0; i < rows.messages.length; i += perTx) {
      const to = Math.min(rows.messages.length, i + perTx);
      const rTo = to === rows.messages.length ? rows.readings.length : Math.round(to * perFrame);
      await c.query('BEGIN');
      await copyRows(
        c,
        'can_messages',
        ['timestamp', 'can_id', 'node_id', 'message_type', 'dlc', 'raw_data', 'decoded_data'],
        rows.messages
          .slice(i, to)
          .map((m) => [new Date(m.timestamp), m.canId, m.nodeId, m.messageType, m.dlc, m.rawData, json(m)]),
      );
      await copyRows(
        c,
        'sensor_readings',
        ['time', 'sensor', 'value', 'location', 'cluster'],
        rows.readings
          .slice(Math.round(i * perFrame), rTo)
          .map((r) => [new Date(r.time), r.sensor, r.value, r.location, r.cluster]),
      );
      await c.query('COMMIT');
    }
    return (performance.now() - t0) / 1000;
  } finally {
    await c.end();
  }
}

/** The naive writer: one autocommit INSERT per row, on either store. */
export interface NaiveWriter {
  message(m: CanMessageRow): Promise<void>;
  reading(r: ReadingRow): Promise<void>;
  close(): Promise<void>;
}

export function naiveSqlite(file: string): NaiveWriter {
  const db = openSeedSqlite(file);
  const insMsg = db.prepare(MSG_SQL);
  const insReading = db.prepare(READING_SQL);
  return {
    message: async (m) => {
      insMsg.run(m.timestamp / 1000, m.canId, m.nodeId, m.messageType, m.dlc, m.rawData, json(m));
    },
    reading: async (r) => {
      insReading.run(r.time, r.sensor, r.value, r.location, r.cluster);
    },
    close: async () => {
      db.close();
    },
  };
}

export async function naivePostgres(url: string): Promise<NaiveWriter> {
  const c = await openSeedPostgres(url);
  return {
    message: async (m) => {
      await c.query(
        `INSERT INTO can_messages (timestamp, can_id, node_id, message_type, dlc, raw_data, decoded_data)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [new Date(m.timestamp), m.canId, m.nodeId, m.messageType, m.dlc, m.rawData, json(m)],
      );
    },
    reading: async (r) => {
      await c.query(
        'INSERT INTO sensor_readings (time, sensor, value, location, cluster) VALUES ($1, $2, $3, $4, $5)',
        [new Date(r.time), r.sensor, r.value, r.location, r.cluster],
      );
    },
    close: () => c.end(),
  };
}
