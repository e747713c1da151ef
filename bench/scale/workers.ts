/**
 * Part of `npm run bench -- scale` (bench/scale.ts): the CAN pipeline end to end with 1, 2 and
 * 4 `canopy worker` processes sharing the group `can-worker` (instances 0 … n-1), each run on
 * a fresh Redis and store with the same frames: the workers start and announce themselves, then
 * BENCH_SCALE_FRAMES frames are XADDed to `can:raw` (pipelined, as fast as Redis takes them),
 * and the clock stops when the group has read them all and nothing is pending (the worker acks
 * only after its commit: every frame stored).
 *
 * Figures: e2e_frames_per_s_1w, _2w, _4w; cpu_ms_per_1k_frames (the workers' CPU, /proc, per
 * 1,000 frames, with one worker) and the same with 2 and 4 (cpu_ms_per_1k_frames_2w, _4w: what
 * sharing the group costs). Store: SQLite (one writer at a time: the store saturates first) or
 * BENCH_SCALE_DATABASE_URL (a PostgreSQL database, emptied before each run). On this 2-core
 * machine the producer, Redis and the workers share the cores: the CPU per frame extrapolates.
 *
 * Environment: BENCH_SCALE_FRAMES (100000), BENCH_SCALE_WORKERS (1,2,4), BENCH_SCALE_DATABASE_URL.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient } from 'redis';
import pg from 'pg';
import { frameToStreamFields, type CanFrame } from '../../src/can/frame.js';
import { spawnService } from '../lib/spawn-service.js';
import { encodePt100 } from '../../src/can/protocol.js';
import { CAN_RAW, CAN_WORKER_GROUP } from '../../src/contracts/names.js';
import { cpuSeconds } from '../../src/util/procstat.js';
import { RedisProcess } from '../../src/ops/redis-process.js';

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

function frames(n: number): CanFrame[] {
  const t0 = Date.now() - n;
  const out: CanFrame[] = [];
  for (let i = 0; i < n; i++) out.push(encodePt100(1 + (i % 3), 20 + (i % 50) / 10, 18 + (i % 40) / 10, 0, t0 + i));
  return out;
}

async function until(what: string, cond: () => Promise<boolean>, ms: number, pollMs = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`bench scale/workers: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

async function emptyPostgres(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ t: string }>(
      "SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('can_messages', 'sensor_readings', 'ingested_entries')",
    );
    if (rows.length > 0) await c.query(`TRUNCATE ${rows.map((r) => r.t).join(', ')}`);
  } finally {
    await c.end();
  }
}

/** One run: `n` workers drain `data` end to end. */
async function run(n: number, data: CanFrame[]): Promise<{ perS: number; cpuMsPer1k: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-workers-'));
  const redis = await RedisProcess.start({ dir: path.join(dir, 'redis'), aof: false, rdb: false });
  const databaseUrl = process.env.BENCH_SCALE_DATABASE_URL || `sqlite:${path.join(dir, 'canopy.db')}`;
  if (databaseUrl.startsWith('postgres')) await emptyPostgres(databaseUrl);
  const workers: ChildProcess[] = [];
  const raw = createClient({ url: redis.url });
  raw.on('error', () => undefined);
  try {
    await raw.connect();
    for (let i = 0; i < n; i++) {
      workers.push(
        spawnService(['worker', '--instance', String(i)], {
          env: {
            REDIS_URL: redis.url,
            DATABASE_URL: databaseUrl,
            CANOPY_DATA_DIR: dir,
            LOG_LEVEL: 'warn',
          },
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
    }
    const host = os.hostname();
    await until(
      `${n} worker heartbeats`,
      async () => (await raw.exists(workers.map((_, i) => `heartbeat:worker-${host}-${i}`))) === n,
      120_000,
    );
    const cpu0 = workers.reduce((s, w) => s + cpuSeconds(w.pid!), 0);
    const t0 = performance.now();
    for (let i = 0; i < data.length; i += 1000) {
      const m = raw.multi();
      for (const f of data.slice(i, i + 1000))
        m.xAdd(CAN_RAW, '*', frameToStreamFields(f) as unknown as Record<string, string>);
      await m.execAsPipeline();
    }
    await until(
      'every frame read and acknowledged',
      async () => {
        const groups = (await raw.xInfoGroups(CAN_RAW)) as unknown as Record<string, unknown>[];
        const g = groups.find((x) => x.name === CAN_WORKER_GROUP);
        return Number(g?.['entries-read']) === data.length && Number(g?.pending) === 0;
      },
      600_000,
      20,
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = workers.reduce((s, w) => s + cpuSeconds(w.pid!), 0) - cpu0;
    return { perS: round(data.length / seconds, 0), cpuMsPer1k: round(((cpu * 1000) / data.length) * 1000, 1) };
  } finally {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(
      workers.map((w) => (w.exitCode === null && w.signalCode === null ? new Promise((r) => w.once('exit', r)) : null)),
    );
    raw.destroy();
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export async function measure(): Promise<Record<string, number>> {
  const data = frames(Number(process.env.BENCH_SCALE_FRAMES || 100_000));
  const counts = (process.env.BENCH_SCALE_WORKERS ?? '1,2,4')
    .split(',')
    .map(Number)
    .filter((x) => x > 0);
  const figures: Record<string, number> = { e2e_frames: data.length };
  for (const n of counts) {
    const r = await run(n, data);
    figures[`e2e_frames_per_s_${n}w`] = r.perS;
    figures[n === 1 ? 'cpu_ms_per_1k_frames' : `cpu_ms_per_1k_frames_${n}w`] = r.cpuMsPer1k;
  }
  return figures;
}
