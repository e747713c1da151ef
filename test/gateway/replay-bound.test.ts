import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UserChannels } from '../../src/client/channels.js';
import { RelayClient } from '../../src/client/relay.js';
import type { Gateway } from '../../src/services/gateway/gateway.js';
import { startGateway, TOKENS, until } from './helpers.js';

describe('backlog replay is bounded in memory', () => {
  let gateway: Gateway;
  let consumer: UserChannels;
  beforeAll(async () => {
    let redis;
    ({ gateway, redis } = await startGateway({ maxBufferedBytes: 64 * 1024 }));
    consumer = await UserChannels.connect({ redis: { url: redis.url, healthCheckIntervalMs: 0 } });
  });
  afterAll(async () => {
    await consumer.close();
    await gateway.stop();
  });

  it('a backlog larger than one replay reads arrives over several resumes, in order, each message once', async () => {
    // the backlog is written as the hub sees each message; wait for the last one to be stored
    for (let i = 0; i < 500; i++) await consumer.publishPrediction('jamie', { data: { i, pad: 'x'.repeat(1000) } });
    await until(() => gateway.stats.backReceived >= 500, 'the backlog to be written');
    const got: number[] = [];
    const relay = new RelayClient({
      url: gateway.url,
      user: 'jamie',
      token: TOKENS.get('jamie')!,
      resumeFrom: '0-0',
      reconnectBaseMs: 20,
      reconnectMaxMs: 200,
    });
    relay.on('prediction', (p) => got.push((p.data as { i: number }).i));
    await relay.start();
    try {
      await until(() => got.length >= 500, `all 500 messages (got ${got.length})`, 60_000);
      expect(got).toEqual([...Array(500).keys()]);
      expect(relay.stats.connects).toBeGreaterThanOrEqual(3);
    } finally {
      await relay.close();
    }
  });
});
