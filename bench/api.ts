/**
 * `npm run bench -- api`: the API under load, against servers it starts itself.
 *  - GET /api/sensors/live at 200 concurrent connections (autocannon): p50, p99, req/s, and
 *    live_bare_req_per_s: a bare fastify route doing the same MGET and serialisation, loaded the same way
 *  - history of one sensor over 30 days of 1 Hz data (2.6M rows) → 1,000 points, per store
 *  - publish → every one of 1,000 WebSocket clients has the update: p50, p99, and
 *    ws_bare_fanout_p99_ms: a bare `ws` server broadcasting the same bytes to as many clients
 * Environment: BENCH_API_LIVE_SECONDS (10), BENCH_API_WS_CLIENTS (1000; the API's cap is raised to match), BENCH_API_WS_ROUNDS (100),
 * BENCH_API_HISTORY=0 skips the 30-day history fill and queries.
 * The API runs as its own process (`canopy api`), as in production.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createClient } from 'redis';
import WebSocket from 'ws';
import { freePort, waitForPort } from '../src/ops/ports.js';
import { spawnService } from './lib/spawn-service.js';
import { RedisProcess } from '../src/ops/redis-process.js';
import { openStore } from '../src/store/index.js';
import { startPostgres } from '../test/support/postgres.js';
import { forkBare } from './lib/fork-bare.js';
import { liveBound } from './lib/targets.js';
import { CAN_RAW, SENSOR_UPDATE } from '../src/contracts/names.js';

/** dist/bench → dist/src/cli/main.js */

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i] as number;
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export interface ApiProcess {
  url: string;
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

async function waitForKey(redisUrl: string, key: string): Promise<void> {
  const c = createClient({ url: redisUrl });
  await c.connect();
  try {
    for (let i = 0; i < 300; i++) {
      if ((await c.exists(key)) === 1) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${key} did not appear within 30 s`);
  } finally {
    await c.close();
  }
}

const spawnCli = (args: string[], env: NodeJS.ProcessEnv): ChildProcess =>
  spawnService(args, { env: { LOG_LEVEL: 'warn', ...env } });

/** Starts `canopy api` on a free port and waits until /health answers. */
export async function spawnApi(env: NodeJS.ProcessEnv): Promise<ApiProcess> {
  const port = await freePort();
  const child = spawnService(['api', '--port', String(port)], {
    env: {
      LOG_LEVEL: 'warn',
      CANOPY_API_WS_MAX_CLIENTS: String(WS_CLIENTS + 10),
      // autocannon ignores `Connection: close` and keeps sending on the socket (Node then answers 503);
      // the bare server has no such limit either
      CANOPY_API_MAX_REQUESTS_PER_SOCKET: '0',
      ...env,
    },
  });
  await waitForPort(port, '127.0.0.1', 120_000); // slow to start on a loaded machine
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    port,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

const LIVE_CONNECTIONS = 200;
const LIVE_SECONDS = Number(process.env.BENCH_API_LIVE_SECONDS || 10);
// the 1,000 clients; the API under test gets its cap (CANOPY_API_WS_MAX_CLIENTS, 500 by default) raised to match
const WS_CLIENTS = Number(process.env.BENCH_API_WS_CLIENTS || 1000);
const WS_ROUNDS = Number(process.env.BENCH_API_WS_ROUNDS || 100);

async function liveLoad(url: string): Promise<{ p50: number; p99: number; rps: number }> {
  // warm up, then measure
  await autocannon({ url: `${url}/api/sensors/live`, connections: 50, duration: 2 });
  const r = await autocannon({ url: `${url}/api/sensors/live`, connections: LIVE_CONNECTIONS, duration: LIVE_SECONDS });
  if (r.non2xx > 0 || r.errors > 0) {
    const codes = JSON.stringify((r as { statusCodeStats?: unknown }).statusCodeStats ?? {});
    throw new Error(`live load: ${r.non2xx} non-2xx, ${r.errors} errors (status codes ${codes})`);
  }
  return { p50: r.latency.p50, p99: r.latency.p99, rps: round(r.requests.average, 0) };
}

/**
 * `/api/sensors/live` of Canopy, then of the bare fastify route reading the
 * same keys (live_bare_req_per_s, its denominator), loaded the same way.
 */
async function liveFigures(api: ApiProcess, redisUrl: string): Promise<Record<string, number>> {
  const cat = (await (await fetch(`${api.url}/api/sensors`)).json()) as { sensors: { name: string }[] };
  const c = await liveLoad(api.url);
  const bare = await forkBare('live', [redisUrl, JSON.stringify(cat.sensors.map((x) => x.name))]);
  try {
    const b = await liveLoad(bare.url);
    return {
      live_connections: LIVE_CONNECTIONS,
      live_sensors: cat.sensors.length,
      live_p50_ms: c.p50,
      live_p99_ms: c.p99,
      live_req_per_s: c.rps,
      live_bare_p50_ms: b.p50,
      live_bare_p99_ms: b.p99,
      live_bare_req_per_s: b.rps,
      // the p99 bound's ratio for the bare route under the same load: how much of a miss is the load's own tail
      live_bare_p99_bound_ratio: round(
        b.p99 / liveBound.value({ live_connections: LIVE_CONNECTIONS, live_req_per_s: b.rps })!,
        2,
      ),
    };
  } finally {
    await bare.stop();
  }
}

/** How one round's update is sent: a PUBLISH of sensor:update, or a frame XADDed for the worker. */
interface Pub {
  publish(channel: string, message: string): Promise<unknown>;
  xAdd(key: string, id: string, fields: Record<string, string>): Promise<unknown>;
}
type Inject = (client: Pub, seq: number) => Promise<unknown>;

/** PUBLISH straight to sensor:update: the API alone. */
const viaPublish: Inject = (c, seq) =>
  c.publish(
    SENSOR_UPDATE,
    JSON.stringify({
      location: 'Flower Room',
      cluster: 'front',
      sensor_data: { dry_bulb_f: 20 + seq / 100, rh_f: 65 },
      timestamp: new Date().toISOString(),
    }),
  );

/** XADD a PT100 frame of node 1 (dry = 20 °C + seq/100, wet 18 °C): scanner → worker → API. */
const viaFrame: Inject = (c, seq) => {
  const raw = 2000 + seq;
  const hex = (b: number) => b.toString(16).toUpperCase().padStart(2, '0');
  return c.xAdd(CAN_RAW, '*', {
    id: '0x101',
    data: `${hex(raw & 0xff)} ${hex(raw >> 8)} 08 07 00`,
    ts: String(Date.now()),
    dlc: '5',
  });
};

/** Connects `n` clients, then times `rounds` updates until every client has each. */
async function fanOut(
  url: string,
  redisUrl: string,
  n: number,
  rounds: number,
  inject: Inject,
  label: string,
): Promise<Record<string, number>> {
  const clients: WebSocket[] = [];
  const wsUrl = `${url.replace('http', 'ws')}/ws`;
  for (let i = 0; i < n; i += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, () => {
        const ws = new WebSocket(wsUrl);
        clients.push(ws);
        return new Promise<void>((resolve, reject) => {
          ws.once('message', () => resolve()); // hello
          ws.once('error', reject);
        });
      }),
    );
  }
  const pub = createClient({ url: redisUrl });
  await pub.connect();
  const latencies: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const seq = r;
    let left = n;
    const t0 = performance.now();
    const done = new Promise<number>((resolve) => {
      for (const ws of clients) {
        const onMsg = (d: WebSocket.RawData) => {
          const m = JSON.parse(String(d)) as { type: string; data?: { sensor_data?: { dry_bulb_f?: number } } };
          const v = m.data?.sensor_data?.dry_bulb_f;
          if (m.type !== 'sensor' || v === undefined || Math.abs(v - (20 + seq / 100)) > 1e-6) return;
          ws.off('message', onMsg);
          if (--left === 0) resolve(performance.now() - t0);
        };
        ws.on('message', onMsg);
      }
    });
    await inject(pub, seq);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${label} round ${seq}: ${left} clients still waiting after 30 s`)),
        30_000,
      );
    });
    latencies.push(await Promise.race([done, timeout]).finally(() => clearTimeout(timer)));
    await new Promise((res) => setTimeout(res, 50));
  }
  await pub.close();
  for (const ws of clients) ws.terminate();
  latencies.sort((a, b) => a - b);
  return {
    ws_clients: n,
    [`ws_fanout_${label}_p50_ms`]: round(percentile(latencies, 50)),
    [`ws_fanout_${label}_p99_ms`]: round(percentile(latencies, 99)),
  };
}

const DAY = 86_400_000;

/** 30 days of 1 Hz readings of one sensor (2,592,000 rows), written in big batches. */
async function fillHistory(databaseUrl: string, end: number): Promise<number> {
  const store = await openStore(databaseUrl);
  const n = 30 * 86_400;
  const from = end - n * 1000;
  const batch = 20_000;
  try {
    for (let i = 0; i < n; i += batch) {
      const readings = [];
      for (let j = i; j < Math.min(n, i + batch); j++) {
        const time = from + j * 1000;
        const value = 24 + 3 * Math.sin(j / 3600) + (j % 13) * 0.01;
        readings.push({
          streamId: `${time}-0`,
          time,
          sensor: 'dry_bulb_f',
          value,
          location: 'Flower Room',
          cluster: 'front',
        });
      }
      await store.writeBatch({ messages: [], readings });
    }
  } finally {
    await store.close();
  }
  return n;
}

/** The 30-day history of the sensor at 1,000 points, timed through HTTP (`runs` requests, one at a time). */
async function historyTimes(
  url: string,
  end: number,
  runs: number,
): Promise<{ p50: number; p99: number; buckets: number }> {
  const q = `${url}/api/sensors/dry_bulb_f/history?from=${end - 30 * DAY}&to=${end}&points=1000`;
  const times: number[] = [];
  let buckets = 0;
  for (let i = 0; i < runs + 2; i++) {
    const t0 = performance.now();
    const res = await fetch(q);
    const body = (await res.json()) as { buckets?: unknown[] };
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`history: HTTP ${res.status}`);
    buckets = body.buckets?.length ?? 0;
    if (i >= 2) times.push(ms); // the first two warm the caches
  }
  times.sort((a, b) => a - b);
  return { p50: round(percentile(times, 50)), p99: round(percentile(times, 99)), buckets };
}

export async function run(): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-api-'));
  const redis = await RedisProcess.start({ dir: path.join(dir, 'redis'), aof: false, rdb: false });
  const figures: Record<string, number> = {};
  let api: ApiProcess | undefined;
  let worker: ChildProcess | undefined;
  try {
    const client = createClient({ url: redis.url });
    await client.connect();
    const now = Date.now();
    const m = client.multi();
    for (const suffix of ['f', 'b', 'v']) {
      for (const base of ['dry_bulb', 'wet_bulb', 'rh', 'vpd', 'co2', 'pressure', 'secondary_temp', 'secondary_rh']) {
        m.set(`sensor:${base}_${suffix}`, '23.55', { EX: 3600 });
        m.set(`sensor:${base}_${suffix}:ts`, String(now), { EX: 3600 });
      }
    }
    await m.exec();
    await client.close();
    const sqliteUrl = `sqlite:${path.join(dir, 'canopy.db')}`;
    const end = Math.floor(Date.now() / 3600_000) * 3600_000;
    if (process.env.BENCH_API_HISTORY !== '0') {
      const t0 = performance.now();
      figures.history_rows = await fillHistory(sqliteUrl, end);
      figures.history_fill_sqlite_s = round((performance.now() - t0) / 1000, 1);
      api = await spawnApi({ REDIS_URL: redis.url, DATABASE_URL: sqliteUrl });
      const h = await historyTimes(api.url, end, 20);
      figures.history_sqlite_p50_ms = h.p50;
      figures.history_sqlite_p99_ms = h.p99;
      figures.history_buckets = h.buckets;
      // the same 30 days on PostgreSQL (its own API process)
      const pg = await startPostgres();
      const pgUrl = await pg.createDatabase();
      const t1 = performance.now();
      await fillHistory(pgUrl, end);
      figures.history_fill_postgres_s = round((performance.now() - t1) / 1000, 1);
      const pgApi = await spawnApi({ REDIS_URL: redis.url, DATABASE_URL: pgUrl });
      try {
        const hp = await historyTimes(pgApi.url, end, 20);
        figures.history_postgres_p50_ms = hp.p50;
        figures.history_postgres_p99_ms = hp.p99;
      } finally {
        await pgApi.stop();
        await pg.kill();
      }
    }
    api ??= await spawnApi({ REDIS_URL: redis.url, DATABASE_URL: sqliteUrl });
    Object.assign(figures, await liveFigures(api, redis.url));
    Object.assign(figures, await fanOut(api.url, redis.url, WS_CLIENTS, WS_ROUNDS, viaPublish, 'publish'));
    // the denominator: a bare ws server broadcasting the same bytes to as many clients
    const bareWs = await forkBare('ws', [redis.url]);
    try {
      const b = await fanOut(bareWs.url, redis.url, WS_CLIENTS, WS_ROUNDS, viaPublish, 'bare');
      figures.ws_bare_fanout_p50_ms = b.ws_fanout_bare_p50_ms!;
      figures.ws_bare_fanout_p99_ms = b.ws_fanout_bare_p99_ms!;
    } finally {
      await bareWs.stop();
    }
    worker = spawnCli(['worker', '--name', 'bench-worker'], { REDIS_URL: redis.url, DATABASE_URL: sqliteUrl });
    await waitForKey(redis.url, 'heartbeat:bench-worker');
    Object.assign(figures, await fanOut(api.url, redis.url, WS_CLIENTS, WS_ROUNDS, viaFrame, 'xadd'));
  } finally {
    await api?.stop();
    if (worker && worker.exitCode === null) {
      const w = worker;
      await new Promise<void>((resolve) => {
        w.once('exit', () => resolve());
        w.kill('SIGTERM');
      });
    }
    await redis.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return figures;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === fs.realpathSync(process.argv[1])) {
  run()
    .then((f) => process.stdout.write(JSON.stringify(f, null, 2) + '\n'))
    .catch((err: unknown) => {
      process.stderr.write(`bench api: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    });
}
