import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { Subscriber } from '../../../src/bus/subscriber.js';
import {
  BandTimer,
  localDay,
  RollingWindow,
  start,
  type AnalyticsHandle,
  type AnalyticsSnapshot,
} from '../../../src/services/analytics/index.js';
import { createLogger } from '../../../src/util/log.js';
import { startRedis } from '../../support/redis.js';

let conn: Connection;
let an: AnalyticsHandle;

beforeAll(async () => {
  const redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
  an = await start({
    publishMs: 60_000,
    vpdBands: { 'Flower Room': [1.0, 1.4], '*': [0.8, 1.2] },
    runtime: { connection: { url: redis.url }, log: createLogger('analytics', 'silent') },
  });
});
afterAll(async () => {
  await an.stop();
  await conn.close();
});

describe('analytics statistics', () => {
  it('a rolling window forgets what is older than it', () => {
    const w = new RollingWindow(60_000);
    w.add(0, 10);
    w.add(30_000, 20);
    w.add(50_000, 30);
    expect(w.stats(55_000)).toEqual({ count: 3, min: 10, max: 30, mean: 20, std: 8.165 });
    expect(w.stats(100_000)).toMatchObject({ count: 1, min: 30, max: 30 });
  });

  it('time in band counts each interval for the earlier reading, capped at the gap limit', () => {
    const t = new BandTimer(60_000);
    const day = new Date(2026, 4, 1, 8).getTime();
    t.add(day, true);
    t.add(day + 30_000, false); // 30 s in
    t.add(day + 40_000, true); // 10 s out
    t.add(day + 340_000, true); // 60 s (capped) in
    expect(t.totalMs).toBe(100_000);
    expect(t.share).toBe(0.9);
  });
});

describe('canopy analytics', () => {
  it('publishes per-sensor stats, daily min/max and VPD time in band on analytics:update and in analytics:latest', async () => {
    // the readings span the last 40 s and must fall on one local day: not across midnight
    for (;;) {
      const t = Date.now();
      if (localDay(t - 60_000) === localDay(t + 15_000)) break;
      await new Promise((r) => setTimeout(r, 5_000));
    }
    const sub = await Subscriber.create(conn);
    const got: AnalyticsSnapshot[] = [];
    await sub.subscribe<AnalyticsSnapshot>('analytics:update', (m) => void got.push(m));
    const now = Date.now();
    const send = (loc: string, data: Record<string, number>, at: number) =>
      conn.client.publish(
        'sensor:update',
        JSON.stringify({ location: loc, cluster: 'x', sensor_data: data, timestamp: new Date(at).toISOString() }),
      );
    await send('Flower Room', { vpd_f: 1.2, dry_bulb_f: 24 }, now - 40_000);
    await send('Flower Room', { vpd_f: 1.6, dry_bulb_f: 26 }, now - 30_000); // in band for 10 s
    await send('Flower Room', { vpd_f: 1.3, dry_bulb_f: 22 }, now - 10_000); // out for 20 s
    await send('Veg Room', { vpd_v: 1.0 }, now - 10_000);
    await send('Veg Room', { vpd_v: 1.1 }, now);
    await conn.client.publish('sensor:update', '{"location":1}');
    const deadline = Date.now() + 5000;
    let snap: AnalyticsSnapshot | undefined;
    while (Date.now() < deadline) {
      snap = await an.publishNow();
      if (snap.sensors.vpd_v?.m1.count === 2 && snap.sensors.dry_bulb_f?.m1.count === 3) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(snap?.sensors.dry_bulb_f).toMatchObject({
      location: 'Flower Room',
      last: 22,
      m1: { count: 3, min: 22, max: 26, mean: 24 },
      today: { day: localDay(now - 10_000), min: 22, max: 26 },
    });
    expect(snap?.rooms['Flower Room']).toMatchObject({
      vpd_band: [1.0, 1.4],
      vpd_in_band_share: 0.3333,
      vpd_tracked_s: 30,
    });
    expect(snap?.rooms['Veg Room']).toMatchObject({ vpd_band: [0.8, 1.2], vpd_in_band_share: 1 });
    const latest = JSON.parse(String(await conn.client.get('analytics:latest'))) as AnalyticsSnapshot;
    expect(latest.sensors.vpd_f?.today.max).toBe(1.6);
    const daily = JSON.parse(String(await conn.client.get(`analytics:daily:${localDay(now)}`))) as {
      sensors: Record<string, { min: number }>;
    };
    expect(daily.sensors.dry_bulb_f?.min).toBe(22);
    while (got.length === 0 && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 20));
    expect(got.at(-1)?.sensors.dry_bulb_f?.last).toBe(22);
    await sub.close();
  }, 150_000);
});
