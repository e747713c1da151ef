import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { openStore, StoreError, type Store } from '../../src/store/index.js';
import { startPostgres, type TestPostgres } from '../support/postgres.js';
import { msg, reading, storeContract } from './contract.js';

let server: TestPostgres;
beforeAll(async () => {
  server = await startPostgres();
});

storeContract('PostgreSQL', async (opts) => openStore(await server.createDatabase(), opts), 'postgres');
storeContract(
  'PostgreSQL (COPY ingest)',
  async (opts) => openStore(await server.createDatabase(), { ingest: 'copy', ...opts }),
  'postgres',
);

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<T>(sql)).rows;
  } finally {
    await c.end();
  }
}

describe('PostgreSQL specifics', () => {
  it('a database of schema version 2 gains the journal table when opened', async () => {
    const url = await server.createDatabase();
    await (await openStore(url)).close();
    await query(url, 'DROP TABLE journal');
    await query(url, 'DELETE FROM schema_migrations WHERE version = 3');
    const s = await openStore(url);
    try {
      await s.addJournalEntry({ location: 'Veg Room', text: 'topped', by: 'grower', time: 1000 });
      expect((await s.listJournal({ location: 'Veg Room', from: 0, to: 2000 })).map((e) => e.time)).toEqual([1000]);
    } finally {
      await s.close();
    }
  });

  it("creates the seed's can_messages (TIMESTAMPTZ, JSONB, BIGSERIAL, four indexes) and records the migration", async () => {
    const url = await server.createDatabase();
    const s = await openStore(url, { timescale: 'off' });
    await s.writeBatch({
      messages: [msg('1-0', 1_734_001_123_123)],
      readings: [reading('1-0', 1_734_001_123_123, 'dry_bulb_f', 25.14)],
    });
    await s.close();
    const cols = await query<{ column_name: string; data_type: string }>(
      url,
      "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'can_messages' ORDER BY ordinal_position",
    );
    expect(cols.map((c) => `${c.column_name} ${c.data_type}`)).toEqual([
      'id bigint',
      'timestamp timestamp with time zone',
      'can_id integer',
      'node_id integer',
      'message_type text',
      'dlc integer',
      'raw_data text',
      'decoded_data jsonb',
      'created_at timestamp with time zone',
    ]);
    const idx = await query<{ indexname: string }>(
      url,
      "SELECT indexname FROM pg_indexes WHERE tablename = 'can_messages' ORDER BY 1",
    );
    expect(idx.map((i) => i.indexname)).toEqual([
      'idx_can_messages_can_id',
      'idx_can_messages_message_type',
      'idx_can_messages_node_id',
      'idx_can_messages_timestamp',
    ]);
    const rows = await query<Record<string, unknown>>(
      url,
      "SELECT extract(epoch from timestamp)::float8 AS ts, decoded_data->>'temp_dry_c' AS dry FROM can_messages",
    );
    expect(rows).toEqual([{ ts: 1_734_001_123.123, dry: '25.14' }]);
    expect(await query(url, 'SELECT version, name FROM schema_migrations ORDER BY version')).toEqual([
      { version: 1, name: 'initial schema' },
      { version: 2, name: 'rollup tables on plain PostgreSQL' },
      { version: 3, name: 'journal' },
    ]);
  });

  it('plain PostgreSQL keeps 1-minute and 1-hour rollup tables, not double-counting duplicate batches', async () => {
    const url = await server.createDatabase();
    const store = await openStore(url);
    const t0 = Date.UTC(2025, 0, 1, 10, 0, 0);
    const batch = {
      messages: [msg('1-0', t0), msg('2-0', t0 + 30_000), msg('3-0', t0 + 90_000)],
      readings: [
        reading('1-0', t0, 'dry_bulb_f', 20),
        reading('2-0', t0 + 30_000, 'dry_bulb_f', 24),
        reading('3-0', t0 + 90_000, 'dry_bulb_f', 22),
      ],
    };
    await store.writeBatch(batch);
    expect(await store.writeBatch(batch)).toEqual({ stored: 0, duplicates: 3 });
    type Row = { b: number; min_value: number; max_value: number; sum_value: number; n_values: string };
    const m = await query<Row>(
      url,
      'SELECT extract(epoch from bucket)::float8 * 1000 AS b, min_value, max_value, sum_value, n_values FROM readings_1m ORDER BY bucket',
    );
    expect(m).toEqual([
      { b: t0, min_value: 20, max_value: 24, sum_value: 44, n_values: '2' },
      { b: t0 + 60_000, min_value: 22, max_value: 22, sum_value: 22, n_values: '1' },
    ]);
    const h = await query<Row>(url, 'SELECT min_value, max_value, sum_value, n_values FROM readings_1h');
    expect(h).toEqual([{ min_value: 20, max_value: 24, sum_value: 66, n_values: '3' }]);
    await store.close();
  });

  it('two stores writing the same entries concurrently store each entry once', async () => {
    const url = await server.createDatabase();
    const a = await openStore(url);
    const b = await openStore(url);
    try {
      const batch = (i: number) => ({
        messages: [msg(`c-${i}`, 1000 + i)],
        readings: [reading(`c-${i}`, 1000 + i, 's', i)],
      });
      const results = await Promise.all(
        Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).writeBatch(batch(Math.floor(i / 2)))),
      );
      expect(results.reduce((n, r) => n + r.stored, 0)).toBe(20);
      expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(20);
      expect(await a.countMessages()).toBe(20);
      expect(await a.countReadings()).toBe(20);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('store down: calls reject quickly with STORE_UNAVAILABLE, then recover when PostgreSQL returns', async () => {
    const url = await server.createDatabase();
    const s: Store = await openStore(url, { connectTimeoutMs: 2_000 });
    try {
      await s.writeBatch({ messages: [msg('d-0', 1000)], readings: [] });
      await server.stop();
      for (const call of [
        () => s.ping(),
        () => s.writeBatch({ messages: [msg('d-1', 2000)], readings: [] }),
        () => s.countMessages(),
      ]) {
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(StoreError);
        expect((err as StoreError).code).toBe('STORE_UNAVAILABLE');
      }
      await server.restart();
      await s.ping();
      expect(await s.writeBatch({ messages: [msg('d-1', 2000)], readings: [] })).toEqual({ stored: 1, duplicates: 0 });
      expect(await s.countMessages()).toBe(2);
    } finally {
      await s.close();
    }
  });

  it('a server that cannot be reached fails openStore with STORE_UNAVAILABLE', async () => {
    const url = (await server.createDatabase()).replace(`:${server.port}/`, ':1/');
    const err = await openStore(url, { connectTimeoutMs: 1_000 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('STORE_UNAVAILABLE');
  });

  it("timescale: 'on' without the extension is a STORE_CONFIG error", async () => {
    const err = await openStore(await server.createDatabase(), { timescale: 'on' }).catch((e: unknown) => e);
    expect((err as StoreError).code).toBe('STORE_CONFIG');
  });
});
