/**
 * Part of `npm run bench -- scale` (bench/scale.ts): the bus on a six-node
 * Redis Cluster (3 masters + 3 replicas) beside the same work on one
 * redis-server, in the same run.
 *  - cluster_producer_per_s / single_producer_per_s: three StreamProducers at
 *    once, one stream each (on a cluster each stream on a different master),
 *    1,000 entries per pipelined batch, N entries in all
 *  - cluster_drain_per_s / single_drain_per_s: three consumer-group workers
 *    at once (COUNT 1000 + XACK, a no-op handler) draining those streams
 * A stream lives in one slot, so one stream cannot spread over a cluster:
 * throughput grows with the number of streams (or relays) spread over the
 * masters. On a 2-core machine six nodes and the client share the cores, so
 * the cluster figure here is a floor, not a ceiling (see docs/scaling-cluster.md).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { keySlot } from '../../src/bus/cluster/routing.js';
import { Connection } from '../../src/bus/connection.js';
import type { ConnectionOptions } from '../../src/bus/options.js';
import { StreamConsumer } from '../../src/bus/streams/consumer.js';
import { StreamProducer } from '../../src/bus/streams/producer.js';
import { RedisClusterProcess } from '../../src/ops/redis-cluster.js';
import { RedisProcess } from '../../src/ops/redis-process.js';

const N = Number(process.env.BENCH_CLUSTER_N || 300_000);
const STREAMS = 3;

/** Stream names whose slots fall in the three thirds of the slot space (one per master of `--cluster create`). */
function spreadStreams(prefix: string): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < STREAMS; i++) {
    const name = `${prefix}:${i}`;
    const third = Math.floor((keySlot(name) * STREAMS) / 16384);
    if (third === out.length) out.push(name);
  }
  return out;
}

async function produce(conn: Connection, streams: string[]): Promise<number> {
  const per = Math.floor(N / streams.length / 1000) * 1000;
  const batch = Array.from({ length: 1000 }, () => ({ f: 'v' }));
  const t0 = process.hrtime.bigint();
  await Promise.all(
    streams.map(async (stream) => {
      const p = new StreamProducer(conn, { stream, maxBatch: 1000, lingerMs: 1000, trim: 'none' });
      const inFlight: Promise<string[]>[] = [];
      for (let i = 0; i < per / 1000; i++) {
        inFlight.push(p.addMany(batch));
        if (inFlight.length >= 2) await inFlight.shift();
      }
      await Promise.all(inFlight);
      await p.close();
    }),
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return (per * streams.length) / s;
}

async function drain(conn: Connection, streams: string[]): Promise<number> {
  const per = Math.floor(N / streams.length / 1000) * 1000;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    streams.map(async (stream) => {
      let done!: () => void;
      const finished = new Promise<void>((r) => (done = r));
      const w = await StreamConsumer.start(conn, async () => undefined, {
        stream,
        group: 'bench',
        batchSize: 1000,
        blockMs: 100,
        startId: '0',
      });
      const poll = setInterval(() => w.stats.acked >= per && done(), 1);
      await finished;
      clearInterval(poll);
      await w.stop();
    }),
  );
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return (per * streams.length) / s;
}

async function run(opts: Partial<ConnectionOptions>): Promise<{ producer: number; drain: number }> {
  const conn = await Connection.connect({ ...opts, healthCheckIntervalMs: 0, clientName: 'bench-cluster' });
  conn.on('error', () => undefined);
  try {
    const streams = spreadStreams(`bench:cluster:${Date.now()}`);
    const producer = await produce(conn, streams);
    const drained = await drain(conn, streams);
    return { producer: Math.round(producer), drain: Math.round(drained) };
  } finally {
    await conn.close();
  }
}

export async function measure(): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-cluster-'));
  const single = await RedisProcess.start({ dir: path.join(dir, 'single'), aof: false, rdb: false });
  let cluster: RedisClusterProcess | undefined;
  try {
    const one = await run({ url: single.url });
    await single.kill();
    cluster = await RedisClusterProcess.start({ dir: path.join(dir, 'cluster') });
    const many = await run({ clusterNodes: cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port })) });
    return {
      cluster_producer_per_s: many.producer,
      cluster_drain_per_s: many.drain,
      single_producer_per_s: one.producer,
      single_drain_per_s: one.drain,
    };
  } finally {
    await single.kill();
    await cluster?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
