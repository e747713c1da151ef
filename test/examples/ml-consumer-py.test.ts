import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { UserCodec, type RawMessage } from '../../src/contracts/user-channels.js';
import { Forecaster } from '../../examples/forecast.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import {
  codec,
  collectPredictions,
  expectRampForecasts,
  malformedPayloads,
  rampAndBlocks,
  rawPredictionBytes,
  spawn,
  until,
  watchChild,
} from './helpers.js';
import { registerChild } from '../support/cleanup.js';

/** Debian's interpreter, which has python3-redis and python3-msgpack. */
const PYTHON = '/usr/bin/python3';

let redis: TestRedis;
let conn: Connection;

beforeAll(async () => {
  redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
});
afterAll(async () => {
  await conn.close();
});

function startPy(url: string, args: string[]) {
  const child = spawn(PYTHON, ['-B', 'examples/ml_consumer.py', '--redis-url', url, ...args], {
    env: { ...process.env, LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  registerChild(child);
  return { child, ...watchChild(child) };
}

describe('examples/ml_consumer.py (redis-py + msgpack)', () => {
  it('publishes the same contract-shaped forecasts as the TypeScript consumer, skipping malformed raw messages', async () => {
    const py = startPy(redis.url, [
      '--user',
      'alice',
      '--user',
      'bob',
      '--window',
      '10',
      '--step',
      '5',
      '--horizon',
      '5',
    ]);
    const { got, channels } = await collectPredictions(redis.url, ['alice', 'bob']);
    const wire = await rawPredictionBytes(conn, ['alice', 'bob']);
    const bad = [
      ...malformedPayloads(),
      `{"type":"raw","timestamp":1,"channels":{"Ch0":1${'0'.repeat(400)}}}`, // an integer no float holds
    ];
    try {
      await py.waitErr('subscribed to user:alice:raw');
      await py.waitErr('subscribed to user:bob:raw');
      for (const m of bad) await conn.client.publish('user:alice:raw', m);
      for (const { user, payload } of rampAndBlocks()) await conn.client.publish(`user:${user}:raw`, payload);
      await until(() => got.alice!.length + got.bob!.length >= 6, 'six predictions from Python');
      expectRampForecasts(got, 'canopy-example-ml-py');
      expect(channels.stats.malformed).toBe(0);
      await until(() => wire.bytes.length >= 6, 'six payloads on the wire');
      for (const b of wire.bytes) expect(UserCodec.detect(b)).toBe('msgpack');
    } finally {
      py.child.kill('SIGTERM');
      await wire.close();
      await channels.close();
    }
    expect(await py.exited).toBe(0);
    expect(JSON.parse(py.out().trim())).toEqual({
      received: 24,
      malformed: bad.length,
      predictions: 6,
      publishErrors: 0,
    });
    expect(py.err()).toMatch(/malformed raw message on user:alice:raw skipped/);
  });

  it('computes the numbers the TypeScript forecaster computes on noisy, multi-channel input', async () => {
    const py = startPy(redis.url, ['--user', 'erin', '--window', '16', '--step', '7', '--horizon', '3']);
    const { got, channels } = await collectPredictions(redis.url, ['erin']);
    const ts = new Forecaster({ window: 16, step: 7, horizon: 3 });
    const expected: ReturnType<Forecaster['add']>[] = [];
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648) * 10 - 5;
    try {
      await py.waitErr('subscribed to user:erin:raw');
      for (let i = 0; i < 60; i++) {
        const msg: RawMessage = {
          type: 'raw',
          timestamp: i,
          channels: i % 3 === 0 ? { a: [rnd(), rnd(), rnd()], b: 0.5 * i + rnd() } : { a: rnd(), c: -i },
        };
        const f = ts.add('erin', msg);
        if (f) expected.push(f);
        await conn.client.publish('user:erin:raw', codec.encode(msg));
      }
      expect(expected.length).toBeGreaterThan(3);
      await until(() => got.erin!.length >= expected.length, `${expected.length} predictions from Python`);
      await new Promise((r) => setTimeout(r, 200)); // none beyond those
      expect(got.erin).toHaveLength(expected.length);
      for (const [i, e] of expected.entries()) {
        const p = got.erin![i]!;
        expect(p.timestamp).toBe(e!.timestamp);
        expect(p.confidence).toBeCloseTo(e!.confidence, 12);
        const pc = p.data.channels as Record<string, Record<string, number>>;
        expect(Object.keys(pc)).toEqual(Object.keys(e!.data.channels));
        for (const [name, c] of Object.entries(e!.data.channels)) {
          for (const k of ['last', 'mean', 'slope', 'forecast', 'r2'] as const)
            expect(pc[name]![k]).toBeCloseTo(c[k], 9);
        }
      }
    } finally {
      py.child.kill('SIGTERM');
      await channels.close();
    }
    expect(await py.exited).toBe(0);
  });

  it('keeps running while Redis restarts, resubscribes, and predicts again', async () => {
    const own = await startRedis();
    const py = startPy(own.url, ['--user', 'dana', '--window', '2']);
    try {
      await py.waitErr('subscribed to user:dana:raw');
      await own.restart();
      const { got, channels } = await collectPredictions(own.url, ['dana']);
      const c = await Connection.connect({ url: own.url });
      try {
        const deadline = Date.now() + 45_000;
        for (let i = 0; got.dana!.length === 0; i++) {
          if (Date.now() > deadline) throw new Error(`no prediction after the restart; stderr:\n${py.err()}`);
          await c.client.publish('user:dana:raw', codec.encode({ type: 'raw', timestamp: i, channels: { x: i } }));
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(got.dana![0]).toMatchObject({
          type: 'prediction',
          prediction_type: 'forecast',
          source: 'canopy-example-ml-py',
        });
      } finally {
        await c.close();
        await channels.close();
      }
      expect(py.err()).toMatch(/Redis unreachable/);
    } finally {
      py.child.kill('SIGTERM');
    }
    expect(await py.exited).toBe(0);
  });
});
