import { decode } from '@msgpack/msgpack';
import { createClient } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RelayClient } from '../../src/client/relay.js';
import { UserChannels } from '../../src/client/channels.js';
import type { PredictionMessage, RawMessage } from '../../src/contracts/user-channels.js';
import type { Gateway } from '../../src/services/gateway/gateway.js';
import type { TestRedis } from '../support/redis.js';
import { startGateway, TOKENS, until } from './helpers.js';

describe('relay → gateway → consumer → predictions → relay, on real Redis', () => {
  let redis: TestRedis;
  let gateway: Gateway;
  let consumer: UserChannels;
  const relays: RelayClient[] = [];

  beforeAll(async () => {
    ({ redis, gateway } = await startGateway());
    consumer = await UserChannels.connect({ redis: { url: redis.url, healthCheckIntervalMs: 0 } });
  });
  afterAll(async () => {
    await Promise.all(relays.map((r) => r.close()));
    await consumer.close();
    await gateway.stop();
  });

  const relay = async (user: string, extra: Partial<ConstructorParameters<typeof RelayClient>[0]> = {}) => {
    const r = await RelayClient.connect({ url: gateway.url, user, token: TOKENS.get(user)!, ...extra });
    relays.push(r);
    return r;
  };

  it('every raw message reaches the consumer and every prediction comes back, in order', async () => {
    const N = 400;
    const raws: (RawMessage & { seq: number })[] = [];
    const alexRaws: RawMessage[] = [];
    await consumer.subscribe('alex', 'raw', (m) => void alexRaws.push(m));
    await consumer.subscribe('jamie', 'raw', async (m) => {
      const msg = m as RawMessage & { seq: number };
      raws.push(msg);
      await consumer.publishPrediction('jamie', {
        prediction_type: 'workload',
        data: { seq: msg.seq, workload: msg.channels.Ch0 as number },
        confidence: 0.92,
        source: 'test-model',
      });
    });
    const jamie = await relay('jamie');
    const alex = await relay('alex');
    const got: PredictionMessage[] = [];
    const alexGot: PredictionMessage[] = [];
    jamie.on('prediction', (p) => got.push(p));
    alex.on('prediction', (p) => alexGot.push(p));
    for (let i = 0; i < N; i++) {
      jamie.send({ type: 'raw', timestamp: Date.now() / 1000, seq: i, channels: { Ch0: i / 10, Ch1: -i } });
    }
    await until(() => got.length === N, `${N} predictions (got ${got.length}, consumer ${raws.length})`);
    expect(raws.map((r) => r.seq)).toEqual([...Array(N).keys()]);
    expect(raws[7]!.channels).toEqual({ Ch0: 0.7, Ch1: -7 });
    expect(got.map((p) => p.data.seq)).toEqual([...Array(N).keys()]);
    expect(got[3]).toMatchObject({
      type: 'prediction',
      prediction_type: 'workload',
      confidence: 0.92,
      source: 'test-model',
    });
    expect(jamie.stats).toMatchObject({ sent: N, received: N, rejected: 0, dropped: 0 });
    const st = gateway.stats;
    expect(st.published).toBe(N);
    expect(st.delivered).toBe(N);
    expect(st.backMalformed).toBe(0);
    // nothing crossed to the other user
    expect(alexGot).toEqual([]);
    expect(alexRaws).toEqual([]);
    // every relay of the user gets the back-channel: a second jamie relay sees the next prediction
    const jamie2 = await relay('jamie');
    const got2: PredictionMessage[] = [];
    jamie2.on('prediction', (p) => got2.push(p));
    jamie.send({ type: 'raw', timestamp: Date.now() / 1000, seq: N, channels: { Ch0: 1 } });
    await until(() => got.length === N + 1 && got2.length === 1, 'the prediction on both relays');
    expect(got2[0]!.data.seq).toBe(N);
  });

  it('features go to user:{id}:features; JSON relays are re-encoded to msgpack for consumers', async () => {
    const feats: unknown[] = [];
    await consumer.subscribe('jamie', 'features', (m) => void feats.push(m));
    // what is on the channel itself, byte for byte
    const plain = createClient({ url: redis.url });
    await plain.connect();
    const bytes: Buffer[] = [];
    await plain.subscribe('user:jamie:features', (b) => bytes.push(b), true);
    const j = await relay('jamie', { codec: 'json' });
    const back: unknown[] = [];
    j.on('alert', (a) => back.push(a));
    j.sendFeatures({ workload: 0.5, bands: { alpha: 1.25 } }, 1700000000.5);
    await until(() => feats.length === 1, 'the features message');
    expect(feats[0]).toEqual({
      type: 'features',
      timestamp: 1700000000.5,
      features: { workload: 0.5, bands: { alpha: 1.25 } },
    });
    await until(() => bytes.length === 1, 'the raw payload');
    expect(decode(bytes[0]!)).toEqual(feats[0]); // MessagePack, not the relay's JSON
    plain.destroy();
    await consumer.publish('jamie', 'alerts', { type: 'alert', severity: 'warning', message: 'electrode loose' });
    await until(() => back.length === 1, 'the alert over the JSON connection');
    expect(back[0]).toEqual({ type: 'alert', severity: 'warning', message: 'electrode loose' });
  });

  it('a relay keeps what it sends while the gateway restarts and delivers it after reconnecting', async () => {
    const { gateway: g1 } = await startGateway({}, redis);
    const port = g1.port;
    const got: number[] = [];
    const sub = await consumer.subscribe('alex', 'features', (m) => void got.push(m.features.n as number));
    const r = await RelayClient.connect({ url: g1.url, user: 'alex', token: TOKENS.get('alex')!, reconnectBaseMs: 50 });
    relays.push(r);
    r.sendFeatures({ n: 0 });
    await until(() => got.length === 1, 'the first message');
    await g1.stop();
    await until(() => !r.connected, 'the disconnect');
    for (let n = 1; n <= 50; n++) r.sendFeatures({ n });
    expect(r.queued).toBe(50);
    const { gateway: g2 } = await startGateway({ port }, redis);
    try {
      await until(() => got.length === 51, `the queued messages (got ${got.length})`);
      expect(got).toEqual([...Array(51).keys()]);
      expect(r.stats.dropped).toBe(0);
      expect(r.stats.connects).toBe(2);
    } finally {
      await r.close();
      await sub.unsubscribe();
      await g2.stop();
    }
  });

  it('when Redis falls behind the gateway stops reading relays instead of losing messages', async () => {
    const { gateway: g } = await startGateway({ maxInFlight: 20 }, redis);
    const got: number[] = [];
    const sub = await consumer.subscribe('alex', 'raw', (m) => void got.push((m as unknown as { seq: number }).seq));
    const r = await RelayClient.connect({ url: g.url, user: 'alex', token: TOKENS.get('alex')! });
    try {
      for (let i = 0; i < 600; i++) r.send({ type: 'raw', timestamp: 1, seq: i, channels: { Ch0: i } });
      await until(() => got.length === 600, `all 600 (got ${got.length})`);
      expect(got).toEqual([...Array(600).keys()]);
      expect(g.stats.backpressure).toBeGreaterThan(0);
      expect(g.stats.publishErrors).toBe(0);
    } finally {
      await r.close();
      await sub.unsubscribe();
      await g.stop();
    }
  });

  it('malformed back-channel messages are counted and never reach a relay', async () => {
    const r = await relay('jamie');
    const got: unknown[] = [];
    r.on('message', (_k, m) => got.push(m));
    const plain = createClient({ url: redis.url });
    await plain.connect();
    const before = gateway.stats.backMalformed;
    await plain.publish('user:jamie:predictions', Buffer.from([0xc1, 0xc1]));
    await plain.publish('user:jamie:predictions', '{"type":"prediction"}');
    await plain.publish('user:jamie:alerts', '{"type":"alert","severity":"info","message":"ok"}');
    await until(() => got.length === 1, 'the valid alert');
    expect(got).toEqual([{ type: 'alert', severity: 'info', message: 'ok' }]);
    expect(gateway.stats.backMalformed).toBe(before + 2);
    plain.destroy();
  });

  it('a relay that reconnects gets what was published while it was away, once', async () => {
    const user = 'alex';
    const r = await relay(user);
    const seen: number[] = [];
    const ids: string[] = [];
    r.on('command', (c, id) => {
      seen.push(c.args!.n as number);
      ids.push(id!);
    });
    const send = (n: number) => consumer.publish(user, 'commands', { type: 'command', command: 'mark', args: { n } });
    for (let n = 0; n < 3; n++) await send(n);
    await until(() => seen.length === 3, 'the first commands');
    // the gateway drops the connection; the client reconnects with resume by itself
    const welcomes = r.stats.connects;
    expect(gateway.disconnectUser(user)).toBeGreaterThan(0);
    await until(() => !r.connected, 'the disconnect');
    for (let n = 3; n < 8; n++) await send(n);
    await until(() => r.stats.connects === welcomes + 1, 'the reconnect');
    for (let n = 8; n < 10; n++) await send(n);
    await until(() => seen.length >= 10, 'all ten commands');
    await new Promise((res) => setTimeout(res, 200));
    expect(seen).toEqual([...Array(10).keys()]);
    expect(new Set(ids).size).toBe(10);
    // a new client (a relay restarted with its saved id) resumes where the old one stopped
    const last = r.lastId!;
    await r.close();
    for (let n = 10; n < 13; n++) await send(n);
    await until(() => gateway.stats.backReceived >= 13, 'the gateway to store them');
    const r2 = new RelayClient({ url: gateway.url, user, token: TOKENS.get(user)!, resumeFrom: last });
    relays.push(r2);
    const seen2: number[] = [];
    r2.on('command', (c) => seen2.push(c.args!.n as number));
    await r2.start();
    await until(() => seen2.length >= 3, 'the replay');
    await send(13);
    await until(() => seen2.length >= 4, 'the live one after the replay');
    await new Promise((res) => setTimeout(res, 200));
    expect(seen2).toEqual([10, 11, 12, 13]);
  });
});
