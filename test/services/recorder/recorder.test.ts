import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { Publisher } from '../../../src/bus/topics.js';
import { RECORDER_LIMITS, RotatingLog, start, type RecorderHandle } from '../../../src/services/recorder/index.js';
import { createLogger } from '../../../src/util/log.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';

let conn: Connection;
let rec: RecorderHandle;
let dir: string;

beforeAll(async () => {
  const redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
  dir = tempDir();
  rec = await start({ dir, runtime: { connection: { url: redis.url }, log: createLogger('recorder', 'silent') } });
});
afterAll(async () => {
  await rec.stop();
  await conn.close();
});

const readLines = (prefix: string) =>
  fs
    .readdirSync(dir)
    .filter((f) => f.startsWith(prefix))
    .flatMap((f) => fs.readFileSync(path.join(dir, f), 'utf8').trim().split('\n'))
    .filter(Boolean)
    .map(
      (l) => JSON.parse(l) as { channel?: string; kind?: string; device?: string; message: Record<string, unknown> },
    );

/** A recorder of its own (own Redis, own directory) with duplicate window `dedupeWindowMs`, and a connection to publish on. */
async function ownRecorder(dedupeWindowMs: number): Promise<{ r: RecorderHandle; c: Connection }> {
  const redis = await startRedis();
  const r = await start({
    dir: tempDir(),
    dedupeWindowMs,
    runtime: { connection: { url: redis.url }, log: createLogger('recorder', 'silent') },
  });
  return { r, c: await Connection.connect({ url: redis.url }) };
}

describe('canopy recorder', () => {
  it('records every update once although it arrives on its broad, level and specific channels; control history too', async () => {
    const pub = new Publisher(conn);
    const ts = new Date().toISOString();
    await pub.publishTopic('sensor:update', ['Flower Room', 'front'], {
      location: 'Flower Room',
      cluster: 'front',
      sensor_data: { dry_bulb_f: 24.5 },
      timestamp: ts,
    });
    await pub.publishTopic('sensor:update', ['Veg Room', 'main'], {
      location: 'Veg Room',
      cluster: 'main',
      sensor_data: { co2_v: 800 },
      timestamp: ts,
    });
    const dev = (state: number, at = ts) => ({
      location: 'Flower Room',
      cluster: 'front',
      device: 'heater_1',
      state,
      mode: 'auto',
      timestamp: at,
    });
    await pub.publishTopic('device:update', ['Flower Room', 'front'], dev(1));
    await pub.publishTopic(
      'device:update',
      ['Flower Room', 'front'],
      dev(1, new Date(Date.now() + 1000).toISOString()),
    ); // no change: no control record
    await pub.publishTopic('device:update', ['Flower Room', 'front'], dev(0));
    await pub.publish('control:command', { device: 'heater_1', state: 1, mode: 'manual', by: 'ana' });
    await conn.client.publish('sensor:update', 'not json');
    const deadline = Date.now() + 10_000;
    while (rec.stats.received < 3 * 5 + 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await rec.flush();

    const updates = readLines('updates-');
    expect(updates.map((u) => u.channel)).toEqual([
      'sensor:update',
      'sensor:update',
      'device:update',
      'device:update',
      'device:update',
      'control:command',
      'sensor:update',
    ]);
    expect(updates[0]?.message).toMatchObject({ sensor_data: { dry_bulb_f: 24.5 } });
    expect(updates.at(-1)?.message).toEqual({ raw: 'not json' });
    expect(rec.stats.duplicates).toBe(10);

    const control = readLines('control-');
    expect(control.map((c) => `${c.kind} ${c.device ?? c.message.device}`)).toEqual([
      'state heater_1',
      'state heater_1',
      'command heater_1',
    ]);
  });

  it('holds the digests of the last dedupe window only, not every message it recorded', async () => {
    const { r, c } = await ownRecorder(200);
    try {
      const big = 'x'.repeat(20_000);
      for (let i = 0; i < 300; i++) await c.client.publish('analytics:update', JSON.stringify({ i, big }));
      for (let i = 0; i < 500 && r.stats.received < 300; i++) await new Promise((res) => setTimeout(res, 20));
      expect(r.stats.recorded).toBe(300);
      await new Promise((res) => setTimeout(res, 400)); // past the window
      await c.client.publish('analytics:update', JSON.stringify({ i: 'last' }));
      for (let i = 0; i < 500 && r.stats.received < 301; i++) await new Promise((res) => setTimeout(res, 20));
      expect(r.stats.recorded).toBe(301);
      // the 300 earlier messages left the window: only the last one's digest is held
      expect(r.dedupeKeys()).toBe(1);
    } finally {
      await r.stop();
      await c.close();
    }
  });

  it('caps its digests in a flood inside the window and counts the ones it forgot', async () => {
    const { r, c } = await ownRecorder(600_000);
    const n = RECORDER_LIMITS.dedupeEntries + 50;
    try {
      for (let i = 0; i < n; i += 1000) {
        const m = c.client.multi();
        for (let j = i; j < Math.min(n, i + 1000); j++) m.publish('analytics:update', JSON.stringify({ j }));
        await m.exec();
      }
      for (let i = 0; i < 1500 && r.stats.received < n; i++) await new Promise((res) => setTimeout(res, 20));
      expect(r.stats.recorded).toBe(n);
      expect(r.dedupeKeys()).toBe(RECORDER_LIMITS.dedupeEntries);
      expect(r.stats.evicted).toBe(50);
    } finally {
      await r.stop();
      await c.close();
    }
  });

  it('rotates by size and by day and deletes files past the retention', async () => {
    const d = tempDir();
    let now = new Date(2026, 0, 10, 23, 59).getTime();
    fs.writeFileSync(path.join(d, 'x-2025-12-01.jsonl'), '{}\n');
    const log = new RotatingLog({ dir: d, name: 'x', maxFileBytes: 100, retentionDays: 14, now: () => now });
    for (let i = 0; i < 6; i++) log.write({ i, pad: 'abcdefghijklmnopqrstuvwxyz' });
    now += 2 * 60_000;
    log.write({ next: 'day' });
    await log.close();
    expect(fs.readdirSync(d).sort()).toEqual([
      'x-2026-01-10.1.jsonl',
      'x-2026-01-10.2.jsonl',
      'x-2026-01-10.jsonl',
      'x-2026-01-11.jsonl',
    ]);
    const all = ['x-2026-01-10.jsonl', 'x-2026-01-10.1.jsonl', 'x-2026-01-10.2.jsonl'].flatMap((f) =>
      fs
        .readFileSync(path.join(d, f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { i: number }).i),
    );
    expect(all).toEqual([0, 1, 2, 3, 4, 5]);
  });
});
