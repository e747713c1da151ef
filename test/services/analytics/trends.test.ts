import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/bus/errors.js';
import { Connection } from '../../../src/bus/connection.js';
import { Subscriber } from '../../../src/bus/subscriber.js';
import {
  estimate,
  parseLimit,
  RollingWindow,
  start,
  type AnalyticsHandle,
  type AnalyticsSnapshot,
} from '../../../src/services/analytics/index.js';
import { createLogger } from '../../../src/util/log.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';

const DEVICES = `timeZone: UTC
rooms:
  Flower Room: { maxTemp: temp_max }
setpoints:
  temp_day: { value: 25, min: 15, max: 32 }
  temp_max: { value: 29, min: 20, max: 38 }
devices:
  - name: heater_f
    location: Flower Room
    cluster: front
    kind: heater
    output: { address: 0x20, port: A, pin: 1, activeLow: true }
    safeState: 0
    safety: { maxOnS: 7200 }
    control: { type: hysteresis, sensor: dry_bulb_f, setpoint: temp_day, band: 1.0, action: raise }
  - name: fan_f
    location: Flower Room
    cluster: front
    kind: exhaust_fan
    output: { address: 0x20, port: A, pin: 2, activeLow: true }
    safeState: 1
    control: { type: hysteresis, sensor: dry_bulb_f, setpoint: temp_max, band: 1.0, action: lower }
`;
const RULES = `rules:
  - { id: air-too-hot, sensor: "dry_bulb_*", above: 32, for_s: 300 }
  - { id: water-too-warm, sensor: water_temp, above: 24 }
`;

let redisUrl: string;
let conn: Connection;
let an: AnalyticsHandle;
let dir: string;

beforeAll(async () => {
  const redis = await startRedis();
  redisUrl = redis.url;
  conn = await Connection.connect({ url: redis.url });
  dir = tempDir();
  fs.writeFileSync(path.join(dir, 'devices.yaml'), DEVICES);
  fs.writeFileSync(path.join(dir, 'alerts.yaml'), RULES);
  an = await start({
    publishMs: 60_000,
    latestTtlS: 90,
    vpdBands: { 'Flower Room': [1.0, 1.4] },
    limits: [...parseLimit('co2_*=400:1500'), ...parseLimit('rh_f=55:')],
    devicesFile: path.join(dir, 'devices.yaml'),
    alertRulesFile: path.join(dir, 'alerts.yaml'),
    runtime: { connection: { url: redis.url }, log: createLogger('analytics', 'silent') },
  });
});
afterAll(async () => {
  await an.stop();
  await conn.close();
});

describe('trend and time to threshold (pure)', () => {
  it('the least-squares slope of a straight series is exact, per hour, with R² 1', () => {
    const w = new RollingWindow(3_600_000);
    for (let m = 0; m <= 30; m++) w.add(m * 60_000, 20 + 0.1 * m); // +6 per hour
    expect(w.trend(30 * 60_000, 3, 0)).toEqual({ points: 31, span_s: 1800, slope_per_h: 6, r2: 1 });
    // noise lowers R², not the sign
    const n = new RollingWindow(3_600_000);
    for (let m = 0; m <= 30; m++) n.add(m * 60_000, 20 - 0.05 * m + (m % 2 ? 0.2 : -0.2));
    const t = n.trend(30 * 60_000, 3, 0);
    expect(t.slope_per_h).toBeLessThan(0);
    expect(t.r2).toBeGreaterThan(0);
    expect(t.r2).toBeLessThan(1);
    // too few points or too short a span: no slope
    expect(w.trend(30 * 60_000, 40, 0).slope_per_h).toBeNull();
    expect(w.trend(30 * 60_000, 3, 3_600_000).slope_per_h).toBeNull();
    // readings older than the window are forgotten
    expect(w.trend(95 * 60_000, 3, 0).points).toBe(0);
  });

  it('estimates: approaching, moving away, crossed, beyond the horizon', () => {
    const hi = { sensor: 't', name: 'max', value: 30, crossing: 'above' as const, source: 'config' as const };
    const lo = { ...hi, name: 'min', value: 10, crossing: 'below' as const };
    const at = Date.parse('2026-03-01T12:00:00.000Z');
    expect(estimate(hi, 27, at, 2, 86_400)).toMatchObject({
      crossed: false,
      eta_s: 5400,
      eta_at: '2026-03-01T13:30:00.000Z',
    });
    expect(estimate(hi, 27, at, -2, 86_400)).toMatchObject({ eta_s: null, eta_at: null });
    expect(estimate(lo, 27, at, -2, 86_400)).toMatchObject({ eta_s: 30_600 });
    expect(estimate(lo, 27, at, -2, 3600)).toMatchObject({ eta_s: null });
    expect(estimate(hi, 31, at, -5, 86_400)).toMatchObject({ crossed: true, eta_s: 0 });
    expect(estimate(hi, 27, at, null, 86_400)).toMatchObject({ crossed: false, eta_s: null });
    expect(estimate(hi, 27, at, 0, 86_400)).toMatchObject({ eta_s: null });
  });

  it('configured limits parse, bad ones are a ConfigError', () => {
    expect(parseLimit('co2_*=400:1500').map((t) => `${t.sensor} ${t.crossing} ${t.value}`)).toEqual([
      'co2_* below 400',
      'co2_* above 1500',
    ]);
    expect(parseLimit('water_temp=:24')).toHaveLength(1);
    for (const bad of ['co2', 'x=', 'x=:', 'x=5:3', 'x=a:b', '=1:2'])
      expect(() => parseLimit(bad)).toThrow(ConfigError);
  });
});

describe('canopy analytics trends', () => {
  it('readings on sensor:update give trends and time-to-threshold on analytics:update and in analytics:latest', async () => {
    const sub = await Subscriber.create(conn);
    const got: AnalyticsSnapshot[] = [];
    await sub.subscribe<AnalyticsSnapshot>('analytics:update', (m) => void got.push(m));
    const end = Date.now() - 1000;
    const send = (data: Record<string, number>, at: number) =>
      conn.client.publish(
        'sensor:update',
        JSON.stringify({
          location: 'Flower Room',
          cluster: 'front',
          sensor_data: data,
          timestamp: new Date(at).toISOString(),
        }),
      );
    // 20 minutes, one reading a minute: air warming 3 °C/h, RH falling 30 %/h, CO2 flat
    for (let m = 0; m <= 20; m++) {
      await send(
        { dry_bulb_f: 26 + 0.05 * m, rh_f: 70 - 0.5 * m, co2_f: 800, vpd_f: 1.1 + 0.005 * m },
        end - (20 - m) * 60_000,
      );
    }
    await send({ water_temp: 24.5 }, end - 60_000);
    await send({ water_temp: 24.6 }, end);

    let snap: AnalyticsSnapshot | undefined;
    const deadline = Date.now() + 30_000;
    while (snap?.sensors.water_temp?.trend.points !== 2) {
      if (Date.now() > deadline) throw new Error('the readings did not arrive');
      await new Promise((r) => setTimeout(r, 50));
      snap = await an.publishNow();
    }

    const air = snap.sensors.dry_bulb_f!;
    expect(air.trend).toEqual({ window_s: 3600, points: 21, span_s: 1200, slope_per_h: 3, r2: 1 });
    expect(air.last).toBe(27);
    // temp_day (25, below) is moving away; temp_max (29) in 40 min; the hard limit of the room is the same
    // level and is not listed twice; the alert rule (32) in 100 min
    expect(air.thresholds.map((t) => [t.name, t.source, t.crossing, t.value, t.eta_s])).toEqual([
      ['temp_day', 'setpoint', 'below', 25, null],
      ['temp_max', 'setpoint', 'above', 29, 2400],
      ['air-too-hot', 'alert', 'above', 32, 6000],
    ]);
    expect(air.next).toMatchObject({ name: 'temp_max', eta_s: 2400, eta_at: new Date(end + 2_400_000).toISOString() });

    const rh = snap.sensors.rh_f!;
    expect(rh.trend.slope_per_h).toBe(-30);
    expect(rh.next).toMatchObject({ name: 'low limit', source: 'config', value: 55, eta_s: 600 });

    const co2 = snap.sensors.co2_f!;
    expect(co2.trend.slope_per_h).toBe(0);
    expect(co2.thresholds.map((t) => t.value)).toEqual([400, 1500]);
    expect(co2.next).toBeNull();

    const vpd = snap.sensors.vpd_f!;
    expect(vpd.thresholds.filter((t) => t.source === 'vpd-band').map((t) => t.value)).toEqual([1.0, 1.4]);
    expect(vpd.next).toMatchObject({ name: 'vpd band high', value: 1.4 });
    expect(vpd.next?.eta_s).toBeCloseTo(2400, -1); // (1.4 - 1.2) / 0.3 per hour

    // two readings one minute apart: too little for a trend; already above the rule's level
    const water = snap.sensors.water_temp!;
    expect(water.trend.slope_per_h).toBeNull();
    expect(water.thresholds).toEqual([expect.objectContaining({ name: 'water-too-warm', crossed: true, eta_s: 0 })]);
    expect(water.next).toBeNull();

    // the API reads the latest snapshot from a key that expires when analytics stops refreshing it
    const latest = JSON.parse(String(await conn.client.get('analytics:latest'))) as AnalyticsSnapshot;
    expect(latest.sensors.dry_bulb_f?.next?.eta_s).toBe(2400);
    const ttl = await conn.client.ttl('analytics:latest');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(90);
    // and the same snapshot went out on analytics:update
    const d2 = Date.now() + 20_000;
    while (!got.some((g) => g.sensors.water_temp?.trend.points === 2)) {
      if (Date.now() > d2) throw new Error('analytics:update did not arrive');
      await new Promise((r) => setTimeout(r, 20));
    }
    await sub.close();
  });

  it('a bad devices file or option is refused at start', async () => {
    const bad = path.join(dir, 'bad-devices.yaml');
    fs.writeFileSync(bad, 'devices: [ { name: x } ]\n');
    const runtime = { connection: { url: redisUrl }, log: createLogger('analytics', 'silent') };
    await expect(start({ devicesFile: bad, alertRulesFile: null, runtime })).rejects.toThrow(ConfigError);
    await expect(start({ devicesFile: null, alertRulesFile: null, trendWindowMs: -1, runtime })).rejects.toThrow(
      ConfigError,
    );
  });
});
