/**
 * `npm run bench -- store`: the storage layer alone.
 *
 * Figures (rows/s unless named otherwise; BENCH_ROWS rows each, default 200,000):
 * - pg_copy_can_messages / pg_unnest_can_messages: bare bulk insert into the
 *   seed's can_messages (four indexes), 10,000 rows per statement, no idempotency;
 * - pg_copy_readings / pg_unnest_readings: the same into sensor_readings;
 * - pg_store_{unnest,copy}_messages: Store.writeBatch of frames (one can_messages
 *   row + one reading each, idempotency keys included), 1,000 frames per batch;
 * - sqlite_store_messages: the same on SQLite (WAL, synchronous=NORMAL), 1,000 per transaction;
 * - sqlite_bare_can_messages: bare prepared INSERTs, 1,000 rows per transaction;
 * - sqlite_history_year_ms / pg_history_year_ms: history() over a year of
 *   one reading per minute for one sensor, 1,000 points (SQLite reads rollups,
 *   plain PostgreSQL date_bin over raw rows);
 * - migrate_rows_per_s: canopy migrate's copy of a seed SQLite file into PostgreSQL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { openStore, type CanMessageRow, type ReadingRow, type Store } from '../src/store/index.js';
import { copyRows } from '../src/store/postgres/copy.js';
import { copySqliteToPostgres } from '../src/store/migrate/index.js';
import { startPostgres } from '../test/support/postgres.js';
import { stopAll } from '../test/support/cleanup.js';

const N = Number(process.env.BENCH_ROWS || 200_000);
const T0 = Date.UTC(2025, 0, 1);

function frames(n: number, prefix: string): { messages: CanMessageRow[]; readings: ReadingRow[] } {
  const messages: CanMessageRow[] = [];
  const readings: ReadingRow[] = [];
  for (let i = 0; i < n; i++) {
    const streamId = `${T0 + i}-${prefix}`;
    messages.push({
      streamId,
      timestamp: T0 + i,
      canId: 0x101,
      nodeId: 1,
      messageType: 'PT100',
      dlc: 5,
      rawData: 'D2 09 6A 07 00',
      decodedData: { temp_dry_c: 25.14, temp_wet_c: 19.3, fault: 0 },
    });
    readings.push({
      streamId,
      time: T0 + i,
      sensor: `dry_bulb_${i % 3}`,
      value: 20 + (i % 100) / 10,
      location: 'Flower Room',
      cluster: 'front',
    });
  }
  return { messages, readings };
}

const rate = (rows: number, ms: number) => Math.round((rows * 1000) / ms);

async function timed(fn: () => Promise<void> | void): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

async function storeRate(store: Store, n: number, prefix: string): Promise<number> {
  const f = frames(n, prefix);
  const ms = await timed(async () => {
    for (let i = 0; i < n; i += 1_000) {
      await store.writeBatch({ messages: f.messages.slice(i, i + 1_000), readings: f.readings.slice(i, i + 1_000) });
    }
  });
  return rate(n, ms);
}

async function pgBare(url: string, figures: Record<string, number>): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const msgCols = ['timestamp', 'can_id', 'node_id', 'message_type', 'dlc', 'raw_data', 'decoded_data'];
  const rows = Array.from({ length: N }, (_, i) => [
    new Date(T0 + i),
    0x101,
    1,
    'PT100',
    5,
    'D2 09 6A 07 00',
    '{"temp_dry_c":25.14,"temp_wet_c":19.3,"fault":0}',
  ]);
  const readingRows = Array.from({ length: N }, (_, i) => [
    new Date(T0 + i),
    `s${i % 27}`,
    20 + (i % 100) / 10,
    'Flower Room',
    'front',
  ]);
  const chunks = <T>(a: T[], k = 10_000) =>
    Array.from({ length: Math.ceil(a.length / k) }, (_, i) => a.slice(i * k, i * k + k));
  figures.pg_copy_can_messages = rate(
    N,
    await timed(async () => {
      for (const ch of chunks(rows)) await copyRows(c, 'can_messages', msgCols, ch);
    }),
  );
  figures.pg_unnest_can_messages = rate(
    N,
    await timed(async () => {
      for (const ch of chunks(rows)) {
        await c.query(
          `INSERT INTO can_messages (timestamp, can_id, node_id, message_type, dlc, raw_data, decoded_data)
         SELECT to_timestamp(t / 1000), ci, ni, mt, d, rd, dd::jsonb
         FROM unnest($1::float8[], $2::int[], $3::int[], $4::text[], $5::int[], $6::text[], $7::text[]) AS u(t, ci, ni, mt, d, rd, dd)`,
          [0, 1, 2, 3, 4, 5, 6].map((k) => ch.map((r) => (k === 0 ? (r[0] as Date).getTime() : r[k]))),
        );
      }
    }),
  );
  figures.pg_copy_readings = rate(
    N,
    await timed(async () => {
      for (const ch of chunks(readingRows))
        await copyRows(c, 'sensor_readings', ['time', 'sensor', 'value', 'location', 'cluster'], ch);
    }),
  );
  figures.pg_unnest_readings = rate(
    N,
    await timed(async () => {
      for (const ch of chunks(readingRows)) {
        await c.query(
          `INSERT INTO sensor_readings (time, sensor, value, location, cluster)
         SELECT to_timestamp(t / 1000), s, v, l, cl FROM unnest($1::float8[], $2::text[], $3::float8[], $4::text[], $5::text[]) AS u(t, s, v, l, cl)`,
          [0, 1, 2, 3, 4].map((k) => ch.map((r) => (k === 0 ? (r[0] as Date).getTime() : r[k]))),
        );
      }
    }),
  );
  await c.end();
}

/** One reading per minute for a year, written in day-sized batches. */
async function yearOfMinutes(store: Store): Promise<void> {
  const day = 1_440;
  for (let d = 0; d < 365; d++) {
    const readings: ReadingRow[] = Array.from({ length: day }, (_, i) => {
      const k = d * day + i;
      return {
        streamId: `y-${k}`,
        time: T0 + k * 60_000,
        sensor: 'vpd_f',
        value: Math.sin(k / 500),
        location: 'Flower Room',
        cluster: 'front',
      };
    });
    await store.writeBatch({ messages: [], readings });
  }
}

function seedFile(file: string, n: number): void {
  const db = new Database(file);
  db.exec(`CREATE TABLE can_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp REAL NOT NULL, can_id INTEGER NOT NULL,
    node_id INTEGER, message_type TEXT, dlc INTEGER NOT NULL, raw_data TEXT NOT NULL, decoded_data TEXT, created_at TEXT DEFAULT CURRENT_TIMESTAMP)`);
  const ins = db.prepare(
    'INSERT INTO can_messages (timestamp, can_id, node_id, message_type, dlc, raw_data, decoded_data) VALUES (?, 257, 1, ?, 5, ?, ?)',
  );
  db.transaction(() => {
    for (let i = 0; i < n; i++)
      ins.run(1_700_000_000 + i / 10, 'PT100', 'D2 09 6A 07 00', '{"temp_dry_c":25.14,"temp_wet_c":19.3,"fault":0}');
  })();
  db.close();
}

export async function run(): Promise<Record<string, number>> {
  const figures: Record<string, number> = { rows: N };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-store-'));
  const server = await startPostgres();
  try {
    // PostgreSQL: bare bulk paths, on the store's schema
    const bareUrl = await server.createDatabase();
    await (await openStore(bareUrl, { timescale: 'off', sweepIntervalMs: 0 })).close();
    await pgBare(bareUrl, figures);
    for (const ingest of ['unnest', 'copy'] as const) {
      const s = await openStore(await server.createDatabase(), { ingest, sweepIntervalMs: 0 });
      figures[`pg_store_${ingest}_messages`] = await storeRate(s, N, ingest);
      await s.close();
    }
    // SQLite
    const s = await openStore(`sqlite:${path.join(dir, 'bench.db')}`, { sweepIntervalMs: 0 });
    figures.sqlite_store_messages = await storeRate(s, N, 'sqlite');
    await s.close();
    const bare = new Database(path.join(dir, 'bare.db'));
    bare.pragma('journal_mode = WAL');
    bare.pragma('synchronous = NORMAL');
    bare.exec(`CREATE TABLE can_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp REAL NOT NULL, can_id INTEGER NOT NULL,
      node_id INTEGER, message_type TEXT, dlc INTEGER NOT NULL, raw_data TEXT NOT NULL, decoded_data TEXT, created_at TEXT DEFAULT CURRENT_TIMESTAMP);
      CREATE INDEX i1 ON can_messages (timestamp DESC); CREATE INDEX i2 ON can_messages (node_id);
      CREATE INDEX i3 ON can_messages (message_type); CREATE INDEX i4 ON can_messages (can_id);`);
    const ins = bare.prepare(
      'INSERT INTO can_messages (timestamp, can_id, node_id, message_type, dlc, raw_data, decoded_data) VALUES (?, 257, 1, ?, 5, ?, ?)',
    );
    const tx = bare.transaction((from: number) => {
      for (let i = from; i < from + 1_000; i++)
        ins.run(1_700_000_000 + i / 10, 'PT100', 'D2 09 6A 07 00', '{"temp_dry_c":25.14}');
    });
    figures.sqlite_bare_can_messages = rate(
      N,
      await timed(() => {
        for (let i = 0; i < N; i += 1_000) tx(i);
      }),
    );
    bare.close();
    // history over a year
    const hs = await openStore(`sqlite:${path.join(dir, 'year.db')}`, { sweepIntervalMs: 0 });
    await yearOfMinutes(hs);
    const q = { sensor: 'vpd_f', from: T0, to: T0 + 365 * 86_400_000, points: 1_000 };
    figures.sqlite_history_year_ms = Math.round(await timed(async () => void (await hs.history(q))));
    await hs.close();
    const hp = await openStore(await server.createDatabase(), { sweepIntervalMs: 0 });
    await yearOfMinutes(hp);
    figures.pg_history_year_ms = Math.round(await timed(async () => void (await hp.history(q))));
    await hp.close();
    // migration
    const seed = path.join(dir, 'seed.db');
    seedFile(seed, N);
    const m = await copySqliteToPostgres({ from: seed, to: await server.createDatabase(), chunkSize: 10_000 });
    figures.migrate_rows_per_s = rate(m.total, m.ms);
  } finally {
    await stopAll();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}
