/**
 * `npm run bench -- bus-batching`: how a batch of XADDs reaches Redis — the
 * bus's StreamProducer (node-redis `multi().execAsPipeline()`) against one
 * node-redis `sendCommand` per entry issued in one tick.
 *
 * Each way writes the same entries (4 short fields, like a `can:raw` frame)
 * in batches of 1,000, two batches in flight, against a redis-server this
 * bench starts. Figures per way: entries/s (wall clock) and client CPU µs per
 * entry (process.cpuUsage, user + system of this Node process only; the
 * server's CPU is not counted). Three interleaved rounds, medians.
 *
 * The hand-written RESP writer the producer used before (src/bus/resp.ts) was
 * measured against it in the same run (commit 3c64fc0, then named
 * bench/bus-resp.ts): 5.5 µs CPU per entry for it, 4.9 µs for execAsPipeline,
 * 21.4 µs for sendCommand per entry; so it was removed.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Connection } from '../src/bus/connection.js';
import { StreamProducer } from '../src/bus/streams/producer.js';

import { RedisProcess } from '../src/ops/redis-process.js';

const N = 200_000;
const BATCH = 1000;
const PREFIX = ['XADD', 'bench:batching', 'MAXLEN', '~', '1000000', '*'];
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

type Fields = Record<string, string>;
type Sender = (entries: Fields[]) => Promise<unknown>;

interface Figure {
  perS: number;
  cpuUsPerEntry: number;
}

function entries(): Fields[] {
  return Array.from({ length: BATCH }, (_, i) => ({
    id: '0x101',
    data: 'AA FF 04 10',
    ts: String(1e12 + i),
    dlc: '4',
  }));
}

async function measure(send: Sender, n = N): Promise<Figure> {
  const batch = entries();
  await send(batch); // warm-up
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < n / BATCH; i++) {
    inFlight.push(send(batch));
    if (inFlight.length >= 2) await inFlight.shift();
  }
  await Promise.all(inFlight);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  return { perS: n / s, cpuUsPerEntry: (cpu.user + cpu.system) / n };
}

/** The bus's StreamProducer (node-redis `multi().execAsPipeline()`), one batch per addMany. */
function producerSender(p: StreamProducer): Sender {
  return async (list) => {
    const ids = await p.addMany(list);
    if (ids.length !== list.length) throw new Error('producer: missing ids');
  };
}

function sendCommandSender(conn: Connection): Sender {
  return async (list) => {
    const replies = await Promise.all(
      list.map((f) => {
        const args = [...PREFIX];
        for (const k in f) args.push(k, f[k] as string);
        return conn.client.sendCommand(args);
      }),
    );
    if (replies.length !== list.length) throw new Error('sendCommand: missing replies');
  };
}

export async function run(): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-bus-batching-'));
  const redis = await RedisProcess.start({ dir: path.join(dir, 'redis'), aof: false, rdb: false });
  const conn = await Connection.connect({ url: redis.url, commandTimeoutMs: 60_000 });
  const producer = new StreamProducer(conn, {
    stream: 'bench:batching',
    maxBatch: BATCH,
    lingerMs: 1000,
    trim: { maxLen: 1_000_000 },
  });
  const ways: Record<string, Sender> = {
    producer_exec_as_pipeline: producerSender(producer),
    node_redis_send_command: sendCommandSender(conn),
  };
  const results: Record<string, Figure[]> = {};
  try {
    for (const send of Object.values(ways)) await measure(send, 50_000); // JIT warm-up, not counted
    for (let round = 0; round < 3; round++) {
      for (const [name, send] of Object.entries(ways)) {
        (results[name] ??= []).push(await measure(send));
        await conn.client.del('bench:batching');
      }
    }
    const out: Record<string, number> = { load_avg_1m: Math.round(os.loadavg()[0]! * 10) / 10 };
    for (const [name, figs] of Object.entries(results)) {
      out[`${name}_per_s`] = Math.round(median(figs.map((f) => f.perS)));
      out[`${name}_cpu_us_per_entry`] = Math.round(median(figs.map((f) => f.cpuUsPerEntry)) * 100) / 100;
    }
    const r = out.producer_exec_as_pipeline_cpu_us_per_entry!;
    out.send_command_cpu_vs_producer = Math.round((out.node_redis_send_command_cpu_us_per_entry! / r) * 100) / 100;
    return out;
  } finally {
    await producer.close();
    await conn.close();
    await redis.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
