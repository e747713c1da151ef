/**
 * `npm run bench -- automation`: time from a live update's PUBLISH on
 * `sensor:update` to the relay register write (OLAT) on the simulated
 * MCP23017, at 1,000 updates/s, through the real service (`start()` of
 * src/services/automation) and a redis-server started here.
 *
 * The shipped config/devices.yaml is used with every safety limit zeroed
 * (so each update may switch a relay), and every update flips `dry_bulb_f`
 * across heater_f's hysteresis band (20 ↔ 30 °C), so each one must cause exactly one
 * write of heater_f's latch bit. (The CAN worker is not on main yet: when it
 * lands, the start point becomes the frame's XADD on `can:raw`.)
 *  - p50_ms / p99_ms / max_ms: publish → register write
 *  - rate_per_s: the update rate achieved
 *  - updates / writes_matched: sent, and heater latch writes seen
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
  const svc = await start({ devicesFile, bus: sim, redisUrl: redis.url, logger: log });
  const pub = await Connection.connect({ url: redis.url, clientName: 'bench-publisher' });
  const sendAt: number[] = [];
  const msg = (v: number) =>
    JSON.stringify({
      location: 'Flower Room',
      cluster: 'front',
      sensor_data: { dry_bulb_f: v, rh_f: 60, co2_f: 900 },
      timestamp: new Date().toISOString(),
    });
  // warm-up: settle the heater to off (30 °C), then measure from a known state
  await pub.client.publish('sensor:update', msg(30));
  await new Promise((r) => setTimeout(r, 500));
  writeAt.length = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const due = t0 + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    sendAt.push(performance.now());
    void pub.client.publish('sensor:update', msg(i % 2 === 0 ? 20 : 30));
  }
  const elapsed = (performance.now() - t0) / 1000;
  const deadline = Date.now() + 5000;
  while (writeAt.length < N && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const lat = writeAt.slice(0, N).map((t, i) => t - sendAt[i]!);
  lat.sort((a, b) => a - b);
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
  };
}
