import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/bus/connection.js';
import { Subscriber } from '../../src/bus/subscriber.js';
import { startRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';
import { connect, waitFor } from './helpers.js';

describe('subscriber guards', () => {
  let conn: Connection;
  let sub: Subscriber;
  beforeAll(async () => {
    const redis = await startRedis();
    conn = await connect(redis.url);
    sub = await Subscriber.create(conn);
  });
  afterAll(async () => {
    await sub.close();
  });

  it('bombs and a throwing listener are counted; the subscriber keeps delivering', async () => {
    const ch = `${randomPrefix()}guard`;
    const got: unknown[] = [];
    await sub.subscribe(ch, (m) => void got.push(m));
    sub.on('malformed', () => {
      throw new Error('a listener that throws');
    });
    sub.on('handlerError', () => {
      throw new Error('another listener that throws');
    });
    const bad = await sub.subscribe(ch, () => {
      throw new Error('a handler that throws');
    });
    const nested = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
    await conn.client.publish(ch, nested);
    await conn.client.publish(ch, Buffer.from([0x22, 0xff, 0x22]));
    await conn.client.publish(ch, '{"ok":1}');
    await waitFor(() => got.length === 1, 'the valid message');
    expect(got).toEqual([{ ok: 1 }]);
    const s = sub.stats.channels[ch]!;
    expect(s.received).toBe(3);
    expect(s.malformed).toBe(2);
    expect(s.handlerErrors).toBe(1);
    await bad.unsubscribe();
    sub.removeAllListeners('malformed');
    sub.removeAllListeners('handlerError');
  });
});
