/**
 * `npm run bench -- automation`: time from a live update's PUBLISH on
 * `sensor:update` to the relay register write (OLAT) on the simulated
 * MCP23017, at 1,000 updates/s, through the real service (`start()` of
 * src/services/automation) and a redis-server started here.
 *
 * The shipped config/devices.yaml is used with every safety limit zeroed
 * (so each update may switch a relay), and every update flips `dry_bulb_f`
 * across heater_f's hysteresis band (setpoint 25 ± 0.5: 24.4 ↔ 25.6 °C) and no other
 * device's threshold, so each one must cause exactly one
 * write of heater_f's latch bit. (The CAN worker is not on main yet: when it
 * lands, the start point becomes the frame's XADD on `can:raw`.)
 *  - p50_ms / p99_ms / max_ms: publish → register write
 *  - rate_per_s: the update rate achieved
 *  - updates / writes_matched: sent, and heater latch writes seen
 *  - history_rows / history_rows_dropped: control history rows the store took, and those
 *    dropped from the bounded queue (one row per update: 1,000 rows/s is beyond what
 *    one SQLite transaction per row takes while the control loop stays responsive)
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { Connection } from '../src/bus/connection.js';
import { Mcp23017Simulator } from '../src/hw/mcp23017-sim.js';
import { RedisProcess } from '../src/ops/redis-process.js';
import { defaultConfigFile } from '../src/can/paths.js';
import { start } from '../src/services/automation/index.js';
import { createLogger } from '../src/util/log.js';
import { percentile } from './report.js';

const N = 20_000;
const RATE = 1000;

export async function run(): Promise<Record<string, number>> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'canopy-bench-automation-'));
  const redis = await RedisProcess.start({ dir: path.join(dir, 'redis'), aof: false, rdb: false });
  const doc = parse(fs.readFileSync(defaultConfigFile('devices.yaml'), 'utf8')) as {
    safety: Record<string, number>;
    devices: {
      name: string;
      safety?: Record<string, number>;
      output: { address: number; port: string; pin: number; activeLow?: boolean };
    }[];
  };
  const zero = { minOnS: 0, minOffS: 0, maxOnS: 0, maxStarts: 0, staleAfterS: 30 };
  doc.safety = zero;
  for (const d of doc.devices) d.safety = zero;
  const heater = doc.devices.find((d) => d.name === 'heater_f')!.output;
  const devicesFile = path.join(dir, 'devices.yaml');
  fs.writeFileSync(devicesFile, stringify(doc));

  let failed = 0;
  const sim = new Mcp23017Simulator();
  const bit = 1 << heater.pin;
  let lastLevel: number | undefined;
  const writeAt: number[] = [];
  sim.onWrite((w) => {
    if (w.address !== heater.address || w.name !== 'OLAT' || w.port !== heater.port) return;
    const level = w.value & bit;
    if (lastLevel !== undefined && level !== lastLevel) writeAt.push(w.at);
    lastLevel = level;
  });
  const log = createLogger('automation', 'error');
  // the full service: Redis, the simulated chips, and the SQLite store taking every change
  const databaseUrl = `sqlite:${path.join(dir, 'canopy.db')}`;
  const svc = await start({ devicesFile, bus: sim, redisUrl: redis.url, databaseUrl, logger: log });
  const pub = await Connection.connect({ url: redis.url, clientName: 'bench-publisher' });
  pub.on('error', () => failed++);
  const sendAt: number[] = [];
  const msg = (v: number) =>
    JSON.stringify({
      location: 'Flower Room',
      cluster: 'front',
      sensor_data: { dry_bulb_f: v, rh_f: 60, co2_f: 900 },
      timestamp: new Date().toISOString(),
    });
  // warm-up: settle the heater to off (25.6 °C), then measure from a known state
  await pub.client.publish('sensor:update', msg(25.6));
  await new Promise((r) => setTimeout(r, 500));
  writeAt.length = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sendAt.push(performance.now());
    pub.client.publish('sensor:update', msg(i % 2 === 0 ? 24.4 : 25.6)).catch(() => failed++);
  }
  const elapsed = (performance.now() - t0) / 1000;
  const deadline = Date.now() + 5000;
  while (writeAt.length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const lat = writeAt.slice(0, N).map((t, i) => t - sendAt[i]!);
  lat.sort((a, b) => a - b);
  await svc.idle();
  await svc.recorder.flush();
  const { recorded, dropped } = svc.recorder.stats;
  await svc.stop();
  await pub.close();
  await redis.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  const r3 = (x: number) => Math.round(x * 1000) / 1000;
  return {
    updates: N,
    writes_matched: writeAt.length,
    rate_per_s: Math.round(N / elapsed),
    p50_ms: r3(percentile(lat, 50)),
    p99_ms: r3(percentile(lat, 99)),
    max_ms: r3(lat[lat.length - 1] ?? NaN),
    history_rows: recorded,
    history_rows_dropped: dropped,
    publish_failures: failed,
  };
}
