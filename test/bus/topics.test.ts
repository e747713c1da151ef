import { Type } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/bus/connection.js';
import { ConfigError } from '../../src/bus/errors.js';
import { Subscriber } from '../../src/bus/subscriber.js';
import { Publisher, topicChannels } from '../../src/bus/topics.js';
import { typeboxValidator } from '../../src/bus/validate.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';
import { connect, waitFor } from './helpers.js';

describe('topicChannels (pure)', () => {
  it('lists broad, level and specific channels with segments exactly as given', () => {
    expect(topicChannels('sensor:update', ['Flower Room', 'front'])).toEqual([
      'sensor:update',
      'sensor:update:Flower Room',
      'sensor:update:Flower Room:front',
    ]);
  });

  it('stops at a missing segment and refuses empty ones', () => {
    expect(topicChannels('device:update', ['Lab', undefined, 'x'])).toEqual(['device:update', 'device:update:Lab']);
    expect(() => topicChannels('device:update', ['', 'front'])).toThrow(ConfigError);
    expect(() => topicChannels('', [])).toThrow(ConfigError);
  });
});

const Update = Type.Object({
  location: Type.String(),
  cluster: Type.String(),
  sensor_data: Type.Record(Type.String(), Type.Number()),
});

describe('pub/sub on a real redis-server', () => {
  let redis: TestRedis;
  let conn: Connection;
  let sub: Subscriber;

  beforeAll(async () => {
    redis = await startRedis();
    conn = await connect(redis.url);
    sub = await Subscriber.create(conn);
  });
  afterAll(async () => {
    await sub.close();
  });

  it('one publish reaches broad, level, specific and pattern subscribers', async () => {
    const base = `${randomPrefix()}sensor:update`;
    const got: Record<string, unknown[]> = { broad: [], level: [], specific: [], pattern: [] };
    await sub.subscribe(base, (m) => got.broad!.push(m));
    await sub.subscribe(`${base}:Flower Room`, (m) => got.level!.push(m));
    await sub.subscribe(`${base}:Flower Room:front`, (m) => got.specific!.push(m));
    await sub.psubscribe(`${base}:*`, (m, ch) => got.pattern!.push([ch, m]));
    const pub = new Publisher(conn);
    const msg = { location: 'Flower Room', cluster: 'front', sensor_data: { dry_bulb_f: 24.5 } };
    const counts = await pub.publishTopic(base, ['Flower Room', 'front'], msg);
    expect(counts).toEqual([1, 2, 2]); // the pattern matches level and specific
    await waitFor(() => got.pattern!.length === 2 && got.specific!.length === 1, 'all deliveries');
    expect(got.broad).toEqual([msg]);
    expect(got.level).toEqual([msg]);
    expect(got.specific).toEqual([msg]);
    expect(got.pattern).toEqual([
      [`${base}:Flower Room`, msg],
      [`${base}:Flower Room:front`, msg],
    ]);
  });

  it('publishTopics sends several topic messages, each on its three channels, in one call', async () => {
    const base = `${randomPrefix()}sensor:update`;
    const got: [string, unknown][] = [];
    await sub.psubscribe(`${base}*`, (m, ch) => got.push([ch, m]));
    const front = { location: 'Flower Room', cluster: 'front', sensor_data: { dry_bulb_f: 24.5 } };
    const lab = { location: 'Lab', cluster: 'main', sensor_data: { lab_temp: 21.5 } };
    const counts = await new Publisher(conn).publishTopics([
      { base, segments: ['Flower Room', 'front'], message: front },
      { base, segments: ['Lab', 'main'], message: lab },
    ]);
    expect(counts).toEqual([1, 1, 1, 1, 1, 1]);
    await waitFor(() => got.length === 6, 'six deliveries');
    expect(got).toEqual([
      [base, front],
      [`${base}:Flower Room`, front],
      [`${base}:Flower Room:front`, front],
      [base, lab],
      [`${base}:Lab`, lab],
      [`${base}:Lab:main`, lab],
    ]);
  });

  it('counts a non-JSON and a schema-violating message, skips the handler, then delivers the next valid one', async () => {
    const ch = `${randomPrefix()}sensor:update`;
    const got: unknown[] = [];
    await sub.subscribe(ch, (m) => got.push(m), { validate: typeboxValidator(Update) });
    await conn.client.publish(ch, 'this is {not json');
    await conn.client.publish(ch, JSON.stringify({ location: 'Lab', cluster: 'main', sensor_data: { t: 'warm' } }));
    const good = { location: 'Lab', cluster: 'main', sensor_data: { lab_temp: 21.5 } };
    await new Publisher(conn).publish(ch, good);
    await waitFor(() => got.length === 1, 'the valid message');
    expect(got).toEqual([good]);
    expect(sub.stats.channels[ch]).toEqual({ received: 3, malformed: 2, handlerErrors: 0 });
  });

  it('counts an oversized message as malformed without decoding it', async () => {
    const small = await Subscriber.create(conn, { maxMessageBytes: 64 });
    const ch = `${randomPrefix()}x`;
    const got: unknown[] = [];
    const reasons: string[] = [];
    small.on('malformed', (m) => reasons.push(m.error));
    await small.subscribe(ch, (m) => got.push(m));
    await conn.client.publish(ch, JSON.stringify({ pad: 'x'.repeat(100) }));
    await conn.client.publish(ch, JSON.stringify({ ok: 1 }));
    await waitFor(() => got.length === 1, 'the small message');
    expect(got).toEqual([{ ok: 1 }]);
    expect(reasons).toEqual(['message of 110 bytes exceeds 64']);
    expect(small.stats.channels[ch]).toEqual({ received: 2, malformed: 1, handlerErrors: 0 });
    await small.close();
  });

  it('a throwing handler (sync or async) does not stop another handler on the same channel', async () => {
    const ch = `${randomPrefix()}device:update`;
    const got: unknown[] = [];
    await sub.subscribe(ch, () => {
      throw new Error('boom');
    });
    await sub.subscribe(ch, async () => {
      throw new Error('async boom');
    });
    await sub.subscribe(ch, (m) => got.push(m));
    const pub = new Publisher(conn);
    await pub.publish(ch, { n: 1 });
    await pub.publish(ch, { n: 2 });
    await waitFor(() => got.length === 2 && sub.stats.channels[ch]!.handlerErrors === 4, 'both messages');
    expect(got).toEqual([{ n: 1 }, { n: 2 }]);
    expect(sub.stats.channels[ch]).toEqual({ received: 2, malformed: 0, handlerErrors: 4 });
  });

  it('unsubscribe stops delivery to that handler only', async () => {
    const ch = `${randomPrefix()}x`;
    const a: unknown[] = [];
    const b: unknown[] = [];
    const sa = await sub.subscribe(ch, (m) => a.push(m));
    await sub.subscribe(ch, (m) => b.push(m));
    await sa.unsubscribe();
    await new Publisher(conn).publish(ch, 1);
    await waitFor(() => b.length === 1, 'b');
    expect(a).toEqual([]);
  });
});

describe('subscriber across a redis-server crash', () => {
  it('survives kill -9 and restart and receives what is published afterwards', async () => {
    const redis = await startRedis();
    const conn = await connect(redis.url, { reconnectBaseMs: 50, reconnectMaxMs: 200 });
    const sub = await Subscriber.create(conn);
    const ch = `${randomPrefix()}sensor:update`;
    const pat = `${ch}:*`;
    const got: unknown[] = [];
    await sub.subscribe(ch, (m) => got.push(m));
    await sub.psubscribe(pat, (m) => got.push(m));
    await new Publisher(conn).publish(ch, { before: true });
    await waitFor(() => got.length === 1, 'message before the crash');

    await redis.kill();
    await waitFor(() => sub.health === 'reconnecting', 'subscriber to notice');
    await redis.restart();
    await waitFor(() => sub.health === 'ready' && conn.health === 'ready', 'reconnect');
    // The subscription is restored on the server: count subscribers there, then publish.
    await waitFor(async () => {
      const n = await conn.client.pubSubNumSub(ch);
      return n[ch] === 1;
    }, 'resubscribe on the server');
    await waitFor(async () => (await conn.client.pubSubNumPat()) >= 1, 'pattern resubscribe');
    const pub = new Publisher(conn);
    await pub.publish(ch, { after: 1 });
    await pub.publish(`${ch}:Lab`, { after: 2 });
    await waitFor(() => got.length === 3, 'messages after the restart');
    expect(got).toEqual([{ before: true }, { after: 1 }, { after: 2 }]);
    expect(sub.stats.resubscribes).toBe(1);
    await sub.close();
    expect(sub.health).toBe('closed');
  });
});
