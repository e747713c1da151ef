import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type ReadingRow, type Store, type StoreOptions } from '../../../src/store/index.js';
import { startPostgres, type TestPostgres } from '../../support/postgres.js';
import { startTimescale } from '../../support/timescale.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { getJson, startApi } from './helpers.js';

const T0 = Date.UTC(2024, 0, 15, 0, 0, 0);
const N = 7200; // two hours at 1 Hz

/** Second i of the series: minute k holds 100k … 100k+59, so every bucket's min/max/avg is known. */
const value = (i: number) => Math.floor(i / 60) * 100 + (i % 60);

function rows(
  sensor: string,
  n: number,
  v: (i: number) => number,
  location = 'Flower Room',
  cluster = 'front',
): ReadingRow[] {
  return Array.from({ length: n }, (_, i) => ({
    streamId: `${T0 + i * 1000}-${sensor}`,
    time: T0 + i * 1000,
    sensor,
    value: v(i),
    location,
    cluster,
  }));
}

async function fill(store: Store): Promise<void> {
  const all = [...rows('dry_bulb_f', N, value), ...rows('rh_f', N, () => 999)];
  for (let i = 0; i < all.length; i += 2000) await store.writeBatch({ messages: [], readings: all.slice(i, i + 2000) });
}

interface Bucket {
  t: number;
  min: number;
  max: number;
  avg: number;
  count: number;
}

/**
 * `canDie`: a server the test can kill and restart (the store-down test exists only for those).
 * `shared`: the API is given the test's store (PGlite serves one session at a time).
 */
type Backend = {
  name: string;
  kind: Store['kind'];
  canDie: boolean;
  shared: boolean;
  open: () => Promise<{ url: string; pg?: TestPostgres; options?: Partial<StoreOptions> }>;
};

const BACKENDS: Backend[] = [
  {
    name: 'SQLite',
    kind: 'sqlite',
    canDie: false,
    shared: false,
    open: async () => ({ url: `sqlite:${path.join(tempDir(), 'canopy.db')}` }),
  },
  {
    name: 'PostgreSQL',
    kind: 'postgres',
    canDie: true,
    shared: false,
    open: async () => {
      const pg = await startPostgres();
      return { url: await pg.createDatabase(), pg };
    },
  },
  {
    name: 'TimescaleDB (PGlite)',
    kind: 'timescaledb',
    canDie: false,
    shared: true,
    open: async () => ({ url: (await startTimescale()).url, options: { poolSize: 1 } }),
  },
];

describe.each(BACKENDS)('history and export through HTTP on $name', (backend) => {
  let redis: TestRedis;
  let writer: Store;
  let api: Awaited<ReturnType<typeof startApi>>['api'];
  let pg: TestPostgres | undefined;

  beforeAll(async () => {
    const db = await backend.open();
    pg = db.pg;
    writer = await openStore(db.url, db.options);
    expect(writer.kind).toBe(backend.kind);
    await fill(writer);
    redis = await startRedis();
    ({ api } = await startApi(backend.shared ? { store: writer } : { databaseUrl: db.url }, redis));
  });

  afterAll(async () => {
    await writer?.close();
  });

  const history = (q: string) => getJson(api, `/api/sensors/dry_bulb_f/history?${q}`);

  it('minute buckets: the right min, max, avg and count for each', async () => {
    const { status, body } = await history(`from=${T0}&to=${T0 + N * 1000}&points=120`);
    expect(status).toBe(200);
    expect(body).toMatchObject({ sensor: 'dry_bulb_f', unit: '°C', from: T0, to: T0 + N * 1000, points: 120 });
    const buckets = body.buckets as Bucket[];
    expect(buckets).toHaveLength(120);
    buckets.forEach((b, k) => {
      expect(b.t).toBe(T0 + k * 60_000);
      expect(b.min).toBe(100 * k);
      expect(b.max).toBe(100 * k + 59);
      expect(b.avg).toBeCloseTo(100 * k + 29.5, 9);
      expect(b.count).toBe(60);
    });
  });

  it('hour buckets (ISO times): aggregates over 3,600 readings each', async () => {
    const from = new Date(T0).toISOString();
    const to = new Date(T0 + N * 1000).toISOString();
    const { status, body } = await history(`from=${from}&to=${to}&points=2`);
    expect(status).toBe(200);
    const buckets = body.buckets as Bucket[];
    expect(buckets.map((b) => b.t)).toEqual([T0, T0 + 3600_000]);
    buckets.forEach((b, h) => {
      expect(b.min).toBe(6000 * h);
      expect(b.max).toBe(6000 * h + 5959);
      expect(b.avg).toBeCloseTo(6000 * h + 2979.5, 9);
      expect(b.count).toBe(3600);
    });
  });

  it('never more buckets than asked, only the asked sensor, nothing outside the range', async () => {
    const some = await history(`from=${T0 + 30_000}&to=${T0 + 3 * 3600_000}&points=7`);
    const buckets = some.body.buckets as Bucket[];
    expect(buckets.length).toBeLessThanOrEqual(7);
    expect(buckets.reduce((n, b) => n + b.count, 0)).toBe(N - 30);
    expect(Math.max(...buckets.map((b) => b.max))).toBe(value(N - 1));
    // default range (the last 24 h) holds nothing of 2024
    expect((await history('')).body.buckets).toEqual([]);
  });

  it('exports raw readings as CSV and JSON, streamed', async () => {
    const res = await fetch(`${api.url}/api/export?sensors=dry_bulb_f,rh_f&from=${T0}&to=${T0 + 60_000}&format=csv`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/text\/csv/);
    expect(res.headers.get('content-disposition')).toMatch(/attachment; filename="canopy-export_.*\.csv"/);
    const lines = (await res.text()).trimEnd().split('\n');
    expect(lines[0]).toBe('time,sensor,value,location,cluster');
    expect(lines).toHaveLength(1 + 120);
    expect(lines).toContain(`${new Date(T0).toISOString()},dry_bulb_f,0,Flower Room,front`);
    expect(lines).toContain(`${new Date(T0 + 59_000).toISOString()},rh_f,999,Flower Room,front`);
    const times = lines.slice(1).map((l) => Date.parse(l.split(',')[0]!));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const json = await fetch(`${api.url}/api/export?sensors=dry_bulb_f&from=${T0}&to=${T0 + N * 1000}&format=json`);
    expect(json.headers.get('content-type')).toMatch(/application\/json/);
    const arr = (await json.json()) as Array<{ time: string; sensor: string; value: number }>;
    expect(arr).toHaveLength(N);
    expect(arr[N - 1]).toEqual({
      time: new Date(T0 + (N - 1) * 1000).toISOString(),
      sensor: 'dry_bulb_f',
      value: value(N - 1),
      location: 'Flower Room',
      cluster: 'front',
    });
    const empty = await fetch(`${api.url}/api/export?sensors=co2_v&from=${T0}&to=${T0 + 1000}&format=json`);
    expect(await empty.json()).toEqual([]);
  });

  it('/health is 200 with Redis and the store up, and lists the api heartbeat', async () => {
    const { status, body } = await getJson(api, '/health');
    expect(status).toBe(200);
    expect(body.status).toBe('ok');
    expect((body.store as { status: string }).status).toBe('up');
    expect((body.services as Array<{ service: string }>).map((s) => s.service)).toContain('api');
  });

  if (backend.canDie)
    it('store down: history, export and /health answer 503; live keeps working', async () => {
      await pg!.kill();
      const h = await history(`from=${T0}&to=${T0 + 1000}`);
      expect(h.status).toBe(503);
      expect(h.body.code).toBe('API_STORE_DOWN');
      const e = await getJson(api, `/api/export?sensors=dry_bulb_f&from=${T0}&to=${T0 + 1000}`);
      expect(e.status).toBe(503);
      const health = await getJson(api, '/health');
      expect(health.status).toBe(503);
      expect(health.body.store).toMatchObject({ status: 'down' });
      expect(health.body.redis).toMatchObject({ status: 'up' });
      expect((await getJson(api, '/api/sensors/live')).status).toBe(200);
      await pg!.restart();
      let again = await history(`from=${T0}&to=${T0 + 60_000}&points=1`);
      for (let i = 0; i < 50 && again.status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 200));
        again = await history(`from=${T0}&to=${T0 + 60_000}&points=1`);
      }
      expect(again.status).toBe(200);
      expect((again.body.buckets as Bucket[])[0]).toMatchObject({ min: 0, max: 59, count: 60 });
    });
});

describe('export streams with backpressure (SQLite)', () => {
  it('reads the store only as fast as the client takes the bytes, and finishes when it does', async () => {
    const url = `sqlite:${path.join(tempDir(), 'big.db')}`;
    const writer = await openStore(url);
    const total = 300_000;
    for (let i = 0; i < total; i += 10_000) {
      await writer.writeBatch({
        messages: [],
        readings: rows('co2_f', 10_000, (j) => 400 + ((i + j) % 600)).map((r, j) => ({
          ...r,
          streamId: `${i + j}-big`,
          time: T0 + (i + j) * 1000,
        })),
      });
    }
    const real = await openStore(url);
    let pulled = 0;
    const counting = {
      history: real.history.bind(real),
      ping: real.ping.bind(real),
      close: real.close.bind(real),
      async *exportReadings(q: { sensors: string[]; from: number; to: number }) {
        for await (const r of real.exportReadings(q)) {
          pulled++;
          yield r;
        }
      },
    };
    const { api } = await startApi({ store: counting });
    const res = await fetch(`${api.url}/api/export?sensors=co2_f&from=${T0}&to=${T0 + total * 1000}&format=csv`);
    const reader = res.body!.getReader();
    await reader.read(); // the first chunk: the stream is flowing
    // the client stops reading: the server stops pulling rows once the socket buffers are full
    let before = -1;
    while (before !== pulled) {
      before = pulled;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(pulled).toBeLessThan(total);
    let bytes = 0;
    for (let r = await reader.read(); !r.done; r = await reader.read()) bytes += r.value.length;
    expect(pulled).toBe(total);
    expect(bytes).toBeGreaterThan(total * 30);
    await real.close();
    await writer.close();
  });
});
