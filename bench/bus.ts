/**
 * `npm run bench -- bus`: the bus against a redis-server it starts itself.
 *  - producer_per_s: our StreamProducer, 1,000 entries per pipelined batch
 *  - redis_benchmark_xadd_per_s: `redis-benchmark -c 1 -P 64 -n 200000 XADD <key> * f v` (the denominator)
 *  - drain_per_s: our consumer group worker, COUNT 1000 + XACK, a no-op handler, and
 *    raw_drain_per_s (its denominator): a plain node-redis XREADGROUP COUNT 1000 + XACK loop
 *    over the same entries (three interleaved rounds each, medians)
 *  - pubsub_p50_us / p99 / max: one-way latency Publisher → Subscriber at 1,000 msg/s
 *    (and the same through bare node-redis, as the floor our layer adds to), three
 *    interleaved rounds of 4,000 messages each, medians of each percentile (max: the largest)
 * Producer and redis-benchmark run three interleaved rounds of 200,000 and report medians.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '../src/bus/connection.js';
import { StreamConsumer } from '../src/bus/streams/consumer.js';
import { StreamProducer } from '../src/bus/streams/producer.js';
import { Subscriber } from '../src/bus/subscriber.js';
import { Publisher } from '../src/bus/topics.js';
import { RedisProcess } from '../src/ops/redis-process.js';
import { percentile } from './report.js';

const N = Number(process.env.BENCH_BUS_N || 200_000);
const round = (x: number) => Math.round(x);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function producer(conn: Connection, n = N): Promise<number> {
  const stream = 'bench:producer';
  const p = new StreamProducer(conn, { stream, maxBatch: 1000, lingerMs: 1000, trim: 'none' });
  const batch = Array.from({ length: 1000 }, () => ({ f: 'v' }));
  await p.addMany(batch); // warm-up
  const t0 = process.hrtime.bigint();
  const inFlight: Promise<string[]>[] = [];
  for (let i = 0; i < n / 1000; i++) {
    inFlight.push(p.addMany(batch));
    if (inFlight.length >= 2) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  await p.close();
  await conn.client.del(stream);
  return n / s;
}

function redisBenchmark(port: number): number {
  const r = spawnSync(
    'redis-benchmark',
    [
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-c',
      '1',
      '-P',
      '64',
      '-n',
      String(N),
      '-q',
      'XADD',
      'bench:rb',
      '*',
      'f',
      'v',
    ],
    { encoding: 'utf8', timeout: 300_000 },
  );
  const m = /([\d.]+) requests per second/.exec(r.stdout ?? '');
  if (!m) throw new Error(`cannot parse redis-benchmark output: ${r.stdout} ${r.stderr}`);
  return Number(m[1]);
}

async function fillDrainStream(conn: Connection, stream: string, n: number): Promise<void> {
  await conn.client.del(stream);
  const p = new StreamProducer(conn, { stream, trim: 'none' });
  const batch = Array.from({ length: 1000 }, (_, i) => ({ id: '0x101', data: 'AA FF 04 10', ts: String(i), dlc: '4' }));
  for (let i = 0; i < n / 1000; i++) await p.addMany(batch);
  await p.close();
}

/** Our consumer-group worker (COUNT 1000 + XACK, no-op handler) over the `n` entries of `stream`, as group `group`. */
async function drain(conn: Connection, stream: string, group: string, n: number): Promise<number> {
  let handled = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const t0 = process.hrtime.bigint();
  const w = await StreamConsumer.start(
    conn,
    async (entries) => {
      handled += entries.length;
    },
    { stream, group, batchSize: 1000, blockMs: 100, startId: '0' },
  );
  const poll = setInterval(() => w.stats.acked >= n && done(), 1);
  await finished;
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  clearInterval(poll);
  await w.stop();
  if (handled !== n) throw new Error(`drain handled ${handled} of ${n}`);
  return n / s;
}

/**
 * The denominator: a plain node-redis loop of XREADGROUP COUNT 1000 and XACK
 * of the same ids over the same entries, as group `group` (created at 0).
 */
async function rawDrain(conn: Connection, stream: string, group: string, n: number): Promise<number> {
  const c = conn.client;
  await c.xGroupCreate(stream, group, '0');
  let acked = 0;
  const t0 = process.hrtime.bigint();
  for (;;) {
    const res = (await c.xReadGroup(group, 'raw', { key: stream, id: '>' }, { COUNT: 1000 })) as
      { messages: { id: string }[] }[] | null;
    const msgs = res?.[0]?.messages ?? [];
    if (msgs.length === 0) break;
    acked += await c.xAck(
      stream,
      group,
      msgs.map((m) => m.id),
    );
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (acked !== n) throw new Error(`raw drain acked ${acked} of ${n}`);
  return n / s;
}

type Latency = { p50: number; p99: number; max: number; rate: number };

/**
 * One-way latency at 1,000 msg/s: one message per timer tick (never a
 * burst), the send time (process.hrtime) in the payload.
 */
async function latency(
  publish: (m: { seq: number; t: string }) => unknown,
  subscribe: (on: (m: { seq: number; t: string }) => void) => Promise<() => Promise<void>>,
  total = 4_000,
): Promise<Latency> {
  const warmup = 500;
  const lat: number[] = [];
  let received = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const close = await subscribe((m) => {
    const us = Number(process.hrtime.bigint() - BigInt(m.t)) / 1000;
    if (m.seq >= warmup) lat.push(us);
    if (++received === total) done();
  });
  const start = performance.now();
  for (let seq = 0; seq < total; seq++) {
    const wait = start + seq - performance.now(); // one per ms
    await new Promise((r) => setTimeout(r, Math.max(0, wait)));
    publish({ seq, t: String(process.hrtime.bigint()) });
  }
  await finished;
  const rate = total / ((performance.now() - start) / 1000);
  await close();
  lat.sort((a, b) => a - b);
  return { p50: percentile(lat, 50), p99: percentile(lat, 99), max: lat[lat.length - 1] ?? NaN, rate };
}

/** Per percentile, the median over rounds; the largest maximum; the slowest rate. */
function medianLatency(rounds: Latency[]): Latency {
  return {
    p50: median(rounds.map((r) => r.p50)),
    p99: median(rounds.map((r) => r.p99)),
    max: Math.max(...rounds.map((r) => r.max)),
    rate: Math.min(...rounds.map((r) => r.rate)),
  };
}

/** Through the bus: Publisher (JSON codec) → Subscriber (decode, dispatch, stats). */
async function pubsub(conn: Connection): Promise<Latency> {
  const pub = new Publisher(conn);
  return latency(
    (m) => void pub.publish('bench:pubsub', m),
    async (on) => {
      const sub = await Subscriber.create(conn);
      await sub.subscribe<{ seq: number; t: string }>('bench:pubsub', on);
      return () => sub.close();
    },
  );
}

/** The floor: node-redis PUBLISH and SUBSCRIBE with JSON, no bus layer. */
async function pubsubRaw(conn: Connection): Promise<Latency> {
  return latency(
    (m) => void conn.client.publish('bench:raw', JSON.stringify(m)),
    async (on) => {
      const sub = conn.client.duplicate();
      await sub.connect();
      await sub.subscribe('bench:raw', (msg) => on(JSON.parse(msg) as { seq: number; t: string }));
      return () => sub.close();
    },
  );
}

export async function run(): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-bus-'));
  const redis = await RedisProcess.start({ dir: path.join(dir, 'redis'), aof: false, rdb: false });
  const conn = await Connection.connect({ url: redis.url });
  try {
    await producer(conn, 50_000); // JIT warm-up, not counted
    // Three interleaved rounds, medians: the two figures see the same machine load.
    const prod: number[] = [];
    const rb: number[] = [];
    for (let i = 0; i < 3; i++) {
      prod.push(await producer(conn));
      rb.push(redisBenchmark(redis.port));
      await conn.client.del('bench:rb');
    }
    const producer_per_s = median(prod);
    const redis_benchmark_xadd_per_s = median(rb);
    // Both drains read the same entries (each its own group), in interleaved rounds: medians.
    const stream = 'bench:drain';
    await fillDrainStream(conn, stream, N);
    await drain(conn, stream, 'warm', N); // JIT warm-up, not counted
    await rawDrain(conn, stream, 'rawwarm', N);
    const dr: number[] = [];
    const raw_: number[] = [];
    for (let i = 0; i < 3; i++) {
      dr.push(await drain(conn, stream, `canopy${i}`, N));
      raw_.push(await rawDrain(conn, stream, `raw${i}`, N));
    }
    await conn.client.del(stream);
    const drain_per_s = median(dr);
    const raw_drain_per_s = median(raw_);
    // Interleaved like the drains: one quiet or busy second does not land on one side only.
    const psRounds: Latency[] = [];
    const rawRounds: Latency[] = [];
    for (let i = 0; i < 3; i++) {
      psRounds.push(await pubsub(conn));
      rawRounds.push(await pubsubRaw(conn));
    }
    const ps = medianLatency(psRounds);
    const raw = medianLatency(rawRounds);
    return {
      // The machine's 1-minute load average when the run ended: the figures are only comparable at similar load.
      load_avg_1m: Math.round(os.loadavg()[0]! * 10) / 10,
      producer_per_s: round(producer_per_s),
      redis_benchmark_xadd_per_s: round(redis_benchmark_xadd_per_s),
      producer_vs_redis_benchmark: Math.round((producer_per_s / redis_benchmark_xadd_per_s) * 100) / 100,
      drain_per_s: round(drain_per_s),
      raw_drain_per_s: round(raw_drain_per_s),
      pubsub_p50_us: round(ps.p50),
      pubsub_p99_us: round(ps.p99),
      pubsub_max_us: round(ps.max),
      pubsub_rate_per_s: round(ps.rate),
      pubsub_raw_node_redis_p50_us: round(raw.p50),
      pubsub_raw_node_redis_p99_us: round(raw.p99),
    };
  } finally {
    await conn.close();
    await redis.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
