import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type ReadingRow, type Store, type StoreOptions } from '../../../src/store/index.js';
import { startPostgres, type TestPostgres } from '../../support/postgres.js';
import { startTimescale } from '../../support/timescale.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { bearer, getJson, startApi } from './helpers.js';

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
    expect(body).toMatchObject({
      sensor: 'dry_bulb_f',
      unit: '°C',
      from: T0,
      to: T0 + N * 1000,
      points: 120,
      bucketMs: 60_000,
    });
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
    const res = await fetch(`${api.url}/api/export?sensors=dry_bulb_f,rh_f&from=${T0}&to=${T0 + 60_000}&format=csv`, {
      headers: bearer(),
    });
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
    const json = await fetch(`${api.url}/api/export?sensors=dry_bulb_f&from=${T0}&to=${T0 + N * 1000}&format=json`, {
      headers: bearer(),
    });
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
    const empty = await fetch(`${api.url}/api/export?sensors=co2_v&from=${T0}&to=${T0 + 1000}&format=json`, {
      headers: bearer(),
    });
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

/** The SQLite store of `total` co2_f readings at 1 Hz from T0, and a wrapper counting the rows it hands out. */
async function bigStore(total: number) {
  const url = `sqlite:${path.join(tempDir(), 'big.db')}`;
  const writer = await openStore(url);
  for (let i = 0; i < total; i += 10_000) {
    await writer.writeBatch({
      messages: [],
      readings: rows('co2_f', Math.min(10_000, total - i), (j) => 400 + ((i + j) % 600)).map((r, j) => ({
        ...r,
        streamId: `${i + j}-big`,
        time: T0 + (i + j) * 1000,
      })),
    });
  }
  await writer.close();
  const real = await openStore(url);
  const seen = { rows: 0, pages: 0 };
  const counting = {
    history: real.history.bind(real),
    ping: real.ping.bind(real),
    close: real.close.bind(real),
    countExport: real.countExport.bind(real),
    async exportPage(q: Parameters<Store['exportPage']>[0]) {
      const page = await real.exportPage(q);
      seen.rows += page.length;
      seen.pages++;
      return page;
    },
  };
  return { real, counting, seen };
}

describe('export: paged, bounded, cut when the client stalls (SQLite)', () => {
  it('reads pages only as fast as the client takes the bytes, and finishes when it does', async () => {
    const total = 300_000;
    const { real, counting, seen } = await bigStore(total);
    const { api } = await startApi({ store: counting, exportPageRows: 2000 });
    const res = await fetch(`${api.url}/api/export?sensors=co2_f&from=${T0}&to=${T0 + total * 1000}&format=csv`, {
      headers: bearer(),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const dec = new TextDecoder();
    let text = dec.decode((await reader.read()).value, { stream: true }); // the first chunk: the stream is flowing
    // the client stops reading: the server stops reading pages once the socket buffers are full
    let before = -1;
    while (before !== seen.rows) {
      before = seen.rows;
      await new Promise((r) => setTimeout(r, 300));
    }
    expect(seen.rows).toBeLessThan(total);
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += dec.decode(r.value, { stream: true });
    expect(seen.rows).toBe(total);
    expect(seen.pages).toBeGreaterThanOrEqual(total / 2000);
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(1 + total);
    expect(lines[total]).toBe(
      `${new Date(T0 + (total - 1) * 1000).toISOString()},co2_f,${400 + ((total - 1) % 600)},Flower Room,front`,
    );
    await real.close();
  });

  it('pages through rows that share a time without losing or repeating one', async () => {
    const url = `sqlite:${path.join(tempDir(), 'ties.db')}`;
    const store = await openStore(url);
    // 5 times × 3 sensors, and 4 identical duplicates at one time
    const readings = [];
    for (let t = 0; t < 5; t++)
      for (const s of ['dry_bulb_f', 'rh_f', 'co2_f'])
        readings.push({ streamId: `${t}-${s}`, time: T0 + t, sensor: s, value: t, location: 'L', cluster: 'c' });
    for (let d = 0; d < 4; d++)
      readings.push({ streamId: `dup-${d}`, time: T0 + 2, sensor: 'rh_f', value: 7, location: 'L', cluster: 'c' });
    await store.writeBatch({ messages: [], readings });
    for (const pageRows of [1, 2, 4, 7]) {
      const { api } = await startApi({ store, exportPageRows: pageRows });
      const res = await fetch(
        `${api.url}/api/export?sensors=dry_bulb_f,rh_f,co2_f&from=${T0}&to=${T0 + 10}&format=json`,
        {
          headers: bearer(),
        },
      );
      const got = (await res.json()) as Array<{ time: string; sensor: string; value: number }>;
      expect(got).toHaveLength(readings.length);
      const key = (r: { time: string | number; sensor: string; value: number }) =>
        `${new Date(r.time).getTime()}|${r.sensor}|${r.value}`;
      expect(got.map(key).sort()).toEqual(readings.map(key).sort());
      const times = got.map((r) => Date.parse(r.time));
      expect([...times].sort((a, b) => a - b)).toEqual(times);
      await api.stop();
    }
    await store.close();
  });

  it('needs a viewer token, refuses more rows than the limit, caps concurrency, and cuts a stalled client', async () => {
    const total = 200_000;
    const { real, counting } = await bigStore(total);
    const { api } = await startApi({
      store: counting,
      exportMaxRows: 150_000,
      exportMaxConcurrent: 1,
      exportStallMs: 1500,
      exportPageRows: 1000,
    });
    const q = (to: number) => `${api.url}/api/export?sensors=co2_f&from=${T0}&to=${T0 + to * 1000}`;
    expect((await fetch(q(10))).status).toBe(401);
    const big = await fetch(q(total), { headers: bearer() });
    expect(big.status).toBe(400);
    expect(((await big.json()) as { code: string }).code).toBe('API_EXPORT_TOO_LARGE');
    // one export that never reads: the second is refused while it runs, then it is cut
    const stalled = await fetch(q(100_000), { headers: bearer() });
    expect(stalled.status).toBe(200);
    const busy = await fetch(q(10), { headers: bearer() });
    expect(busy.status).toBe(503);
    expect(((await busy.json()) as { code: string }).code).toBe('API_BUSY');
    // the server cuts it once it has taken nothing for exportStallMs; its body then fails
    const reader = stalled.body!.getReader();
    for (let i = 0; i < 300 && !(await api.ctx.metrics.refusals()).API_EXPORT_STALLED; i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    expect((await api.ctx.metrics.refusals()).API_EXPORT_STALLED).toBe(1);
    await expect(
      (async () => {
        for (let r = await reader.read(); !r.done; r = await reader.read());
      })(),
    ).rejects.toThrow();
    // the slot is free again
    let again = await fetch(q(10), { headers: bearer() });
    for (let i = 0; i < 50 && again.status === 503; i++) {
      await new Promise((r) => setTimeout(r, 100));
      again = await fetch(q(10), { headers: bearer() });
    }
    expect(again.status).toBe(200);
    expect((await again.text()).trimEnd().split('\n')).toHaveLength(11);
    await real.close();
  });
});
