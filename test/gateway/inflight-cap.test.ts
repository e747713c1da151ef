import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserChannels } from '../../src/client/channels.js';
import { Gateway } from '../../src/services/gateway/gateway.js';
import { FaultProxy } from '../support/proxy.js';
import { startRedis } from '../support/redis.js';
import { TOKENS, until } from './helpers.js';

describe('relay messages waiting for Redis are capped in bytes', () => {
  let proxy: FaultProxy;
  let gateway: Gateway;
  let consumer: UserChannels;
  const got: number[] = [];

  beforeAll(async () => {
    const redis = await startRedis();
    proxy = await FaultProxy.start(redis.port);
    gateway = await Gateway.start({
      port: 0,
      tokens: TOKENS,
      // Redis stalls (not down): nothing times out during the test, so every refusal is the cap's
      redis: { url: proxy.url, healthCheckIntervalMs: 0, commandTimeoutMs: 120_000 },
      maxInFlight: 1_000_000,
      maxInFlightBytes: 20_000,
    });
    consumer = await UserChannels.connect({ redis: { url: redis.url, healthCheckIntervalMs: 0 } });
    await consumer.subscribe('jamie', 'raw', (m) => void got.push(m.channels.seq as number));
  });
  afterAll(async () => {
    proxy.resume();
    await consumer.close();
    await gateway.stop();
    await proxy.close();
  });

  it('beyond the cap a message is answered "unavailable", not queued; the queued ones go out when Redis answers', async () => {
    const ws = new WebSocket(`${gateway.url}/relay/jamie?codec=json`, {
      headers: { authorization: `Bearer ${TOKENS.get('jamie')}` },
    });
    const frames: Array<{ type: string; code?: string }> = [];
    ws.on('message', (d: Buffer) => frames.push(JSON.parse(d.toString()) as { type: string; code?: string }));
    await until(() => frames.some((f) => f.type === 'welcome'), 'the welcome');
    proxy.pause();
    const pad = 'x'.repeat(400);
    for (let seq = 0; seq < 100; seq++) {
      ws.send(JSON.stringify({ type: 'raw', timestamp: 1, pad, channels: { seq } }), { binary: true });
    }
    await until(() => gateway.stats.received === 100, 'the gateway to read all 100');
    const refused = gateway.stats.publishErrors;
    expect(refused).toBeGreaterThanOrEqual(50);
    expect(refused).toBeLessThan(100);
    await until(() => frames.some((f) => f.type === 'error' && f.code === 'unavailable'), 'an unavailable frame');
    expect(got).toEqual([]);
    proxy.resume();
    await until(() => got.length === 100 - refused, `the ${100 - refused} queued messages`);
    expect(got).toEqual([...Array(100 - refused).keys()]);
    ws.send(JSON.stringify({ type: 'raw', timestamp: 1, channels: { seq: 1000 } }));
    await until(() => got.includes(1000), 'a message after the stall');
    ws.close();
  });
});
