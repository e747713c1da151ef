/**
 * `npm run bench -- automation`: time to the relay register write (OLAT) on
 * the simulated MCP23017, through the real services and a redis-server
 * started here, with the shipped config/devices.yaml (every safety limit
 * zeroed, so any reading may switch a relay) and a SQLite store.
 *
 * 1. frame path (a reading's way from the CAN stream to a relay): PT100 frames of node 1 XADDed to
 *    `can:raw` at 1,000 frames/s; `canopy worker` (its own process)
 *    decodes, validates and publishes; the automation (in this process, so
 *    both ends use one clock) switches heater_f. The dry bulb flips between
 *    24.4 and 25.6 °C (across the 25 ± 0.5 band, within the 2 °C/s rate
 *    check) every 10 frames: up to 100 relay writes/s. Each write is timed
 *    from the XADD of the frame whose value it reflects (frame ts tags).
 *    → frame_p50_ms, frame_p99_ms, frame_max_ms, frame_rate_per_s, frame_writes
 * 2. live-update path: `sensor:update` published directly at 1,000/s, every
 *    update flipping heater_f (1,000 relay writes/s).
 *    → update_p50_ms, update_p99_ms, update_max_ms, update_writes
 * Also: history_rows / history_rows_dropped (the store's bounded queue).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { Connection } from '../src/bus/connection.js';
import { spawnService } from './lib/spawn-service.js';
import { defaultConfigFile } from '../src/can/paths.js';
import { Mcp23017Simulator } from '../src/hw/mcp23017-sim.js';
import { RedisProcess } from '../src/ops/redis-process.js';
import { start } from '../src/services/automation/index.js';
import { createLogger } from '../src/util/log.js';
import { percentile } from './report.js';
import { CAN_RAW, SENSOR_UPDATE } from '../src/contracts/names.js';

const RATE = 1000;
const FRAMES = 20_000;
const FLIP_EVERY = 10;
// (the worker publishes one update per room per batch, carrying the newest value: flips inside one
// batch collapse, so frame_writes ≤ FRAMES / FLIP_EVERY)
const UPDATES = 10_000;
const r3 = (x: number) => Math.round(x * 1000) / 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pt100(dryC: number, wetC: number): Record<string, string> {
  const b = Buffer.alloc(5);
  b.writeInt16LE(Math.round(dryC * 100), 0);
  b.writeInt16LE(Math.round(wetC * 100), 2);
  const data = [...b].map((x) => x.toString(16).toUpperCase().padStart(2, '0')).join(' ');
  return { id: '0x101', data, ts: String(Date.now()), dlc: '5' };
}

/** Sends `n` items at RATE/s; `send(i)` returns the promise of the Redis call. */
async function paced(n: number, send: (i: number) => Promise<unknown>, sendAt: number[]): Promise<number> {
  const t0 = performance.now();
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const wait = t0 + (i * 1000) / RATE - performance.now();
    if (wait > 1) await sleep(wait);
    sendAt.push(performance.now());
    send(i).catch(() => failed++);
  }
  if (failed) throw new Error(`${failed} Redis calls failed`);
  return n / ((performance.now() - t0) / 1000);
}

/** Latency of each write from the first item, after the previous write's cause, that asked for its state. */
function latencies(writes: { at: number; on: boolean }[], sendAt: number[], wants: (i: number) => boolean): number[] {
  const out: number[] = [];
  let i = 0;
  for (const w of writes) {
    while (i < sendAt.length && wants(i) !== w.on) i++;
    if (i >= sendAt.length) break;
    out.push(w.at - sendAt[i]!);
    while (i < sendAt.length && wants(i) === w.on) i++;
  }
  return out.sort((a, b) => a - b);
}

export async function run(): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-automation-'));
  const redis = await RedisProcess.start({ dir: path.join(dir, 'redis'), aof: false, rdb: false });
  const doc = parse(fs.readFileSync(defaultConfigFile('devices.yaml'), 'utf8')) as {
    safety: Record<string, number>;
    devices: {
      name: string;
      safety?: Record<string, number>;
      output: { address: number; port: string; pin: number };
    }[];
  };
  // No limit gets in the way of the measurement (a file-wide maxOnS applies to devices safe when off).
  const zero = { minOnS: 0, minOffS: 0, maxStarts: 0, staleAfterS: 30 };
  doc.safety = { ...zero, maxOnS: 86_400 };
  for (const d of doc.devices) d.safety = zero;
  const heater = doc.devices.find((d) => d.name === 'heater_f')!.output;
  const devicesFile = path.join(dir, 'devices.yaml');
  fs.writeFileSync(devicesFile, stringify(doc));
  const databaseUrl = `sqlite:${path.join(dir, 'canopy.db')}`;

  // heater_f latch writes that change its bit (active-low: level 0 = on)
  const sim = new Mcp23017Simulator();
  const bit = 1 << heater.pin;
  let last: number | undefined;
  const writes: { at: number; on: boolean; readingTs: number }[] = [];
  const reading = { ts: () => NaN };
  sim.onWrite((w) => {
    if (w.address !== heater.address || w.name !== 'OLAT' || w.port !== heater.port) return;
    const level = w.value & bit;
    if (last !== undefined && level !== last) writes.push({ at: w.at, on: level === 0, readingTs: reading.ts() });
    last = level;
  });

  const worker = spawnService(['worker'], {
    env: { REDIS_URL: redis.url, DATABASE_URL: `sqlite:${path.join(dir, 'worker.db')}`, LOG_LEVEL: 'error' },
    stdio: 'ignore',
  });
  const svc = await start({
    devicesFile,
    bus: sim,
    redisUrl: redis.url,
    databaseUrl,
    logger: createLogger('automation', 'error'),
  });
  reading.ts = () => svc.engine.reading('dry_bulb_f')?.ts ?? NaN;
  const pub = await Connection.connect({ url: redis.url, clientName: 'bench-producer' });
  pub.on('error', () => undefined);
  try {
    // warm-up: the worker's group exists and the heater is off
    for (let i = 0; i < 50 && writes.length === 0; i++) {
      await pub.client.xAdd(CAN_RAW, '*', pt100(i % 2 ? 25.6 : 24.4, 20));
      await sleep(100);
    }
    await pub.client.xAdd(CAN_RAW, '*', pt100(25.6, 20));
    await sleep(1500);

    // 1. frames: frame i carries ts = base + i (unique, and ≈ its real send time at 1 frame/ms);
    //    the worker's update carries the ts of the newest frame of its batch, which the automation
    //    holds as the reading's ts when it writes: that identifies the frame the write reflects.
    writes.length = 0;
    const frameAt: number[] = [];
    const frameOn = (i: number) => Math.floor(i / FLIP_EVERY) % 2 === 0; // 24.4 °C → heater on
    const base = Date.now();
    const frameRate = await paced(
      FRAMES,
      (i) =>
        pub.client.xAdd(CAN_RAW, '*', {
          ...pt100(frameOn(i) ? 24.4 : 25.6, frameOn(i) ? 20.4 : 21.6),
          ts: String(base + i),
        }),
      frameAt,
    );
    await sleep(3000);
    const frameLat = writes
      .map((w) => w.at - (frameAt[w.readingTs - base] ?? NaN))
      .filter((x) => Number.isFinite(x))
      .sort((a, b) => a - b);
    const frameWrites = writes.length;

    // 2. live updates straight on sensor:update
    await pub.client.publish(SENSOR_UPDATE, update(25.6));
    await sleep(500);
    writes.length = 0;
    const updAt: number[] = [];
    const updOn = (i: number) => i % 2 === 0;
    await paced(UPDATES, (i) => pub.client.publish(SENSOR_UPDATE, update(updOn(i) ? 24.4 : 25.6)), updAt);
    await sleep(3000);
    const updLat = latencies(writes, updAt, updOn);

    await svc.idle();
    await svc.recorder.flush();
    const { recorded, dropped } = svc.recorder.stats;
    return {
      frame_rate_per_s: Math.round(frameRate),
      frames: FRAMES,
      frame_writes: frameWrites,
      frame_p50_ms: r3(percentile(frameLat, 50)),
      frame_p99_ms: r3(percentile(frameLat, 99)),
      frame_max_ms: r3(frameLat.at(-1) ?? NaN),
      updates: UPDATES,
      update_writes: updLat.length,
      update_p50_ms: r3(percentile(updLat, 50)),
      update_p99_ms: r3(percentile(updLat, 99)),
      update_max_ms: r3(updLat.at(-1) ?? NaN),
      history_rows: recorded,
      history_rows_dropped: dropped,
    };
  } finally {
    await svc.stop();
    await pub.close();
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    await redis.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function update(dryC: number): string {
  return JSON.stringify({
    location: 'Flower Room',
    cluster: 'front',
    sensor_data: { dry_bulb_f: dryC, rh_f: 70 },
    timestamp: new Date().toISOString(),
  });
}
