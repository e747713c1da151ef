import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { retentionEnv, storeRetention } from '../../src/config/retention.js';
import { retentionCheck, storeChecks } from '../../src/ops/doctor/store.js';
import { openStore } from '../../src/store/index.js';
import { DAY_MS } from '../../src/store/options.js';
import { rawRetention, SQLITE_DEFAULT_RAW_DAYS } from '../../src/store/retention.js';
import { tempDir } from '../support/tmp.js';

function count(file: string, table: string): number {
  const db = new Database(file, { readonly: true });
  try {
    return Number(db.prepare(`SELECT count(*) FROM ${table}`).pluck().get());
  } finally {
    db.close();
  }
}

/** A SQLite store with readings of `sensor` every minute for `minutes`, ending `agoMs` before now. */
async function seeded(file: string, spans: Array<{ agoMs: number; minutes: number }>, now = Date.now()) {
  const store = await openStore(`sqlite:${file}`, { sweepIntervalMs: 0 });
  for (const [i, s] of spans.entries()) {
    const readings = Array.from({ length: s.minutes }, (_, k) => {
      const time = now - s.agoMs - k * 60_000;
      return {
        streamId: `${time}-${i}-${k}`,
        time,
        sensor: 'dry_bulb_f',
        value: 24,
        location: 'Flower Room',
        cluster: 'front',
      };
    });
    await store.writeBatch({ messages: [], readings });
  }
  await store.close();
}

describe('default retention of a SQLite store', () => {
  it('raw rows 90 days on SQLite, nothing deleted on PostgreSQL unless set, 0 keeps everything', () => {
    expect(SQLITE_DEFAULT_RAW_DAYS).toBe(90);
    expect(rawRetention('sqlite', undefined)).toEqual({ can_messages: 90 * DAY_MS, sensor_readings: 90 * DAY_MS });
    expect(rawRetention('postgres', undefined)).toEqual({});
    expect(rawRetention('sqlite', 0)).toEqual({});
    expect(rawRetention('postgres', 30)).toEqual({ can_messages: 30 * DAY_MS, sensor_readings: 30 * DAY_MS });
    expect(storeRetention('sqlite:/x/canopy.db', {})).toHaveProperty('sensor_readings', 90 * DAY_MS);
    expect(storeRetention('sqlite:/x/canopy.db', { CANOPY_RETENTION_RAW_DAYS: '7' })).toHaveProperty(
      'sensor_readings',
      7 * DAY_MS,
    );
    for (const bad of ['abc', '-3', '1e9x', 'ninety'])
      expect(() => retentionEnv({ CANOPY_RETENTION_RAW_DAYS: bad }), bad).toThrow(/CANOPY_RETENTION_RAW_DAYS/);
  });

  it('a sweep deletes raw readings older than 90 days and keeps their rollups', async () => {
    const file = path.join(tempDir('canopy-ret-'), 'canopy.db');
    await seeded(file, [
      { agoMs: 100 * DAY_MS, minutes: 30 }, // too old
      { agoMs: 60_000, minutes: 30 }, // recent
    ]);
    const rollupsBefore = count(file, 'readings_1m');
    expect(count(file, 'sensor_readings')).toBe(60);
    expect(rollupsBefore).toBeGreaterThanOrEqual(60);
    const store = await openStore(`sqlite:${file}`, {
      sweepIntervalMs: 0,
      retention: storeRetention(`sqlite:${file}`, {}),
    });
    const swept = await store.sweep();
    await store.close();
    expect(swept).toMatchObject({ sensor_readings: 30 });
    expect(count(file, 'sensor_readings')).toBe(30);
    expect(count(file, 'readings_1m')).toBe(rollupsBefore); // rollups kept
  });
});

describe('canopy doctor reports retention and disk growth per day', () => {
  it('measured from the store: rows of the last 24 h × bytes per row, and days of free disk', async () => {
    const file = path.join(tempDir('canopy-ret-'), 'canopy.db');
    await seeded(file, [
      { agoMs: 3 * DAY_MS, minutes: 600 },
      { agoMs: 60_000, minutes: 1200 }, // 20 h of readings within the last day
    ]);
    const checks = await storeChecks(`sqlite:${file}`, 3000, 90 * DAY_MS);
    const r = checks.find((c) => c.id === 'store.retention');
    expect(r?.status).toBe('ok');
    expect(r?.detail).toMatch(
      /^raw readings kept 90 days, rollups kept; growth \d+\.\d MB\/day \((\d+) rows\/day × (\d+) B\/row\)/,
    );
    const [, rows, perRow] = /\((\d+) rows\/day × (\d+) B\/row\)/.exec(r?.detail ?? '') ?? [];
    expect(Number(rows)).toBeGreaterThanOrEqual(1200 * 2); // raw rows and their 1-minute rollups
    expect(Number(rows)).toBeLessThan(1800 * 2 + 100); // not the older ones
    const size = fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0);
    expect(Number(perRow)).toBeGreaterThan(0);
    expect(Number(perRow)).toBeLessThanOrEqual(size);
    expect(r?.detail).toMatch(/the free disk holds ~\d+ days of it/);
  });

  it('a store younger than a day: its rows are scaled to a day from the span it holds', async () => {
    const file = path.join(tempDir('canopy-ret-'), 'canopy.db');
    const now = Date.now();
    await seeded(file, [{ agoMs: 0, minutes: 120 }], now); // 2 h of readings, one a minute
    const db = new Database(file, { readonly: true });
    try {
      const r = retentionCheck(db, fs.statSync(file).size, 90, 1e12, now);
      expect(r.detail).toMatch(/rows\/day × \d+ B\/row, from the last 2\.0 h\)/);
      const perDay = Number(/\((\d+) rows\/day/.exec(r.detail)?.[1]);
      // 120 raw rows and 120 one-minute rollups (and a few hourly ones) in ~2 h: ~12 × 240 a day
      expect(perDay).toBeGreaterThan(11 * 240);
      expect(perDay).toBeLessThan(13 * 245);
    } finally {
      db.close();
    }
  });

  it('warns when nothing is ever deleted, or when the disk fills before old rows go', async () => {
    const file = path.join(tempDir('canopy-ret-'), 'canopy.db');
    await seeded(file, [{ agoMs: 60_000, minutes: 600 }]);
    const db = new Database(file, { readonly: true });
    try {
      const size = fs.statSync(file).size;
      const forever = retentionCheck(db, size, 0, 1e12);
      expect(forever.status).toBe('warn');
      expect(forever.detail).toMatch(/^everything kept \(no retention\)/);
      expect(forever.fix).toMatch(/CANOPY_RETENTION_RAW_DAYS/);
      const tight = retentionCheck(db, size, 90, 1); // one free byte
      expect(tight.status).toBe('warn');
      expect(tight.fix).toMatch(/the disk fills before old rows are deleted/);
    } finally {
      db.close();
    }
  });
});
