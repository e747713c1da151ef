import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/bus/connection.js';
import { StreamConsumer, type StreamEntry } from '../../src/bus/streams/consumer.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';
import { connect, waitFor } from './helpers.js';

describe('consumer: entries held by the handler', () => {
  let redis: TestRedis;
  let conn: Connection;
  beforeAll(async () => {
    redis = await startRedis();
    conn = await connect(redis.url);
  });
  afterAll(async () => {
    await conn?.close();
  });

  it('are neither acked, redelivered, dead-lettered nor claimed until the handler acks them', async () => {
    const stream = `${randomPrefix()}s`;
    const seen: string[] = [];
    let holding = true;
    const held: string[] = [];
    const w = await StreamConsumer.start(
      conn,
      async (entries: StreamEntry[]) => {
        for (const e of entries) seen.push(e.id);
        if (holding) {
          held.push(...entries.map((e) => e.id));
          return { hold: entries.map((e) => e.id) };
        }
        const earlier = held.splice(0);
        return { ack: earlier };
      },
      { stream, group: 'g', consumer: 'a', blockMs: 50, claimIdleMs: 300, claimIntervalMs: 100, maxDeliveries: 2 },
    );
    for (let i = 0; i < 5; i++) await conn.client.xAdd(stream, '*', { n: String(i) });
    await waitFor(() => seen.length === 5, 'the five entries delivered');
    // longer than several claim sweeps with a 300 ms idle limit
    await new Promise((r) => setTimeout(r, 1500));
    expect(seen.length).toBe(5); // not delivered again
    expect(w.held).toBe(5);
    const pending = (await conn.client.sendCommand(['XPENDING', stream, 'g'])) as unknown[];
    expect(Number(pending[0])).toBe(5);
    expect(await conn.client.exists(`${stream}:dead`)).toBe(0);

    holding = false;
    await conn.client.xAdd(stream, '*', { n: '5' });
    await waitFor(
      async () => Number(((await conn.client.sendCommand(['XPENDING', stream, 'g'])) as unknown[])[0]) === 0,
      'the held entries acked',
    );
    expect(w.held).toBe(0);
    expect(seen.length).toBe(6);
    await w.stop();
  });
});
