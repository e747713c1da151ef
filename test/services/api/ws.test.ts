import { beforeAll, describe, expect, it } from 'vitest';
import path from 'node:path';
import WebSocket from 'ws';
import { start as startWorker } from '../../../src/services/worker/index.js';
import { tempDir } from '../../support/tmp.js';
import { publishSensor, silent, startApi, WsProbe } from './helpers.js';

type Ctx = Awaited<ReturnType<typeof startApi>>;
let t: Ctx;

beforeAll(async () => {
  t = await startApi({ wsMaxBufferedBytes: 64 * 1024, wsFlushIntervalMs: 20 });
});

const wsUrl = (q = '') => `${t.api.url.replace('http', 'ws')}/ws${q}`;

describe('WebSocket /ws', () => {
  it('pushes sensor:update and device:update after they are published', async () => {
    const p = await WsProbe.open(wsUrl());
    await publishSensor(t.client, 'Flower Room', 'front', { dry_bulb_f: 24.5, rh_f: 65 });
    const m = await p.waitFor((x) => x.type === 'sensor');
    expect(m.data).toMatchObject({
      location: 'Flower Room',
      cluster: 'front',
      sensor_data: { dry_bulb_f: 24.5, rh_f: 65 },
    });
    // the broad channel only: one message per update, not three
    await publishSensor(t.client, 'Flower Room', 'front', { dry_bulb_f: 24.6 });
    await p.waitFor(
      (x) => x.type === 'sensor' && (x.data as { sensor_data: { dry_bulb_f: number } }).sensor_data.dry_bulb_f === 24.6,
    );
    expect(p.messages.filter((x) => x.type === 'sensor')).toHaveLength(2);
    const dev = {
      location: 'Veg Room',
      cluster: 'main',
      device: 'fan_1',
      state: 0,
      mode: 'manual',
      timestamp: new Date().toISOString(),
    };
    await t.client.publish('device:update', JSON.stringify(dev));
    expect((await p.waitFor((x) => x.type === 'device')).data).toEqual(dev);
    p.close();
  });

  it('filters by location/cluster given in the query or in a subscribe message', async () => {
    const veg = await WsProbe.open(wsUrl(`?location=${encodeURIComponent('Veg Room')}`));
    const front = await WsProbe.open(wsUrl());
    front.ws.send(JSON.stringify({ type: 'subscribe', location: 'Flower Room', cluster: 'front' }));
    await front.waitFor((x) => x.type === 'subscribed');
    front.ws.send('{nope');
    expect((await front.waitFor((x) => x.type === 'error')).message).toMatch(/not JSON/);
    await publishSensor(t.client, 'Flower Room', 'back', { dry_bulb_b: 1 });
    await publishSensor(t.client, 'Flower Room', 'front', { dry_bulb_f: 2 });
    await publishSensor(t.client, 'Veg Room', 'main', { dry_bulb_v: 3 });
    const v = await veg.waitFor((x) => x.type === 'sensor');
    const f = await front.waitFor((x) => x.type === 'sensor');
    expect((v.data as { sensor_data: object }).sensor_data).toEqual({ dry_bulb_v: 3 });
    expect((f.data as { sensor_data: object }).sensor_data).toEqual({ dry_bulb_f: 2 });
    // the back room's update went to neither; a later update proves nothing else was pending
    await publishSensor(t.client, 'Veg Room', 'main', { dry_bulb_v: 4 });
    await veg.waitFor(
      (x) => x.type === 'sensor' && (x.data as { sensor_data: { dry_bulb_v?: number } }).sensor_data.dry_bulb_v === 4,
    );
    expect(veg.messages.filter((x) => x.type === 'sensor')).toHaveLength(2);
    expect(front.messages.filter((x) => x.type === 'sensor')).toHaveLength(1);
    veg.close();
    front.close();
  });

  it('a stalled client does not delay a healthy one; it gets the latest values, coalesced', async () => {
    const healthy = await WsProbe.open(wsUrl());
    const stalled = await WsProbe.open(wsUrl());
    // stop reading on the stalled client: the server's socket buffer fills up
    (stalled.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const N = 600;
    const pad: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) pad[`pad_sensor_with_a_long_name_${i}`] = i;
    const bySeq = (seq: number) => (x: Record<string, unknown>) =>
      x.type === 'sensor' && (x.data as { sensor_data: { seq?: number } }).sensor_data.seq === seq;
    // publish in batches the healthy client keeps up with (~26 MB in all: far more than socket buffers hold)
    for (let b = 0; b < N; b += 20) {
      const pipeline = t.client.multi();
      for (let i = b; i < b + 20; i++) {
        const msg = JSON.stringify({
          location: 'Flower Room',
          cluster: 'front',
          sensor_data: { ...pad, seq: i },
          timestamp: new Date().toISOString(),
        });
        pipeline.publish('sensor:update', msg);
      }
      await pipeline.exec();
      await healthy.waitFor(bySeq(b + 19));
    }
    const seqs = healthy.messages
      .filter((x) => x.type === 'sensor')
      .map((x) => (x.data as { sensor_data: { seq: number } }).sensor_data.seq);
    expect(seqs).toEqual(Array.from({ length: N }, (_, i) => i));
    expect(healthy.messages.some((x) => x.coalesced === true)).toBe(false);
    const stats = t.api.ctx.hub.stats;
    expect(stats.coalesced).toBeGreaterThan(0);
    // the stalled client was skipped, not written to: its backlog stayed bounded
    expect(stalled.messages.filter((x) => x.type === 'sensor').length).toBeLessThan(N);
    // resumed, it receives the latest value of every sensor
    (stalled.ws as unknown as { _socket: { resume(): void } })._socket.resume();
    const last = await stalled.waitFor(bySeq(N - 1), 30_000);
    expect(last.coalesced).toBe(true);
    healthy.close();
    stalled.close();
  });

  it('drops a client that stops answering pings, keeps one that answers', async () => {
    const own = await startApi({ wsPingIntervalMs: 100 }, t.redis);
    const url = `${own.api.url.replace('http', 'ws')}/ws`;
    const good = await WsProbe.open(url);
    const mute = new WebSocket(url, { autoPong: false });
    const closed = new Promise<void>((r) => mute.once('close', () => r()));
    await closed;
    expect(good.ws.readyState).toBe(WebSocket.OPEN);
    expect(own.api.ctx.hub.stats.clients).toBe(1);
    good.close();
  });

  it('pushes the update the worker publishes after a frame is injected into can:raw', async () => {
    const worker = await startWorker({
      redisUrl: t.redis.url,
      databaseUrl: `sqlite:${path.join(tempDir(), 'worker.db')}`,
      consumer: 'ws-test-worker',
      blockMs: 100,
      logger: silent,
    });
    try {
      const p = await WsProbe.open(wsUrl(`?location=${encodeURIComponent('Veg Room')}&cluster=main`));
      // node 3 (Veg Room / main), PT100: dry 21.00 °C, wet 18.00 °C, no fault
      await t.client.xAdd('can:raw', '*', { id: '0x301', data: '34 08 08 07 00', ts: String(Date.now()), dlc: '5' });
      const m = await p.waitFor(
        (x) => x.type === 'sensor' && 'dry_bulb_v' in (x.data as { sensor_data: object }).sensor_data,
      );
      const d = m.data as { location: string; cluster: string; sensor_data: Record<string, number> };
      expect(d.location).toBe('Veg Room');
      expect(d.cluster).toBe('main');
      expect(d.sensor_data.dry_bulb_v).toBeCloseTo(21, 6);
      expect(d.sensor_data.wet_bulb_v).toBeCloseTo(18, 6);
      p.close();
    } finally {
      await worker.stop();
    }
  });
});
