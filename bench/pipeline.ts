/**
 * `npm run bench -- pipeline`: the CAN pipeline end to end.
 *
 * Figures:
 * - e2e_{sqlite,postgres}_frames_per_s: frames XADDed (pipelined, as fast as
 *   possible) until every one is stored and acked by a `canopy worker` child
 *   process;
 * - bare_{sqlite,postgres}_frames_per_s: the denominators — the same frames'
 *   rows written into the seeds' schema only (can_messages + sensor_readings,
 *   no idempotency or side tables): COPY on PostgreSQL, prepared INSERTs on
 *   SQLite, 10,000 frames per transaction (bench/lib/seed-schema.ts);
 * - bulk_{sqlite,postgres}_frames_per_s: the same rows written straight to
 *   the store by Store.writeBatch (1,000 frames per batch), for comparison;
 * - update_latency_p50_ms / _p99_ms: XADD → `sensor:update` arrival at
 *   1,000 frames/s;
 * - worker_peak_rss_mb: VmHWM of the worker process (PostgreSQL run), started
 *   with the Node options `canopy up` gives it;
 * - {sqlite,postgres}_bytes_per_reading: bytes on disk per stored reading;
 * - e2e_sqlite_normal_frames_per_s: the SQLite end-to-end run again with the
 *   worker's connection at synchronous=NORMAL instead of its default FULL
 *   (each commit synced before its entries are acked), and
 *   sqlite_full_sync_cost_pct: what FULL costs in throughput.
 *
 * BENCH_FRAMES sets the frame count (300,000); BENCH_PIPELINE_SQLITE_ONLY=1
 * skips PostgreSQL and the latency run; BENCH_WORKER_NODE_ARGS adds Node flags
 * to the worker (profiling: `--cpu-prof --cpu-prof-dir=<dir>`).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import pg from 'pg';
import { frameToStreamFields, type CanFrame } from '../src/can/frame.js';
import { spawnService } from './lib/spawn-service.js';
import { encodePressure, encodePt100, encodeScd30 } from '../src/can/protocol.js';
import { FrameProcessor } from '../src/cea/processor.js';
import { RedisProcess } from '../src/ops/redis-process.js';
import { openStore } from '../src/store/index.js';
import { startPostgres } from '../test/support/postgres.js';
import { barePostgres, bareSqlite, type Rows } from './lib/seed-schema.js';
import { replyField } from './lib/redis-reply.js';
import { stopAll } from '../test/support/cleanup.js';
import { CAN_RAW, WORKER_STATS } from '../src/contracts/names.js';

const newClient = (url: string) => createClient({ url });
type Raw = ReturnType<typeof newClient>;
const N = Number(process.env.BENCH_FRAMES || 300_000);

export function makeFrames(n: number, t0: number): CanFrame[] {
  const out: CanFrame[] = [];
  for (let i = 0; i < n; i++) {
    const node = 1 + (i % 3);
    const t = t0 + i;
    const k = i % 3;
    if (k === 0) out.push(encodePt100(node, 22 + (i % 100) / 100, 18 + (i % 50) / 100, 0, t));
    else if (k === 1) out.push(encodeScd30(node, 700 + (i % 300), 22.5, 60, t));
    else out.push(encodePressure(node, 1000 + (i % 20) / 10, t));
  }
  return out;
}

async function xadd(c: Raw, frames: CanFrame[]): Promise<void> {
  for (let i = 0; i < frames.length; i += 1000) {
    const m = c.multi();
    for (const f of frames.slice(i, i + 1000)) {
      m.addCommand(['XADD', CAN_RAW, 'MAXLEN', '~', '5000000', '*', ...Object.entries(frameToStreamFields(f)).flat()]);
    }
    await m.execAsPipeline();
  }
}

function spawnWorker(env: NodeJS.ProcessEnv): ChildProcess {
  // BENCH_WORKER_NODE_ARGS adds Node flags to the worker, e.g. `--cpu-prof --cpu-prof-dir=prof`
  const extra = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean);
  return spawnService(['worker', '--name', 'bench'], { env: { ...env, LOG_LEVEL: 'error' }, extraNodeArgs: extra });
}

function peakRssMb(pid: number): number {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

async function pendingAndStored(c: Raw): Promise<number> {
  const info = (await c.sendCommand(['XINFO', 'GROUPS', CAN_RAW])) as unknown[];
  const g = info[0];
  if (!g) return -1;
  const lag = Number(replyField(g, 'lag') ?? 0);
  const pending = Number(replyField(g, 'pending') ?? 0);
  return lag + pending;
}

export async function e2e(
  redisUrl: string,
  databaseUrl: string,
  dataDir: string,
  env: NodeJS.ProcessEnv = {},
  n = N,
): Promise<{ rate: number; rssMb: number }> {
  const c = newClient(redisUrl);
  await c.connect();
  await c.del([CAN_RAW, WORKER_STATS]);
  const worker = spawnWorker({ REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, CANOPY_DATA_DIR: dataDir, ...env });
  // wait for the group to exist
  for (let i = 0; i < 200; i++) {
    if ((await c.exists(CAN_RAW)) && (await pendingAndStored(c)) >= 0) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const frames = makeFrames(n, Date.now() - n);
  const t0 = performance.now();
  await xadd(c, frames);
  for (;;) {
    const left = await pendingAndStored(c);
    if (left === 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const secs = (performance.now() - t0) / 1000;
  const rssMb = worker.pid ? peakRssMb(worker.pid) : NaN;
  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
  c.destroy();
  return { rate: n / secs, rssMb };
}

/** The frames' rows as the worker would store them (decoded, calibrated, validated, derived). */
export function rowsOf(frames: CanFrame[]): Rows {
  const processor = new FrameProcessor();
  const rows: Rows = { messages: [], readings: [] };
  for (let i = 0; i < frames.length; i += 1000) {
    const b = processor.process(frames.slice(i, i + 1000).map((frame, j) => ({ streamId: `b-${i + j}`, frame })));
    for (const m of b.messages) rows.messages.push(m);
    for (const r of b.readings) rows.readings.push(r);
  }
  return rows;
}

async function bulk(databaseUrl: string): Promise<number> {
  const store = await openStore(databaseUrl);
  await store.migrate();
  const processor = new FrameProcessor();
  const frames = makeFrames(N, Date.now() - 10 * N);
  const batches = [];
  for (let i = 0; i < frames.length; i += 1000) {
    batches.push(processor.process(frames.slice(i, i + 1000).map((frame, j) => ({ streamId: `b-${i + j}`, frame }))));
  }
  const t0 = performance.now();
  for (const b of batches) await store.writeBatch({ messages: b.messages, readings: b.readings });
  const secs = (performance.now() - t0) / 1000;
  await store.close();
  return N / secs;
}

export async function updateLatency(
  redisUrl: string,
  databaseUrl: string,
  dataDir: string,
): Promise<{ p50: number; p99: number }> {
  const c = newClient(redisUrl);
  const sub = c.duplicate();
  await c.connect();
  await sub.connect();
  await c.del(CAN_RAW);
  const worker = spawnWorker({ REDIS_URL: redisUrl, DATABASE_URL: databaseUrl, CANOPY_DATA_DIR: dataDir });
  const sent = new Map<number, number>();
  const lat: number[] = [];
  await sub.subscribe('sensor:update:Flower Room:front', (msg) => {
    const now = performance.now();
    const co2 = (JSON.parse(msg) as { sensor_data: Record<string, number> }).sensor_data.co2_f;
    if (co2 === undefined) return;
    const at = sent.get(co2);
    if (at !== undefined) {
      lat.push(now - at);
      sent.delete(co2);
    }
  });
  await new Promise((r) => setTimeout(r, 1500));
  const seconds = 10;
  for (let i = 0; i < seconds * 1000; i++) {
    const seq = 1000 + (i % 30000);
    const f = encodeScd30(1, seq, 22, 60, Date.now());
    sent.set(seq, performance.now());
    await c.sendCommand(['XADD', CAN_RAW, '*', ...Object.entries(frameToStreamFields(f)).flat()]);
    await new Promise((r) => setTimeout(r, 1)); // ~1,000 frames/s
  }
  await new Promise((r) => setTimeout(r, 500));
  worker.kill('SIGTERM');
  await new Promise((r) => worker.once('exit', r));
  c.destroy();
  sub.destroy();
  lat.sort((a, b) => a - b);
  const q = (p: number) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return { p50: q(0.5), p99: q(0.99) };
}

function dirBytes(files: string[]): number {
  return files.reduce((s, f) => s + (fs.existsSync(f) ? fs.statSync(f).size : 0), 0);
}

export async function run(): Promise<Record<string, number>> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-pipeline-'));
  const redis = await RedisProcess.start({ dir: path.join(tmp, 'redis'), aof: true, rdb: false });
  const figures: Record<string, number> = {};
  try {
    // SQLite
    const sqlitePath = path.join(tmp, 'e2e.db');
    const s = await e2e(redis.url, `sqlite:${sqlitePath}`, tmp);
    figures.e2e_sqlite_frames_per_s = Math.round(s.rate);
    const sqliteStore = await openStore(`sqlite:${sqlitePath}`);
    const readings = await sqliteStore.countReadings();
    await sqliteStore.close();
    figures.sqlite_bytes_per_reading = Math.round(dirBytes([sqlitePath, `${sqlitePath}-wal`]) / Math.max(1, readings));
    figures.bulk_sqlite_frames_per_s = Math.round(await bulk(`sqlite:${path.join(tmp, 'bulk.db')}`));
    const rows = rowsOf(makeFrames(N, Date.now() - 20 * N));
    figures.bare_sqlite_frames_per_s = Math.round(N / bareSqlite(path.join(tmp, 'bare.db'), rows));
    const normal = await e2e(redis.url, `sqlite:${path.join(tmp, 'e2e-normal.db')}`, tmp, {
      CANOPY_WORKER_SQLITE_SYNCHRONOUS: 'NORMAL',
    });
    figures.e2e_sqlite_normal_frames_per_s = Math.round(normal.rate);
    figures.sqlite_full_sync_cost_pct = Math.round((1 - s.rate / normal.rate) * 1000) / 10;
    figures.frames = N;
    if (process.env.BENCH_PIPELINE_SQLITE_ONLY === '1') return figures;

    // PostgreSQL
    const pgs = await startPostgres();
    const e2eUrl = await pgs.createDatabase('e2e');
    const p = await e2e(redis.url, e2eUrl, tmp);
    figures.e2e_postgres_frames_per_s = Math.round(p.rate);
    figures.worker_peak_rss_mb = Math.round(p.rssMb * 10) / 10;
    const client = new pg.Client({ connectionString: e2eUrl });
    await client.connect();
    const r = await client.query<{ bytes: string; n: string }>(
      `SELECT pg_total_relation_size('sensor_readings') + pg_total_relation_size('can_messages') AS bytes,
              (SELECT COUNT(*) FROM sensor_readings) AS n`,
    );
    await client.end();
    figures.postgres_bytes_per_reading = Math.round(Number(r.rows[0]!.bytes) / Math.max(1, Number(r.rows[0]!.n)));
    figures.bulk_postgres_frames_per_s = Math.round(await bulk(await pgs.createDatabase('bulk')));
    figures.bare_postgres_frames_per_s = Math.round(N / (await barePostgres(await pgs.createDatabase('bare'), rows)));

    // latency at 1,000 frames/s
    const lat = await updateLatency(redis.url, `sqlite:${path.join(tmp, 'lat.db')}`, tmp);
    figures.update_latency_p50_ms = Math.round(lat.p50 * 1000) / 1000;
    figures.update_latency_p99_ms = Math.round(lat.p99 * 1000) / 1000;
    figures.frames = N;
  } finally {
    await redis.kill();
    await stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return figures;
}
