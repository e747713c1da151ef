import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStore, StoreError } from '../../src/store/index.js';
import { bucketCount, chooseWidth } from '../../src/store/buckets.js';
import { tempDir } from '../support/tmp.js';
import { msg, reading, series, storeContract } from './contract.js';

const dir = tempDir('canopy-store-sqlite-');
let n = 0;
const fresh = () => `sqlite:${path.join(dir, `db-${++n}.db`)}`;

storeContract('SQLite', (opts) => openStore(fresh(), opts), 'sqlite');

describe('SQLite specifics', () => {
  it('a database of schema version 1 gains the journal table when opened', async () => {
    const url = fresh();
    await (await openStore(url)).close();
    const db = new Database(url.slice('sqlite:'.length));
    db.exec('DROP TABLE journal; DELETE FROM schema_migrations WHERE version = 2');
    db.close();
    const s = await openStore(url);
    try {
      await s.addJournalEntry({ location: 'Veg Room', text: 'topped', by: 'grower', time: 1000 });
      expect((await s.listJournal({ location: 'Veg Room' })).map((e) => e.text)).toEqual(['topped']);
    } finally {
      await s.close();
    }
  });

  it('uses WAL with synchronous=NORMAL and records applied migrations', async () => {
    const url = fresh();
    const s = await openStore(url);
    await s.close();
    const db = new Database(url.slice('sqlite:'.length), { readonly: true });
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
      const versions = db.prepare('SELECT version FROM schema_migrations').all();
      expect(versions).toEqual([{ version: 1 }, { version: 2 }]);
      const cols = db.prepare('PRAGMA table_info(can_messages)').all() as { name: string; type: string }[];
      expect(cols.map((c) => `${c.name} ${c.type}`)).toEqual([
        'id INTEGER',
        'timestamp REAL',
        'can_id INTEGER',
        'node_id INTEGER',
        'message_type TEXT',
        'dlc INTEGER',
        'raw_data TEXT',
        'decoded_data TEXT',
        'created_at TEXT',
      ]);
    } finally {
      db.close();
    }
    const again = await openStore(url);
    await again.close();
    const s2 = await openStore(url, { autoMigrate: false });
    await s2.migrate();
    await s2.close();
  });

  it("stores can_messages in the seed's format (unix seconds, JSON text)", async () => {
    const url = fresh();
    const s = await openStore(url);
    await s.writeBatch({ messages: [msg('5-0', 1_734_001_123_123)], readings: [] });
    await s.close();
    const db = new Database(url.slice('sqlite:'.length), { readonly: true });
    const row = db.prepare('SELECT * FROM can_messages').get() as Record<string, unknown>;
    db.close();
    expect(row).toMatchObject({
      id: 1,
      timestamp: 1_734_001_123.123,
      can_id: 0x101,
      node_id: 1,
      message_type: 'PT100',
      dlc: 5,
      raw_data: 'D2 09 6A 07 00',
    });
    expect(JSON.parse(row.decoded_data as string)).toEqual({ temp_dry_c: 25.14, temp_wet_c: 19.3, fault: 0 });
    expect(typeof row.created_at).toBe('string');
  });

  it('opens an existing seed database and keeps its rows', async () => {
    const file = path.join(dir, 'seed.db');
    const db = new Database(file);
    db.exec(`CREATE TABLE can_messages (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp REAL NOT NULL, can_id INTEGER NOT NULL,
      node_id INTEGER, message_type TEXT, dlc INTEGER NOT NULL, raw_data TEXT NOT NULL, decoded_data TEXT,
      created_at TEXT DEFAULT CURRENT_TIMESTAMP)`);
    db.prepare(
      'INSERT INTO can_messages (timestamp, can_id, node_id, message_type, dlc, raw_data, decoded_data) VALUES (?,?,?,?,?,?,?)',
    ).run(1_700_000_000.5, 0x203, 2, 'SCD30', 6, '20 03 2A 09 58 1B', '{"co2_ppm":800}');
    db.close();
    const s = await openStore(`sqlite:${file}`);
    expect(await s.countMessages()).toBe(1);
    await s.writeBatch({ messages: [msg('1-0', 1_700_000_001_000)], readings: [] });
    expect(await s.countMessages()).toBe(2);
    await s.close();
  });

  it('keeps the 1-minute and 1-hour rollups equal to the raw rows, across batches', async () => {
    const url = fresh();
    const s = await openStore(url);
    const rows = series('vpd_f', Date.UTC(2025, 0, 1), 10_000, 1_000);
    // uneven batches, so buckets are updated by several transactions
    for (let i = 0; i < rows.length; i += 777) await s.writeBatch({ messages: [], readings: rows.slice(i, i + 777) });
    await s.close();
    const db = new Database(url.slice('sqlite:'.length), { readonly: true });
    try {
      // times and buckets are stored as integers (integer division makes the buckets)
      expect(db.prepare('SELECT DISTINCT typeof(time) AS t FROM sensor_readings').all()).toEqual([{ t: 'integer' }]);
      expect(db.prepare('SELECT DISTINCT typeof(bucket) AS t FROM readings_1m').all()).toEqual([{ t: 'integer' }]);
      for (const [table, res] of [
        ['readings_1m', 60_000],
        ['readings_1h', 3_600_000],
      ] as const) {
        const rolled = db
          .prepare(`SELECT bucket, min_value, max_value, sum_value, n_values FROM ${table} ORDER BY bucket`)
          .all();
        const raw = db
          .prepare(
            `SELECT (time / ${res}) * ${res} AS bucket, min(value) AS min_value, max(value) AS max_value,
             sum(value) AS sum_value, count(*) AS n_values FROM sensor_readings GROUP BY 1 ORDER BY 1`,
          )
          .all() as Record<string, number>[];
        expect(rolled.length).toBe(raw.length);
        (rolled as Record<string, number>[]).forEach((r, i) => {
          const w = raw[i]!;
          expect([r.bucket, r.min_value, r.max_value, r.n_values]).toEqual([
            w.bucket,
            w.min_value,
            w.max_value,
            w.n_values,
          ]);
          expect(r.sum_value).toBeCloseTo(w.sum_value!, 6);
        });
      }
    } finally {
      db.close();
    }
  });

  it('serialises record transactions with concurrent batch writes', async () => {
    const s = await openStore(fresh());
    const work: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) {
      work.push(
        s.setDeviceState({ device: `d${i % 5}`, state: i % 2, mode: 'auto', location: null, cluster: null, by: null }),
      );
      work.push(
        s.writeBatch({ messages: [msg(`w-${i}`, 1_000 + i)], readings: [reading(`w-${i}`, 1_000 + i, 's', i)] }),
      );
    }
    await Promise.all(work);
    expect(await s.countMessages()).toBe(50);
    expect((await s.controlHistory({ limit: 100 })).length).toBe(50);
    await s.close();
  });

  it('reports a path that cannot be opened as a StoreError', async () => {
    const notADir = path.join(dir, 'plain-file');
    fs.writeFileSync(notADir, 'x');
    const err = await openStore(`sqlite:${notADir}/here.db`).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect(err).toMatchObject({ code: 'STORE_UNAVAILABLE' });
    const bad = await openStore('mysql://x').catch((e: unknown) => e);
    expect((bad as StoreError).code).toBe('STORE_CONFIG');
    const badOpt = await openStore(fresh(), { poolSize: 0 }).catch((e: unknown) => e);
    expect((badOpt as StoreError).code).toBe('STORE_CONFIG');
  });
});

describe('bucket width choice', () => {
  it('picks the finest epoch-aligned width giving at most `points` buckets', () => {
    const year = 365 * 86_400_000;
    const from = Date.UTC(2025, 0, 1);
    expect(chooseWidth(from, from + year, 1000)).toBe(12 * 3_600_000);
    expect(chooseWidth(from, from + 3_600_000, 60)).toBe(60_000);
    expect(chooseWidth(from, from + 3_600_000, 59)).toBe(2 * 60_000);
    expect(chooseWidth(from, from + 1000, 1000)).toBe(1);
    for (const points of [1, 7, 100, 999]) {
      const w = chooseWidth(from + 123, from + 5 * year, points);
      expect(bucketCount(from + 123, from + 5 * year, w)).toBeLessThanOrEqual(points);
    }
  });
});
