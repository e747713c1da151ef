import fs from 'node:fs';
import path from 'node:path';
import { redisUrlFor, renderAclFile, resolveCredentials } from '../../src/bus/acl.js';
import { consumerUser } from '../../src/contracts/acl-consumers.js';
import { canopyUsers } from '../../src/contracts/acl-users.js';
import { PermissionError } from '../../src/bus/errors.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { UserCodec, type PredictionMessage } from '../../src/contracts/user-channels.js';
import { UserChannels } from '../../src/client/index.js';
import { createLogger } from '../../src/util/log.js';
import { Forecaster, ExampleConfigError, fitLine } from '../../examples/forecast.js';
import { startMlConsumer } from '../../examples/ml-consumer.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';
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

let redis: TestRedis;
let conn: Connection;

beforeAll(async () => {
  redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
});
afterAll(async () => {
  await conn.close();
});

describe('examples/forecast', () => {
  it('fits a line, forecasts ahead, and says when a prediction is due', () => {
    expect(fitLine([1, 3, 5, 7], 2)).toEqual({ last: 7, mean: 4, slope: 2, forecast: 11, r2: 1 });
    expect(fitLine([5, 5, 5], 3)).toEqual({ last: 5, mean: 5, slope: 0, forecast: 5, r2: 1 });
    expect(fitLine([0, 1, 0, 1], 0).r2).toBeLessThan(0.5);
    const f = new Forecaster({ window: 3, step: 2, horizon: 1 });
    expect(f.add('u', { timestamp: 1, channels: { a: 1 } })).toBeUndefined();
    expect(f.add('u', { timestamp: 2, channels: { a: 2 } })).toBeUndefined();
    expect(f.add('u', { timestamp: 3, channels: { a: 3 } })?.data.channels.a?.forecast).toBeCloseTo(4, 9);
    expect(f.add('u', { timestamp: 4, channels: { a: 4 } })).toBeUndefined();
    expect(f.add('u', { timestamp: 5, channels: { a: [5, 6, 7, 8] } })?.data.channels.a).toMatchObject({ last: 8 });
    expect(() => new Forecaster({ window: 1 })).toThrow(ExampleConfigError);
  });
});

describe('examples/ml-consumer.ts', () => {
  it('buffers each user, publishes contract-shaped MessagePack forecasts, counts and skips malformed raw messages', async () => {
    const consumer = await startMlConsumer({
      users: ['alice', 'bob'],
      window: 10,
      step: 5,
      horizon: 5,
      redis: { url: redis.url },
      log: createLogger('ml-consumer', 'silent'),
    });
    const { got, channels } = await collectPredictions(redis.url, ['alice', 'bob']);
    const wire = await rawPredictionBytes(conn, ['alice', 'bob']);
    try {
      for (const m of malformedPayloads()) await conn.client.publish('user:alice:raw', m);
      for (const { user, payload } of rampAndBlocks()) await conn.client.publish(`user:${user}:raw`, payload);
      await until(() => consumer.stats.predictions >= 6 && got.alice!.length + got.bob!.length >= 6, 'six predictions');
      expectRampForecasts(got, 'canopy-example-ml-ts');
      expect(consumer.stats).toEqual({
        received: 24,
        malformed: malformedPayloads().length,
        predictions: 6,
        publishErrors: 0,
      });
      expect(channels.stats.malformed).toBe(0);
      await until(() => wire.bytes.length >= 6, 'six payloads on the wire');
      for (const b of wire.bytes) expect(UserCodec.detect(b)).toBe('msgpack');
    } finally {
      await wire.close();
      await channels.close();
      await consumer.stop();
    }
  });

  it('works under the consumer ACL user that `canopy acl --consumer ml=alice` generates', async () => {
    const dir = tempDir();
    const users = [...canopyUsers(), consumerUser({ name: 'ml', users: ['alice'] })];
    const { secrets } = resolveCredentials(
      users.map((u) => u.name),
      path.join(dir, 'creds'),
      {},
    );
    fs.writeFileSync(path.join(dir, 'users.acl'), renderAclFile(users, secrets), { mode: 0o600 });
    const acl = await startRedis({ extraConfig: [`aclfile ${path.join(dir, 'users.acl')}`] });
    const url = (u: string) => redisUrlFor(acl.url, u, secrets.get(u)!.password);
    const log = createLogger('ml-consumer', 'silent');
    const consumer = await startMlConsumer({ users: ['alice'], window: 3, redis: { url: url('consumer-ml') }, log });
    // the relay side, as the gateway's user: publishes alice's raw samples, receives her predictions
    const relay = await UserChannels.connect({ redis: { url: url('canopy-gateway') } });
    const got: PredictionMessage[] = [];
    try {
      await relay.subscribe('alice', 'predictions', (m) => void got.push(m));
      for (let i = 0; i < 3; i++)
        await relay.publish('alice', 'raw', { type: 'raw', timestamp: i, channels: { x: i } });
      await until(() => got.length === 1, 'the prediction under ACLs');
      expect(got[0]).toMatchObject({ type: 'prediction', source: 'canopy-example-ml-ts' });
      expect(consumer.stats.publishErrors).toBe(0);
      // and it could not be pointed at another user's data
      const other = await startMlConsumer({ users: ['bob'], redis: { url: url('consumer-ml') }, log }).catch(
        (e: unknown) => e,
      );
      expect(other).toBeInstanceOf(PermissionError);
    } finally {
      await relay.close();
      await consumer.stop();
    }
  });

  it('keeps running while Redis restarts and predicts again once it is back', async () => {
    const own = await startRedis();
    const consumer = await startMlConsumer({
      users: ['dana'],
      window: 2,
      horizon: 1,
      redis: { url: own.url },
      log: createLogger('ml-consumer', 'silent'),
    });
    try {
      await own.restart();
      const { got, channels } = await collectPredictions(own.url, ['dana']);
      const c = await Connection.connect({ url: own.url });
      try {
        // the consumer resubscribes some time after the restart: publish until a prediction comes back
        const deadline = Date.now() + 45_000;
        for (let i = 0; got.dana!.length === 0; i++) {
          if (Date.now() > deadline) throw new Error('no prediction after the restart');
          await c.client.publish('user:dana:raw', codec.encode({ type: 'raw', timestamp: i, channels: { x: i } }));
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(got.dana![0]).toMatchObject({ type: 'prediction', prediction_type: 'forecast' });
      } finally {
        await c.close();
        await channels.close();
      }
    } finally {
      await consumer.stop();
    }
  });

  it('runs as a program with tsx and prints its counters on SIGTERM', async () => {
    const tsx = path.resolve('node_modules/.bin/tsx');
    const child = spawn(tsx, ['examples/ml-consumer.ts', '--user', 'carol', '--window', '4'], {
      env: { ...process.env, REDIS_URL: redis.url, LOG_LEVEL: 'info' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    registerChild(child);
    const w = watchChild(child);
    const { got, channels } = await collectPredictions(redis.url, ['carol']);
    try {
      await w.waitErr('subscribed to user:carol:raw');
      await conn.client.publish('user:carol:raw', Buffer.from([0xc1]));
      for (let i = 0; i < 4; i++) {
        await conn.client.publish(
          'user:carol:raw',
          codec.encode({ type: 'raw', timestamp: i, channels: { t: 20 + i } }),
        );
      }
      await until(() => got.carol!.length === 1, 'the prediction of the program');
      const ch = (got.carol![0]!.data.channels as Record<string, Record<string, number>>).t!;
      expect(ch.forecast).toBeCloseTo(20 + 3 + 10, 9); // default horizon: 10 samples ahead
    } finally {
      child.kill('SIGTERM');
      await channels.close();
    }
    expect(await w.exited).toBe(0);
    expect(JSON.parse(w.out().trim())).toEqual({ received: 4, malformed: 1, predictions: 1, publishErrors: 0 });
    expect(w.err()).toMatch(/malformed raw message skipped/);
  });
});
