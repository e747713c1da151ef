/**
 * Part of `npm run bench -- scale`: a Redis primary killed (kill -9) mid-run
 * under Sentinel (one primary, one replica, three sentinels on loopback).
 *
 * Figures:
 * - failover_recovery_s: from the kill until the worker stores frames again
 *   (the sentinels' detection and promotion, the services' move to the new
 *   primary, the scanner's spool replay);
 * - failover_frames_lost: frames of the replayed capture not stored after the
 *   failover (must be 0);
 * - failover_promotion_s: from the kill until the sentinels name the new
 *   primary (the floor of recovery: down-after-milliseconds is 1000 here);
 * - scanner_frames_per_s_wait0 / _wait1 and scanner_wait_cost_pct: the
 *   scanner replaying a capture as fast as it can into a primary with a
 *   replica, without WAIT and with WAIT 1 after every batch (alternated,
 *   best of two each).
 *
 * BENCH_FAILOVER_FRAMES sets the capture size (100,000).
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { createClient } from 'redis';
import { formatCanId, formatData } from '../../src/can/frame.js';
import { spawnService } from '../lib/spawn-service.js';
import { encodePt100 } from '../../src/can/protocol.js';
import type { RedisProcess } from '../../src/ops/redis-process.js';
import { startSentinelTopology } from '../../src/ops/sentinel-topology.js';
import { start as startScanner } from '../../src/services/scanner/index.js';
import { createLogger } from '../../src/util/log.js';

/** dist/bench/scale → dist/src/cli/main.js */
const N = Number(process.env.BENCH_FAILOVER_FRAMES || 100_000);
const SPEED = 5;

function writeLog(file: string, n: number): void {
  const t0 = Date.now() - n - 60_000;
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const f = encodePt100(1 + (i % 3), 20 + (i % 50) / 10, 18 + (i % 40) / 10, 0, t0 + i);
    const ts = `${Math.floor(f.ts / 1000)}.${String((f.ts % 1000) * 1000).padStart(6, '0')}`;
    lines.push(`(${ts}) can0 ${formatCanId(f.id, false).slice(2)}#${formatData(f.data).replace(/ /g, '')}`);
  }
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

function rows(dbPath: string, distinct = false): number {
  let db: Database.Database | undefined;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
    const sql = `SELECT COUNT(${distinct ? 'DISTINCT timestamp' : '*'}) AS n FROM can_messages`;
    return (db.prepare(sql).get() as { n: number }).n;
  } catch {
    return 0;
  } finally {
    db?.close();
  }
}

async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (
    !(await Promise.resolve()
      .then(fn)
      .catch(() => false))
  ) {
    if (Date.now() > deadline) throw new Error(`failover bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until the row count stops growing for `quietMs` (or reaches `target`). */
async function settle(dbPath: string, target: number, quietMs: number, maxMs: number): Promise<number> {
  const deadline = Date.now() + maxMs;
  let last = -1;
  let since = Date.now();
  for (;;) {
    const n = rows(dbPath);
    if (n >= target) return n;
    if (n !== last) {
      last = n;
      since = Date.now();
    }
    if (Date.now() - since > quietMs || Date.now() > deadline) return n;
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function failoverRun(dir: string, servers: RedisProcess[], children: ChildProcess[]) {
  const topo = await startSentinelTopology({ dir: path.join(dir, 'redis'), onStart: (rp) => servers.push(rp) });
  const dbPath = path.join(dir, 'canopy.db');
  const log = path.join(dir, 'capture.log');
  writeLog(log, N);
  const env = {
    ...process.env,
    REDIS_URL: '',
    REDIS_SENTINELS: topo.sentinelList,
    REDIS_SENTINEL_MASTER: topo.masterName,
    DATABASE_URL: `sqlite:${dbPath}`,
    CANOPY_DATA_DIR: dir,
    LOG_LEVEL: 'error',
  };
  const spawnCli = (args: string[]) => {
    const c = spawnService(args, { env, stdio: 'ignore' });
    children.push(c);
    return c;
  };
  spawnCli(['worker', '--name', 'bench-failover', '--batch', '500']);
  spawnCli(['scanner', '--source', `replay:${log}@${SPEED}`]);
  await until('frames stored before the kill', () => rows(dbPath) >= N / 5, 120_000);
  const killedAt = Date.now();
  const old = await topo.killPrimary();
  await topo.waitForFailover(old);
  const promotedAt = Date.now();
  const atPromotion = rows(dbPath);
  await until('the worker storing again', () => rows(dbPath) > atPromotion, 60_000);
  const recoveredAt = Date.now();
  await settle(dbPath, N, 20_000, 120_000);
  return {
    failover_recovery_s: (recoveredAt - killedAt) / 1000,
    failover_frames_lost: N - rows(dbPath, true),
    failover_promotion_s: (promotedAt - killedAt) / 1000,
  };
}

/** The scanner replaying `n` frames flat out into a primary with one replica; frames/s. */
async function scannerRate(dir: string, servers: RedisProcess[], waitReplicas: number, round: number): Promise<number> {
  const topo = await startSentinelTopology({
    dir: path.join(dir, `redis-wait${waitReplicas}-${round}`),
    onStart: (rp) => servers.push(rp),
  });
  const log = path.join(dir, 'rate.log');
  if (!fs.existsSync(log)) writeLog(log, N);
  const primary = await topo.primary();
  const url = `redis://${primary.host}:${primary.port}`;
  const t0 = Date.now();
  const scanner = await startScanner({
    source: `replay:${log}`,
    redisUrl: url,
    useRedis: true,
    spoolDir: path.join(dir, `spool-${waitReplicas}-${round}`),
    stream: 'can:raw',
    trim: { maxLen: 2_000_000 },
    waitReplicas,
    logger: createLogger('bench', 'silent'),
  });
  await scanner.done;
  const s = Date.now() - t0;
  const c = createClient({ url });
  await c.connect();
  const len = await c.xLen('can:raw');
  c.destroy();
  await scanner.stop();
  await topo.stop();
  if (len !== N) throw new Error(`failover bench: the scanner wrote ${len} of ${N} frames`);
  return Math.round(N / (s / 1000));
}

export async function measure(): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-failover-'));
  const servers: RedisProcess[] = [];
  const children: ChildProcess[] = [];
  // the in-process scanner's fabric files (if it ever needs them) go to the temp dir too
  const savedDataDir = process.env.CANOPY_DATA_DIR;
  process.env.CANOPY_DATA_DIR = dir;
  try {
    const figures = await failoverRun(dir, servers, children);
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    // alternated, best of two each: the first run also warms the JIT and the page cache
    let wait0 = 0;
    let wait1 = 0;
    for (let round = 0; round < 2; round++) {
      wait0 = Math.max(wait0, await scannerRate(dir, servers, 0, round));
      wait1 = Math.max(wait1, await scannerRate(dir, servers, 1, round));
    }
    return {
      ...figures,
      scanner_frames_per_s_wait0: wait0,
      scanner_frames_per_s_wait1: wait1,
      scanner_wait_cost_pct: Math.round((1 - wait1 / wait0) * 1000) / 10,
    };
  } finally {
    if (savedDataDir === undefined) delete process.env.CANOPY_DATA_DIR;
    else process.env.CANOPY_DATA_DIR = savedDataDir;
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await Promise.allSettled(servers.map((s) => s.kill()));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
