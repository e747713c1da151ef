/**
 * `npm run bench -- baseline`: the design the seeds started from, implemented
 * faithfully as a reference, beside Canopy's figures on the same frames:
 *  - scanner: one XADD per frame, each awaited (no pipelining);
 *  - worker (its own process): XREAD COUNT 1 from the last id, one message at
 *    a time, decoded by the same FrameProcessor, one autocommit INSERT per row
 *    (`can_messages` + `sensor_readings` of the seeds' schema, bench/lib/seed-schema.ts);
 *  - automation: polls the database every 5 s for the newest dry bulb and
 *    switches the heater when it crosses the 25 ± 0.5 °C band.
 *
 * Figures:
 *  - naive_e2e_{sqlite,postgres}_frames_per_s: the frames XADDed until the
 *    naive worker stored every one, and canopy_e2e_{sqlite,postgres}_frames_per_s:
 *    the same number of the same frames through `canopy worker` (bench/pipeline.ts `e2e`);
 *  - naive_relay_latency_p50_ms / _p99_ms: frame XADD → heater switched, PT100
 *    frames at BENCH_BASELINE_RELAY_RATE (10/s, a rate the naive worker keeps up with:
 *    behind, its latency grows with the run, and a switch is timed from the newest flip
 *    it reflects, which then understates it) flipping the dry bulb every 6 s;
 *    canopy_relay_latency_p50_ms / _p99_ms: frame XADD → relay register write
 *    through `canopy worker` and the automation at 1,000 frames/s (bench/automation.ts).
 * Environment: BENCH_BASELINE_FRAMES (20,000), BENCH_BASELINE_RELAY_SECONDS (120),
 * BENCH_BASELINE_RELAY_RATE (100).
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createClient } from 'redis';
import { frameToStreamFields, parseStreamFields, type CanFrame } from '../src/can/frame.js';
import { encodePt100 } from '../src/can/protocol.js';
import { FrameProcessor } from '../src/cea/processor.js';
import { RedisProcess } from '../src/ops/redis-process.js';
import { startPostgres } from '../test/support/postgres.js';
import { stopAll } from '../test/support/cleanup.js';
import { naivePostgres, naiveSqlite, openSeedSqlite, type NaiveWriter } from './lib/seed-schema.js';
import { run as automationRun } from './automation.js';
import { e2e, makeFrames } from './pipeline.js';
import { percentile } from './report.js';

const STREAM = 'naive:can:raw';
const FRAMES = Number(process.env.BENCH_BASELINE_FRAMES || 20_000);
const RELAY_SECONDS = Number(process.env.BENCH_BASELINE_RELAY_SECONDS || 120);
const RELAY_RATE = Number(process.env.BENCH_BASELINE_RELAY_RATE || 10);
const POLL_MS = 5000;
const FLIP_MS = 6000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const r3 = (x: number) => Math.round(x * 1000) / 1000;

const newClient = (url: string) => createClient({ url });
type Raw = ReturnType<typeof newClient>;

/** Child process: the naive worker. Reports `stored` (frames) over IPC every 200 ms. */
async function naiveWorker(): Promise<void> {
  const [, , , redisUrl, databaseUrl] = process.argv as string[];
  const c = createClient({ url: redisUrl! });
  await c.connect();
  const db: NaiveWriter = databaseUrl!.startsWith('sqlite:')
    ? naiveSqlite(databaseUrl!.slice('sqlite:'.length))
    : await naivePostgres(databaseUrl!);
  const processor = new FrameProcessor();
  let last = '0';
  let stored = 0;
  let stop = false;
  const tick = setInterval(() => process.send!({ type: 'stored', stored }), 200);
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') stop = true;
  });
  process.send!({ type: 'ready' });
  while (!stop) {
    const res = (await c.xRead({ key: STREAM, id: last }, { COUNT: 1, BLOCK: 100 })) as
      { messages: { id: string; message: Record<string, string> }[] }[] | null;
    const m = res?.[0]?.messages[0];
    if (!m) continue;
    last = m.id;
    const frame = parseStreamFields(m.message);
    if (frame instanceof Error) continue;
    const out = processor.process([{ streamId: m.id, frame }]);
    for (const row of out.messages) await db.message(row);
    for (const row of out.readings) await db.reading(row);
    stored++;
  }
  clearInterval(tick);
  process.send!({ type: 'stored', stored });
  await db.close();
  await c.close();
  process.exit(0);
}

interface NaiveWorkerHandle {
  child: ChildProcess;
  stored: () => number;
  stop(): Promise<void>;
}

async function startNaiveWorker(redisUrl: string, databaseUrl: string): Promise<NaiveWorkerHandle> {
  const child = fork(fileURLToPath(import.meta.url), ['naive-worker', redisUrl, databaseUrl]);
  let stored = 0;
  child.on('message', (m: { type: string; stored?: number }) => {
    if (m.type === 'stored') stored = m.stored!;
  });
  await new Promise<void>((resolve, reject) => {
    child.on('message', (m: { type: string }) => m.type === 'ready' && resolve());
    child.once('exit', (code) => reject(new Error(`naive worker exited with ${code}`)));
  });
  return {
    child,
    stored: () => stored,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.removeAllListeners('exit');
        child.once('exit', () => resolve());
        child.send({ type: 'stop' });
      }),
  };
}

const xaddOne = (c: Raw, f: CanFrame) =>
  c.sendCommand(['XADD', STREAM, '*', ...Object.entries(frameToStreamFields(f)).flat()]);

/** The naive scanner's XADD per frame, awaited, until the naive worker stored all. */
async function naiveE2e(redisUrl: string, databaseUrl: string): Promise<number> {
  const c = newClient(redisUrl);
  await c.connect();
  await c.del(STREAM);
  const w = await startNaiveWorker(redisUrl, databaseUrl);
  try {
    const frames = makeFrames(FRAMES, Date.now() - FRAMES);
    const t0 = performance.now();
    for (const f of frames) await xaddOne(c, f);
    while (w.stored() < FRAMES) await sleep(50);
    return FRAMES / ((performance.now() - t0) / 1000);
  } finally {
    await w.stop();
    await c.close();
  }
}

/**
 * PT100 frames of node 1 at RELAY_RATE/s, the dry bulb flipping between 24.4
 * and 25.6 °C every 6 s; the naive automation polls SQLite every 5 s and
 * switches the heater on below 24.5, off above 25.5. Latency: the XADD of the
 * first frame of a flip → the switch.
 */
async function naiveRelay(redisUrl: string, file: string): Promise<number[]> {
  const c = newClient(redisUrl);
  await c.connect();
  await c.del(STREAM);
  const w = await startNaiveWorker(redisUrl, `sqlite:${file}`);
  const db = openSeedSqlite(file);
  const latest = db.prepare<[], { value: number }>(
    "SELECT value FROM sensor_readings WHERE sensor = 'dry_bulb_f' ORDER BY time DESC LIMIT 1",
  );
  const flips: { at: number; hot: boolean }[] = [];
  const lat: number[] = [];
  let heater: boolean | undefined;
  const poll = setInterval(() => {
    const v = latest.get()?.value;
    if (v === undefined) return;
    const want = v < 24.5 ? true : v > 25.5 ? false : heater;
    if (want === undefined || want === heater) return;
    heater = want;
    const now = performance.now();
    // the newest flip whose value this switch reflects (hot → heater off)
    const f = [...flips].reverse().find((x) => x.hot === !want);
    if (f) lat.push(now - f.at);
  }, POLL_MS);
  try {
    const t0 = performance.now();
    const n = RELAY_SECONDS * RELAY_RATE;
    let hot = false;
    for (let i = 0; i < n; i++) {
      const wait = t0 + (i * 1000) / RELAY_RATE - performance.now();
      if (wait > 1) await sleep(wait);
      const flip = Math.floor((performance.now() - t0) / FLIP_MS) % 2 === 1;
      const at = performance.now();
      if (flip !== hot || i === 0) {
        hot = flip;
        flips.push({ at, hot });
      }
      await xaddOne(c, encodePt100(1, hot ? 25.6 : 24.4, 18, 0, Date.now()));
    }
    await sleep(POLL_MS + 500);
  } finally {
    clearInterval(poll);
    db.close();
    await w.stop();
    await c.close();
  }
  return lat.sort((a, b) => a - b);
}

export async function run(): Promise<Record<string, number>> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-baseline-'));
  const redis = await RedisProcess.start({ dir: path.join(tmp, 'redis'), aof: true, rdb: false });
  const figures: Record<string, number> = { frames: FRAMES };
  try {
    figures.naive_e2e_sqlite_frames_per_s = Math.round(
      await naiveE2e(redis.url, `sqlite:${path.join(tmp, 'naive.db')}`),
    );
    const canopySqlite = await e2e(redis.url, `sqlite:${path.join(tmp, 'canopy.db')}`, tmp, {}, FRAMES);
    figures.canopy_e2e_sqlite_frames_per_s = Math.round(canopySqlite.rate);
    const pgs = await startPostgres();
    figures.naive_e2e_postgres_frames_per_s = Math.round(await naiveE2e(redis.url, await pgs.createDatabase('naive')));
    const canopyPg = await e2e(redis.url, await pgs.createDatabase('canopy'), tmp, {}, FRAMES);
    figures.canopy_e2e_postgres_frames_per_s = Math.round(canopyPg.rate);

    const lat = await naiveRelay(redis.url, path.join(tmp, 'relay.db'));
    figures.naive_relay_rate_per_s = RELAY_RATE;
    figures.naive_relay_switches = lat.length;
    figures.naive_relay_latency_p50_ms = r3(percentile(lat, 50));
    figures.naive_relay_latency_p99_ms = r3(percentile(lat, 99));
  } finally {
    await redis.kill();
    await stopAll();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  // Canopy's relay path (its own servers): bench/automation.ts's frame path at 1,000 frames/s
  const a = await automationRun();
  figures.canopy_relay_rate_per_s = 1000;
  figures.canopy_relay_latency_p50_ms = a.frame_p50_ms ?? NaN;
  figures.canopy_relay_latency_p99_ms = a.frame_p99_ms ?? NaN;
  return figures;
}

// bench/run.ts imports this module and calls run(); the naive worker forks it with `naive-worker`.
if (process.argv[2] === 'naive-worker') await naiveWorker();
