/**
 * `npm run bench -- fabric`: what the fabric's file fallback costs next to Redis,
 * against a redis-server it starts itself and a temporary directory.
 *  - heartbeat_{redis,file}_p50_us / p99: one beat (SET PX vs temp file + fsync + rename)
 *  - touch_{redis,file}_p50_us / p99: one Registry.touch (Lua vs read + merge + atomic write)
 *  - admin_send_{redis,file}_p50_us / p99: queueing one admin message without waiting for the reply
 *  - replay_identities_per_s: identity files replayed to Redis after an outage (2,000 records)
 * 1,000 rounds each after 50 warm-up rounds.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { sendAdminMessage } from '../src/bus/admin-send.js';
import { Connection } from '../src/bus/connection.js';
import { FabricFiles } from '../src/bus/fallback/records.js';
import { replayIdentities } from '../src/bus/fallback/replay.js';
import { Heartbeat } from '../src/bus/presence.js';
import { Registry } from '../src/bus/registry.js';
import { RedisProcess } from '../src/ops/redis-process.js';
import { percentile } from './report.js';

const ROUNDS = 1000;

async function timeEach(fn: (i: number) => Promise<unknown>): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < 50; i++) await fn(-1 - i);
  const us: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = process.hrtime.bigint();
    await fn(i);
    us.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  us.sort((a, b) => a - b);
  return { p50: Math.round(percentile(us, 50)), p99: Math.round(percentile(us, 99)) };
}

export async function run(): Promise<Record<string, number>> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-fabric-'));
  const redis = await RedisProcess.start({ dir: path.join(tmp, 'redis'), aof: false, rdb: false });
  const conn = await Connection.connect({ url: redis.url, healthCheckIntervalMs: 0 });
  const files = new FabricFiles({ dir: path.join(tmp, 'fabric') });
  const figures: Record<string, number> = {};
  const put = (name: string, r: { p50: number; p99: number }) => {
    figures[`${name}_p50_us`] = r.p50;
    figures[`${name}_p99_us`] = r.p99;
  };
  try {
    const viaRedis = await Heartbeat.start(conn, {
      service: 'bench',
      instance: 'b:r:1',
      ttlSeconds: 3600,
      intervalMs: 3_000_000,
      files,
    });
    const viaFile = await Heartbeat.start(conn, {
      service: 'bench',
      instance: 'b:f:1',
      ttlSeconds: 3600,
      intervalMs: 3_000_000,
      files,
      useRedis: false,
    });
    put('heartbeat_redis', await timeEach(() => viaRedis.beat()));
    put('heartbeat_file', await timeEach(() => viaFile.beat()));
    await viaRedis.close();
    await viaFile.close();

    const regRedis = new Registry(conn, { files });
    const regFile = new Registry(conn, { files, useRedis: false });
    put('touch_redis', await timeEach((i) => regRedis.touch('bench', String(i % 50), { i })));
    put('touch_file', await timeEach((i) => regFile.touch('bench', String(i % 50), { i })));

    const send = (useRedis: boolean) => () =>
      sendAdminMessage(conn, 'b:x:1', 'ping', {}, { files, useRedis, replyTimeoutMs: 0 });
    put('admin_send_redis', await timeEach(send(true)));
    put('admin_send_file', await timeEach(send(false)));

    for (let i = 0; i < 2000; i++) await files.touchIdentity('replay', String(i), { i }, 3600, new Date());
    const t0 = process.hrtime.bigint();
    const n = await replayIdentities(conn, files);
    figures.replay_identities_per_s = Math.round(n / (Number(process.hrtime.bigint() - t0) / 1e9));
  } finally {
    await conn.close();
    await redis.kill();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return figures;
}
