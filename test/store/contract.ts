/**
 * The behaviour every Store backend must show, run against SQLite, real
 * PostgreSQL and TimescaleDB (PGlite) by the three *.test.ts files here.
 */
import { describe, expect, it } from 'vitest';
import {
  StoreError,
  type CanMessageRow,
  type ReadingRow,
  type Store,
  type StoreOptions,
} from '../../src/store/index.js';
import { chooseWidth } from '../../src/store/buckets.js';

export type OpenFn = (opts?: Partial<StoreOptions>) => Promise<Store>;

const T0 = Date.UTC(2025, 0, 6, 0, 0, 0); // a Monday, midnight UTC

export function msg(streamId: string, timestamp: number, extra: Partial<CanMessageRow> = {}): CanMessageRow {
  return {
    streamId,
    timestamp,
    canId: 0x101,
    nodeId: 1,
    messageType: 'PT100',
    dlc: 5,
    rawData: 'D2 09 6A 07 00',
    decodedData: { temp_dry_c: 25.14, temp_wet_c: 19.3, fault: 0 },
    ...extra,
  };
}

export function reading(streamId: string, time: number, sensor: string, value: number): ReadingRow {
  return { streamId, time, sensor, value, location: 'Flower Room', cluster: 'front' };
}

/** A deterministic, non-monotonic series: one reading every `stepMs`. */
export function series(sensor: string, from: number, n: number, stepMs: number, prefix = sensor): ReadingRow[] {
  return Array.from({ length: n }, (_, i) =>
    reading(
      `${prefix}-${i}`,
      from + i * stepMs,
      sensor,
      Math.round((20 + 5 * Math.sin(i / 17) + (i % 7) * 0.3) * 1000) / 1000,
    ),
  );
}

/** Brute-force expectation: aggregates of the readings in [from, to) per epoch-aligned bucket. */
export function expected(rows: ReadingRow[], from: number, to: number, width: number) {
  const m = new Map<number, { t: number; min: number; max: number; sum: number; count: number }>();
  for (const r of rows) {
    if (r.time < from || r.time >= to) continue;
    const t = Math.floor(r.time / width) * width;
    const b = m.get(t) ?? { t, min: Infinity, max: -Infinity, sum: 0, count: 0 };
    b.min = Math.min(b.min, r.value);
    b.max = Math.max(b.max, r.value);
    b.sum += r.value;
    b.count++;
    m.set(t, b);
  }
  return [...m.values()]
    .sort((a, b) => a.t - b.t)
    .map((b) => ({ t: b.t, min: b.min, max: b.max, avg: b.sum / b.count, count: b.count }));
}

function expectSameHistory(
  actual: { t: number; min: number; max: number; avg: number; count: number }[],
  exp: ReturnType<typeof expected>,
) {
  expect(actual.map((p) => p.t)).toEqual(exp.map((p) => p.t));
  actual.forEach((p, i) => {
    const e = exp[i]!;
    expect(p.count).toBe(e.count);
    expect(p.min).toBeCloseTo(e.min, 9);
    expect(p.max).toBeCloseTo(e.max, 9);
    expect(p.avg).toBeCloseTo(e.avg, 9);
  });
}

async function writeChunked(store: Store, readings: ReadingRow[], size = 5_000): Promise<void> {
  for (let i = 0; i < readings.length; i += size) {
    await store.writeBatch({ messages: [], readings: readings.slice(i, i + size) });
  }
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(StoreError);
  expect((err as StoreError).code).toBe(code);
}

/** Registers the contract tests; `open` gives a fresh, empty store each call. */
export function storeContract(name: string, open: OpenFn, kind: Store['kind']): void {
  describe(`${name}: Store contract`, () => {
    it('opens with the expected kind, migrates idempotently and answers ping', async () => {
      const s = await open();
      try {
        expect(s.kind).toBe(kind);
        await s.migrate();
        await s.migrate();
        await s.ping();
        expect(await s.countMessages()).toBe(0);
        expect(await s.countReadings()).toBe(0);
      } finally {
        await s.close();
      }
    });

    it('writes a batch once: the same batch again is skipped as duplicates', async () => {
      const s = await open();
      try {
        const messages = [
          msg('1-0', T0),
          msg('1-1', T0 + 1000, { decodedData: null, messageType: 'UNKNOWN', nodeId: null }),
        ];
        const readings = [
          reading('1-0', T0, 'dry_bulb_f', 25.14),
          reading('1-0', T0, 'wet_bulb_f', 19.3),
          reading('1-1', T0 + 1000, 'dry_bulb_f', 25.2),
        ];
        expect(await s.writeBatch({ messages, readings })).toEqual({ stored: 2, duplicates: 0 });
        expect(await s.writeBatch({ messages, readings })).toEqual({ stored: 0, duplicates: 2 });
        // a batch mixing one old and one new entry stores only the new one
        const more = {
          messages: [messages[0]!, msg('2-0', T0 + 2000)],
          readings: [reading('2-0', T0 + 2000, 'dry_bulb_f', 25.3)],
        };
        expect(await s.writeBatch(more)).toEqual({ stored: 1, duplicates: 1 });
        // the same entry twice inside one batch is stored once
        const twice = {
          messages: [msg('3-0', T0 + 3000), msg('3-0', T0 + 3000)],
          readings: [reading('3-0', T0 + 3000, 'co2_f', 800), reading('3-0', T0 + 3000, 'co2_f', 800)],
        };
        expect(await s.writeBatch(twice)).toEqual({ stored: 1, duplicates: 0 });
        expect(await s.countMessages()).toBe(4);
        expect(await s.countReadings()).toBe(5);
        const latest = await s.latestReadings();
        expect(latest.map((l) => [l.sensor, l.time, l.value])).toEqual([
          ['co2_f', T0 + 3000, 800],
          ['dry_bulb_f', T0 + 2000, 25.3],
          ['wet_bulb_f', T0, 19.3],
        ]);
        expect((await s.latestReadings(['co2_f'])).map((l) => l.sensor)).toEqual(['co2_f']);
      } finally {
        await s.close();
      }
    });

    it('rejects a malformed batch with STORE_INVALID and writes nothing of it', async () => {
      const s = await open();
      try {
        const good = reading('9-0', T0, 'dry_bulb_f', 20);
        await rejectsWith(
          s.writeBatch({ messages: [msg('9-0', T0)], readings: [good, { ...good, value: NaN }] }),
          'STORE_INVALID',
        );
        await rejectsWith(s.writeBatch({ messages: [{ ...msg('9-1', T0), dlc: 99 }], readings: [] }), 'STORE_INVALID');
        await rejectsWith(s.history({ sensor: 'x', from: 10, to: 5, points: 10 }), 'STORE_INVALID');
        expect(await s.countMessages()).toBe(0);
        expect(await s.countReadings()).toBe(0);
        // the entry was not claimed: it can still be stored
        expect(await s.writeBatch({ messages: [msg('9-0', T0)], readings: [good] })).toEqual({
          stored: 1,
          duplicates: 0,
        });
      } finally {
        await s.close();
      }
    });

    it('history: exact min/max/avg per bucket over raw rows, 1-minute and 1-hour rollups', async () => {
      const s = await open();
      try {
        const rows = series('dry_bulb_f', T0, 3 * 8640, 10_000); // 3 days, one reading per 10 s
        const other = series('co2_f', T0, 500, 10_000).map((r) => ({ ...r, value: r.value * 40 }));
        await writeChunked(s, [...rows, ...other]);
        const cases = [
          { from: T0 + 1_234, to: T0 + 20 * 60_000 + 5_000, points: 100 }, // 15 s buckets: raw rows
          { from: T0 + 37_000, to: T0 + 6 * 3_600_000 + 13_000, points: 400 }, // 1 min: minute rollups + raw edges
          { from: T0 + 90 * 60_000 + 1, to: T0 + 3 * 86_400_000 - 7, points: 48 }, // 2 h: hour rollups + raw edges
          { from: T0 - 86_400_000, to: T0 + 4 * 86_400_000, points: 5 }, // 1 day
        ];
        for (const c of cases) {
          const width = chooseWidth(c.from, c.to, c.points);
          const got = await s.history({ sensor: 'dry_bulb_f', ...c });
          expect(got.length).toBeLessThanOrEqual(c.points);
          expectSameHistory(got, expected(rows, c.from, c.to, width));
        }
        expect(await s.history({ sensor: 'nope', from: T0, to: T0 + 1000, points: 10 })).toEqual([]);
      } finally {
        await s.close();
      }
    });

    it('exportReadings streams the chosen sensors in time order', async () => {
      const s = await open();
      try {
        const a = series('dry_bulb_f', T0, 3_000, 1_000);
        const b = series('rh_f', T0 + 500, 3_000, 1_000);
        const c = series('co2_f', T0, 3_000, 1_000);
        await writeChunked(s, [...a, ...b, ...c], 2_000);
        const from = T0 + 10_000;
        const to = T0 + 2_500_000;
        const out: { time: number; sensor: string; value: number }[] = [];
        for await (const r of s.exportReadings({ sensors: ['rh_f', 'dry_bulb_f'], from, to })) out.push(r);
        const want = [...a, ...b].filter((r) => r.time >= from && r.time < to).sort((x, y) => x.time - y.time);
        expect(out.length).toBe(want.length);
        expect(out.map((r) => [r.time, r.sensor, r.value])).toEqual(want.map((r) => [r.time, r.sensor, r.value]));
        expect(new Set(out.map((r) => r.sensor))).toEqual(new Set(['rh_f', 'dry_bulb_f']));
        // stopping early releases the cursor; the store keeps working
        for await (const _ of s.exportReadings({ sensors: ['co2_f'], from: T0, to: T0 + 3_000_000 })) break;
        expect(await s.countReadings()).toBe(9_000);
      } finally {
        await s.close();
      }
    });

    it('keeps device states with their control history, setpoints, schedules, rules and alerts', async () => {
      const s = await open();
      try {
        await s.setDeviceState({
          device: 'heater_1',
          state: 1,
          mode: 'auto',
          location: 'Flower Room',
          cluster: 'front',
          by: 'automation',
          reason: 'dry_bulb_f < 20',
          source: 'rule:heat',
          updatedAt: T0,
        });
        await s.setDeviceState({
          device: 'heater_1',
          state: 0,
          mode: 'manual',
          location: null,
          cluster: null,
          by: 'alice',
          updatedAt: T0 + 60_000,
        });
        const states = await s.getDeviceStates();
        expect(states).toEqual([
          {
            device: 'heater_1',
            state: 0,
            mode: 'manual',
            location: 'Flower Room',
            cluster: 'front',
            updatedAt: T0 + 60_000,
            by: 'alice',
          },
        ]);
        const hist = await s.controlHistory({ device: 'heater_1' });
        expect(hist.map((h) => [h.time, h.fromState, h.toState, h.fromMode, h.toMode, h.by])).toEqual([
          [T0 + 60_000, 1, 0, 'auto', 'manual', 'alice'],
          [T0, null, 1, null, 'auto', 'automation'],
        ]);
        expect(hist[1]!.reason).toBe('dry_bulb_f < 20');
        expect(await s.controlHistory({ device: 'other' })).toEqual([]);
        expect((await s.controlHistory({ from: T0 + 1, limit: 5 })).length).toBe(1);

        await s.setSetpoint({ name: 'day_temp_c', value: 25.5, by: 'alice', updatedAt: T0 });
        await s.setSetpoint({ name: 'day_temp_c', value: 26, by: 'bob', updatedAt: T0 + 1 });
        expect(await s.getSetpoints()).toEqual([{ name: 'day_temp_c', value: 26, updatedAt: T0 + 1, by: 'bob' }]);

        await s.putConfig('rules', {
          id: 'heat',
          config: { sensor: 'dry_bulb_f', below: 20, device: 'heater_1' },
          enabled: true,
          by: 'alice',
        });
        await s.putConfig('schedules', {
          id: 'lights',
          config: { on: '06:00', off: '00:00', nested: { a: [1, 2] } },
          enabled: false,
          by: null,
          updatedAt: T0,
        });
        expect((await s.listConfigs('rules')).map((r) => [r.id, r.config, r.enabled])).toEqual([
          ['heat', { sensor: 'dry_bulb_f', below: 20, device: 'heater_1' }, true],
        ]);
        expect(await s.listConfigs('schedules')).toEqual([
          {
            id: 'lights',
            config: { on: '06:00', off: '00:00', nested: { a: [1, 2] } },
            enabled: false,
            updatedAt: T0,
            by: null,
          },
        ]);
        expect(await s.deleteConfig('rules', 'heat')).toBe(true);
        expect(await s.deleteConfig('rules', 'heat')).toBe(false);
        await rejectsWith(s.listConfigs('bogus' as 'rules'), 'STORE_INVALID');

        const a1 = await s.openAlert({
          rule: 'co2_high',
          sensor: 'co2_f',
          severity: 'warning',
          message: 'CO2 above 1500 ppm',
          startedAt: T0,
        });
        const a2 = await s.openAlert({ rule: 'stale', sensor: null, severity: 'critical', message: 'no data' });
        expect(a1).toMatchObject({ rule: 'co2_high', state: 'active', startedAt: T0, resolvedAt: null });
        const r1 = await s.resolveAlert(a1.id, T0 + 5_000);
        expect(r1).toMatchObject({ id: a1.id, state: 'resolved', resolvedAt: T0 + 5_000 });
        expect(await s.resolveAlert(a1.id)).toBeNull();
        expect((await s.listAlerts({ state: 'active' })).map((a) => a.id)).toEqual([a2.id]);
        expect((await s.listAlerts()).length).toBe(2);
      } finally {
        await s.close();
      }
    });

    it('sweep applies per-table retention and keeps everything by default', async () => {
      const now = T0 + 10 * 86_400_000;
      const day = 86_400_000;
      const rows = [
        reading('r-0', now - 5 * day, 's', 1),
        reading('r-1', now - 1 * day, 's', 2),
        reading('r-2', now - 1000, 's', 3),
      ];
      const keep = await open();
      try {
        await keep.writeBatch({ messages: [msg('r-0', now - 5 * day), msg('r-2', now - 1000)], readings: rows });
        await keep.sweep(now);
        expect(await keep.countReadings()).toBe(3);
        expect(await keep.countMessages()).toBe(2);
      } finally {
        await keep.close();
      }
      const s = await open({ retention: { sensor_readings: 2 * day, can_messages: 2 * day }, sweepIntervalMs: 0 });
      try {
        await s.writeBatch({ messages: [msg('r-0', now - 5 * day), msg('r-2', now - 1000)], readings: rows });
        const swept = await s.sweep(now);
        expect(swept.sensor_readings).toBe(1);
        expect(swept.can_messages).toBe(1);
        expect(await s.countReadings()).toBe(2);
        expect(await s.countMessages()).toBe(1);
        // the idempotency keys outlive the data: the old entry is still a duplicate
        expect(await s.writeBatch({ messages: [msg('r-0', now - 5 * day)], readings: [] })).toEqual({
          stored: 0,
          duplicates: 1,
        });
      } finally {
        await s.close();
      }
    });

    it('rejects calls after close() with STORE_CLOSED', async () => {
      const s = await open();
      await s.close();
      await s.close();
      await rejectsWith(s.countReadings(), 'STORE_CLOSED');
      await rejectsWith(s.writeBatch({ messages: [msg('c-0', T0)], readings: [] }), 'STORE_CLOSED');
    });

    it('keeps journal notes per room, newest first, filtered by room and time, and refuses bad ones', async () => {
      const s = await open();
      try {
        const a = await s.addJournalEntry({ location: 'Flower Room', text: 'defoliated', by: 'grower', time: T0 });
        expect(a).toEqual({
          id: a.id,
          time: T0,
          location: 'Flower Room',
          cluster: null,
          text: 'defoliated',
          by: 'grower',
        });
        await s.addJournalEntry({
          location: 'Flower Room',
          cluster: 'front',
          text: '  flushed the front bench  ',
          by: 'grower',
          time: T0 + 60_000,
        });
        await s.addJournalEntry({ location: 'Veg Room', text: 'transplanted', by: 'helper', time: T0 + 30_000 });
        const flower = await s.listJournal({ location: 'Flower Room' });
        expect(flower.map((e) => [e.text, e.cluster])).toEqual([
          ['flushed the front bench', 'front'],
          ['defoliated', null],
        ]);
        expect((await s.listJournal({ from: T0 + 1, to: T0 + 30_000 })).map((e) => e.text)).toEqual(['transplanted']);
        expect((await s.listJournal({ limit: 1 })).map((e) => e.text)).toEqual(['flushed the front bench']);
        await rejectsWith(s.addJournalEntry({ location: 'Flower Room', text: '   ', by: 'grower' }), 'STORE_INVALID');
        await rejectsWith(
          s.addJournalEntry({ location: 'Flower Room', text: 'x'.repeat(2001), by: 'grower' }),
          'STORE_INVALID',
        );
        await rejectsWith(s.listJournal({ limit: 0 }), 'STORE_INVALID');
        expect(await s.listJournal()).toHaveLength(3);
      } finally {
        await s.close();
      }
    });
  });
}
