import { decode as decodeMsgpack, encode } from '@msgpack/msgpack';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../src/client/errors.js';
import { RelayClient } from '../../src/client/relay.js';
import { UserChannels } from '../../src/client/channels.js';
import type { ErrorFrame } from '../../src/gateway-protocol/index.js';
import type { Gateway } from '../../src/services/gateway/gateway.js';
import type { TestRedis } from '../support/redis.js';
import { startGateway, TOKENS, until } from './helpers.js';

/** A bare WebSocket relay, to send what a well-behaved client never would. */
async function rawRelay(gateway: Gateway, user: string, token = TOKENS.get(user)!, query = '') {
  const ws = new WebSocket(`${gateway.url}/relay/${user}${query}`, { headers: { authorization: `Bearer ${token}` } });
  const frames: Record<string, unknown>[] = [];
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  ws.on('message', (d: Buffer) => frames.push(d[0] === 0x7b ? JSON.parse(d.toString()) : decodeMsgpack(d)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  await until(() => frames.length > 0, 'the welcome');
  return { ws, frames, closed };
}

const raw = (seq: number) => ({ type: 'raw', timestamp: Date.now() / 1000, seq, channels: { Ch0: seq } });

describe('bad input at the gateway', () => {
  let redis: TestRedis;
  let gateway: Gateway;
  let consumer: UserChannels;
  const seen = { jamie: [] as number[], alex: [] as number[] };

  beforeAll(async () => {
    ({ redis, gateway } = await startGateway({ maxMessageBytes: 4096, ratePerSecond: 50, rateBurst: 100 }));
    consumer = await UserChannels.connect({ redis: { url: redis.url, healthCheckIntervalMs: 0 } });
    for (const u of ['jamie', 'alex'] as const) {
      await consumer.subscribe(u, 'raw', (m) => void seen[u].push((m as unknown as { seq: number }).seq));
    }
  });
  afterAll(async () => {
    await consumer.close();
    await gateway.stop();
  });

  it('a bad token or an unknown user is refused with 401 and a reason, before the upgrade', async () => {
    const before = gateway.stats.authFailures;
    const err = await RelayClient.connect({ url: gateway.url, user: 'jamie', token: 'wrong-token-0123456789' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('GATEWAY_AUTH');
    expect((err as GatewayError).status).toBe(401);
    expect((err as GatewayError).message).toMatch(/authentication failed/);
    const err2 = await RelayClient.connect({ url: gateway.url, user: 'nobody', token: TOKENS.get('jamie')! }).catch(
      (e: unknown) => e,
    );
    expect((err2 as GatewayError).code).toBe('GATEWAY_AUTH');
    // a token of another user does not open this user's channels
    const err3 = await RelayClient.connect({ url: gateway.url, user: 'alex', token: TOKENS.get('jamie')! }).catch(
      (e: unknown) => e,
    );
    expect((err3 as GatewayError).status).toBe(401);
    expect(gateway.stats.authFailures).toBe(before + 3);
    expect(gateway.stats.connections).toBe(0);
  });

  it('malformed and invalid messages get an error frame; the connection stays and later messages pass', async () => {
    const r = await rawRelay(gateway, 'jamie');
    r.ws.send(Buffer.from([0xc1, 0x00, 0x01])); // 0xc1 is never valid MessagePack
    r.ws.send('{"type": "raw", ');
    r.ws.send(encode({ type: 'prediction', data: {} }));
    r.ws.send(encode({ type: 'raw', timestamp: 1, channels: { Ch0: 'high' } }));
    r.ws.send(JSON.stringify({ type: 'raw', channels: {} }));
    r.ws.send(encode(raw(1)));
    await until(() => seen.jamie.includes(1), 'the valid message');
    const errors = r.frames.filter((f) => f.type === 'error') as unknown as ErrorFrame[];
    expect(errors.map((e) => e.code)).toEqual(['malformed', 'malformed', 'invalid', 'invalid', 'invalid']);
    expect(errors[0]!.error).toMatch(/msgpack/);
    expect(errors[1]!.error).toMatch(/JSON/);
    expect(errors[2]!.error).toMatch(/type must be "raw" or "features"/);
    expect(errors[3]!.error).toMatch(/\/channels\/Ch0/);
    expect(errors[4]!.error).toMatch(/timestamp/);
    expect(r.ws.readyState).toBe(WebSocket.OPEN);
    expect(gateway.stats.rejectedMalformed).toBe(2);
    expect(gateway.stats.rejectedInvalid).toBe(3);
    r.ws.close();
  });

  it('an oversized message closes that connection with 1009 and a reason; others carry on', async () => {
    const big = await rawRelay(gateway, 'jamie');
    const other = await rawRelay(gateway, 'jamie');
    big.ws.send(encode({ ...raw(2), pad: 'x'.repeat(5000) }));
    const c = await big.closed;
    expect(c.code).toBe(1009);
    expect(c.reason).toMatch(/message too big: \d+ bytes, limit 4096/);
    // far over the limit: ws refuses it at the frame header, still 1009
    const huge = await rawRelay(gateway, 'jamie');
    huge.ws.send(Buffer.alloc(200_000, 0x90));
    expect((await huge.closed).code).toBe(1009);
    other.ws.send(encode(raw(3)));
    await until(() => seen.jamie.includes(3), 'the other relay');
    expect(other.ws.readyState).toBe(WebSocket.OPEN);
    other.ws.close();
  });

  it('a flooding relay is closed with 1008; the other relays lose nothing', async () => {
    const flood = await rawRelay(gateway, 'jamie');
    const calm = await RelayClient.connect({ url: gateway.url, user: 'alex', token: TOKENS.get('alex')! });
    const calmJamie = await RelayClient.connect({ url: gateway.url, user: 'jamie', token: TOKENS.get('jamie')! });
    const payload = encode(raw(-1));
    for (let i = 0; i < 2000; i++) flood.ws.send(payload);
    for (let i = 100; i < 140; i++) {
      calm.send(raw(i) as never);
      calmJamie.send(raw(i) as never);
      await new Promise((res) => setTimeout(res, 25)); // 40/s, under the 50/s limit
    }
    const c = await flood.closed;
    expect(c.code).toBe(1008);
    expect(c.reason).toMatch(/rate limit exceeded: more than 50 messages\/s/);
    await until(() => seen.alex.length === 40 && seen.jamie.filter((s) => s >= 100).length === 40, 'the calm relays');
    expect(seen.alex).toEqual([...Array(40).keys()].map((i) => i + 100));
    expect(seen.jamie.filter((s) => s >= 100)).toEqual([...Array(40).keys()].map((i) => i + 100));
    expect(calm.connected && calmJamie.connected).toBe(true);
    expect(gateway.stats.closedRate).toBe(1);
    // the flood before the cut went through up to the burst, never more
    expect(seen.jamie.filter((s) => s === -1).length).toBeLessThanOrEqual(120);
    await calm.close();
    await calmJamie.close();
  });

  it('a relay that stops reading is closed as too slow; a healthy relay gets every message', async () => {
    const { gateway: g2, redis: r2 } = await startGateway({ maxBufferedBytes: 64 * 1024 }, redis);
    expect(r2).toBe(redis);
    try {
      const slow = await rawRelay(g2, 'jamie');
      (slow.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const healthy = await RelayClient.connect({ url: g2.url, user: 'jamie', token: TOKENS.get('jamie')! });
      const got: number[] = [];
      healthy.on('prediction', (p) => got.push(p.data.i as number));
      const N = 600;
      const pad = 'y'.repeat(16_000);
      for (let i = 0; i < N; i++) {
        await consumer.publishPrediction('jamie', { prediction_type: 'x', data: { i, pad } });
      }
      await until(() => got.length === N, `${N} predictions on the healthy relay (got ${got.length})`);
      expect(got).toEqual([...Array(N).keys()]);
      (slow.ws as unknown as { _socket: { resume(): void } })._socket.resume();
      const c = await slow.closed;
      expect(c.code).toBe(1008);
      expect(c.reason).toMatch(/too slow/);
      await until(() => g2.stats.closedSlow === 1, 'the slow close to be counted');
      await healthy.close();
    } finally {
      await g2.stop();
    }
  });

  it('Redis down: relays are told once a second, the gateway keeps running and recovers', async () => {
    const { startRedis } = await import('../support/redis.js');
    const r = await startRedis();
    const { gateway: g } = await startGateway(
      { redis: { url: r.url, healthCheckIntervalMs: 0, commandTimeoutMs: 500, reconnectMaxMs: 200 } },
      r,
    );
    const c = await UserChannels.connect({ redis: { url: r.url, healthCheckIntervalMs: 0 } });
    try {
      const relay = await RelayClient.connect({ url: g.url, user: 'jamie', token: TOKENS.get('jamie')! });
      const errors: ErrorFrame[] = [];
      relay.on('rejected', (e) => errors.push(e));
      await r.kill();
      for (let i = 0; i < 20; i++) relay.send(raw(i) as never);
      await until(() => errors.length >= 2, 'the unavailable notices');
      expect(errors[0]).toMatchObject({ code: 'unavailable', error: 'Redis unavailable: message not published' });
      expect(errors[1]!.error).toMatch(/Redis unavailable: 19 more messages not published/);
      expect((await fetch(`http://127.0.0.1:${g.port}/health`)).status).toBe(503);
      await r.restart();
      const seen: number[] = [];
      await until(() => g.stats.publishErrors === 20, 'the failures to be counted');
      await c.subscribe('jamie', 'raw', (m) => void seen.push((m as unknown as { seq: number }).seq));
      const preds: unknown[] = [];
      relay.on('prediction', (p) => preds.push(p));
      await until(() => (relay.send(raw(100) as never), seen.includes(100)), 'publishing again', 30_000);
      await until(() => {
        void c.publishPrediction('jamie', { data: { ok: 1 } });
        return preds.length > 0;
      }, 'the back-channel again');
      expect(relay.connected).toBe(true);
      await relay.close();
    } finally {
      await c.close();
      await g.stop();
    }
  });

  it('bad query parameters and paths are refused with 400/404 and a reason', async () => {
    const err = await RelayClient.connect({
      url: gateway.url,
      user: 'jamie',
      token: TOKENS.get('jamie')!,
      resumeFrom: 'yesterday',
    }).catch((e: unknown) => e);
    expect((err as GatewayError).code).toBe('GATEWAY_REFUSED');
    expect((err as GatewayError).message).toMatch(/resume must be a stream id/);
    const res = await fetch(`http://127.0.0.1:${gateway.port}/nowhere`);
    expect(res.status).toBe(404);
    const health = (await (await fetch(`http://127.0.0.1:${gateway.port}/health`)).json()) as { status: string };
    expect(health.status).toBe('ok');
  });
});
