import { describe, expect, it } from 'vitest';
import { openStore, type Store, type StoreOptions } from '../../src/store/index.js';
import { chooseWidth } from '../../src/store/buckets.js';
import { startTimescale, type TestTimescale } from '../support/timescale.js';
import { expected, series, storeContract } from './contract.js';

/** A fresh PGlite+TimescaleDB per store (it holds one database); closing the store stops it. */
async function openOnFreshTimescale(opts: Partial<StoreOptions> = {}): Promise<{ store: Store; ts: TestTimescale }> {
  const ts = await startTimescale();
  const store = await openStore(ts.url, { poolSize: 1, ...opts });
  const close = store.close.bind(store);
  store.close = async () => {
    await close();
    await ts.stop();
  };
  return { store, ts };
}

storeContract('TimescaleDB (PGlite)', async (opts) => (await openOnFreshTimescale(opts)).store, 'timescaledb');

describe('TimescaleDB specifics', () => {
  it('creates hypertables, compression and continuous aggregates; history is exact materialized and compressed', async () => {
    const { store, ts } = await openOnFreshTimescale();
    try {
      const T0 = Date.UTC(2025, 0, 6);
      const rows = series('rh_f', T0, 2 * 8640, 10_000); // 2 days
      for (let i = 0; i < rows.length; i += 5_000)
        await store.writeBatch({ messages: [], readings: rows.slice(i, i + 5_000) });
      {
        const hyper = await ts.query('SELECT hypertable_name FROM timescaledb_information.hypertables ORDER BY 1');
        expect(hyper.map((r) => r.hypertable_name)).toEqual(['can_messages', 'sensor_readings']);
        const caggs = await ts.query(
          'SELECT view_name, materialized_only FROM timescaledb_information.continuous_aggregates ORDER BY 1',
        );
        expect(caggs).toEqual([
          { view_name: 'readings_1h', materialized_only: false },
          { view_name: 'readings_1m', materialized_only: false },
        ]);
        const jobs = await ts.query(
          "SELECT proc_name, hypertable_name FROM timescaledb_information.jobs WHERE proc_name IN ('policy_compression', 'policy_refresh_continuous_aggregate') ORDER BY 1, 2",
        );
        expect(jobs.map((j) => j.proc_name)).toEqual([
          'policy_compression',
          'policy_compression',
          'policy_refresh_continuous_aggregate',
          'policy_refresh_continuous_aggregate',
        ]);
        const idx = await ts.query(
          "SELECT indexname FROM pg_indexes WHERE tablename = 'can_messages' AND schemaname = 'public' ORDER BY 1",
        );
        expect(idx.map((i) => i.indexname)).toEqual([
          'idx_can_messages_can_id',
          'idx_can_messages_message_type',
          'idx_can_messages_node_id',
          'idx_can_messages_timestamp',
        ]);
      }
      const cases = [
        { from: T0 + 37_000, to: T0 + 6 * 3_600_000 + 13_000, points: 400 },
        { from: T0 + 90 * 60_000 + 1, to: T0 + 2 * 86_400_000 - 7, points: 30 },
      ];
      const check = async () => {
        for (const q of cases) {
          const got = await store.history({ sensor: 'rh_f', ...q });
          const want = expected(rows, q.from, q.to, chooseWidth(q.from, q.to, q.points));
          expect(got.map((p) => [p.t, p.count, p.min, p.max])).toEqual(want.map((p) => [p.t, p.count, p.min, p.max]));
          got.forEach((p, i) => expect(p.avg).toBeCloseTo(want[i]!.avg, 9));
        }
      };
      await check(); // real-time aggregation (nothing materialized yet)
      {
        await ts.query("CALL refresh_continuous_aggregate('readings_1m', NULL, NULL)");
        await ts.query("CALL refresh_continuous_aggregate('readings_1h', NULL, NULL)");
        const n = await ts.query('SELECT count(*)::int AS n FROM _timescaledb_catalog.continuous_aggs_watermark');
        expect(n[0]!.n).toBe(2);
      }
      await check(); // materialized
      {
        const done = await ts.query("SELECT compress_chunk(ch) FROM show_chunks('sensor_readings') ch");
        expect(done.length).toBeGreaterThan(0);
      }
      await check(); // over compressed chunks
      let n = 0;
      for await (const r of store.exportReadings({ sensors: ['rh_f'], from: T0, to: T0 + 86_400_000 })) {
        expect(r.time).toBe(rows[n]!.time);
        n++;
      }
      expect(n).toBe(8640);
    } finally {
      await store.close();
    }
  });
});
