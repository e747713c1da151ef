import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePressure, encodePt100, encodeScd30, encodeLab, encodeWater } from '../../../src/can/protocol.js';
import { makeFrame } from '../../../src/can/frame.js';
import { openStore } from '../../../src/store/index.js';
import type { Store } from '../../../src/store/types.js';
import { start as startWorker, type WorkerHandle } from '../../../src/services/worker/index.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { startPostgres } from '../../support/postgres.js';
import { startTimescale } from '../../support/timescale.js';
import { tempDir } from '../../support/tmp.js';
import { quietLogger, rawClient, waitFor, xaddFrames, type Raw } from './helpers.js';
import path from 'node:path';

/** Expected RH by FAO-56 for dry 25.00, wet 20.00 at 101.32 kPa (computed independently). */
function fao56Rh(dry: number, wet: number, pKpa: number): number {
  const es = (t: number) => 0.6108 * Math.exp((17.27 * t) / (t + 237.3));
  return (100 * (es(wet) - 0.000662 * pKpa * (dry - wet))) / es(dry);
}

interface Ctx {
  redis: TestRedis;
  raw: Raw;
  sub: Raw;
  store: Store;
  worker: WorkerHandle;
  messages: { channel: string; body: Record<string, unknown> }[];
}

const stores: [string, () => Promise<string>, number?][] = [
  ['SQLite', async () => `sqlite:${path.join(tempDir(), 'canopy.db')}`],
  ['PostgreSQL', async () => (await startPostgres()).createDatabase()],
  // PGlite is one backend session: the store gets a pool of one connection
  ['TimescaleDB', async () => (await startTimescale()).url, 1],
];

describe.each(stores)('pipeline end to end on real Redis with %s', (_name, makeUrl, poolSize) => {
  const ctx = {} as Ctx;

  beforeAll(async () => {
    ctx.redis = await startRedis();
    ctx.raw = await rawClient(ctx.redis.url);
    ctx.sub = await rawClient(ctx.redis.url);
    ctx.messages = [];
    await ctx.sub.pSubscribe('sensor:update*', (msg, channel) => {
      ctx.messages.push({ channel, body: JSON.parse(msg) as Record<string, unknown> });
    });
    ctx.store = await openStore(await makeUrl(), poolSize ? { poolSize } : {});
    ctx.worker = await startWorker({
      redisUrl: ctx.redis.url,
      databaseUrl: 'unused',
      store: ctx.store,
      consumer: 'w1',
      blockMs: 100,
      logger: quietLogger(),
    });
  });

  afterAll(async () => {
    await ctx.worker?.stop();
    await ctx.store?.close();
    ctx.raw?.destroy();
    ctx.sub?.destroy();
  });

  it('turns frames into live keys with TTL, sensor:update on three levels, can_messages and sensor_readings', async () => {
    const t = Date.now();
    const frames = [
      encodePressure(1, 1013.2, t),
      encodePt100(1, 25.0, 20.0, 0, t + 1),
      encodeScd30(1, 812, 24.1, 61.5, t + 2),
      encodePt100(3, -2.5, -3.25, 0, t + 3), // negative temperatures in the Veg Room
      encodeWater(4, 19.25, t + 4),
      encodeLab(4, 21.5, t + 5),
      makeFrame(0x7f1, [1, 2, 3], t + 6), // unknown id: stored as UNKNOWN
    ];
    await xaddFrames(ctx.raw, frames);
    await waitFor('all frames stored', async () => (await ctx.store.countMessages()) === frames.length);
    await waitFor('updates', () => ctx.messages.some((m) => m.channel === 'sensor:update:Lab:main'));

    // live keys: exact names, float text, with TTL ≤ 10 s on both keys
    expect(Number(await ctx.raw.get('sensor:dry_bulb_f'))).toBeCloseTo(25.0, 2);
    expect(Number(await ctx.raw.get('sensor:wet_bulb_f'))).toBeCloseTo(20.0, 2);
    expect(Number(await ctx.raw.get('sensor:pressure_f'))).toBeCloseTo(1013.2, 1);
    expect(Number(await ctx.raw.get('sensor:co2_f'))).toBe(812);
    expect(Number(await ctx.raw.get('sensor:dry_bulb_v'))).toBeCloseTo(-2.5, 2);
    expect(Number(await ctx.raw.get('sensor:water_temp'))).toBeCloseTo(19.25, 2);
    expect(Number(await ctx.raw.get('sensor:lab_temp'))).toBeCloseTo(21.5, 2);
    const rh = Number(await ctx.raw.get('sensor:rh_f'));
    expect(rh).toBeCloseTo(fao56Rh(25, 20, 101.32), 1);
    expect(Number(await ctx.raw.get('sensor:dry_bulb_f:ts'))).toBe(t + 1);
    for (const k of ['sensor:dry_bulb_f', 'sensor:dry_bulb_f:ts', 'sensor:vpd_f', 'sensor:vpd_f:ts']) {
      const ttl = await ctx.raw.ttl(k);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(10);
    }

    // sensor:update on broad, level and specific channels, with the contract shape
    const channels = new Set(ctx.messages.map((m) => m.channel));
    for (const ch of ['sensor:update', 'sensor:update:Flower Room', 'sensor:update:Flower Room:front']) {
      expect(channels.has(ch)).toBe(true);
    }
    const fronts = ctx.messages.filter((m) => m.channel === 'sensor:update:Flower Room:front').map((m) => m.body);
    const data: Record<string, number> = {};
    for (const front of fronts) {
      expect(front.location).toBe('Flower Room');
      expect(front.cluster).toBe('front');
      expect(front.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      Object.assign(data, front.sensor_data);
    }
    expect(data.dry_bulb_f).toBeCloseTo(25.0, 2);
    expect(data.rh_f).toBeCloseTo(rh, 2);

    // stored rows
    expect(await ctx.store.countMessages()).toBe(frames.length);
    const rows = [];
    for await (const r of ctx.store.exportReadings({
      sensors: ['dry_bulb_f', 'rh_f', 'dry_bulb_v'],
      from: t - 1000,
      to: t + 1000,
    })) {
      rows.push(r);
    }
    expect(rows.map((r) => r.sensor).sort()).toEqual(['dry_bulb_f', 'dry_bulb_v', 'rh_f']);
    const dry = rows.find((r) => r.sensor === 'dry_bulb_f')!;
    expect(dry.value).toBeCloseTo(25.0, 2);
    expect(dry.location).toBe('Flower Room');
    expect(dry.cluster).toBe('front');

    // acked only after storing: nothing pending
    const pending = (await ctx.raw.sendCommand(['XPENDING', 'can:raw', 'can-worker'])) as unknown[];
    expect(Number(pending[0])).toBe(0);
  });
});
