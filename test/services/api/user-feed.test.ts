import { encode } from '@msgpack/msgpack';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serviceUser } from '../../../src/contracts/acl-users.js';
import { Connection } from '../../../src/bus/connection.js';
import { PermissionError } from '../../../src/bus/errors.js';
import { Registry } from '../../../src/bus/registry.js';
import { start } from '../../../src/services/api/index.js';
import { getJson, silent, startApi, VIEWER_TOKEN, WsProbe } from './helpers.js';
import { startRedisWithUsers } from '../../support/redis-acl.js';

type Ctx = Awaited<ReturnType<typeof startApi>>;
let t: Ctx;

beforeAll(async () => {
  t = await startApi({ userFeed: { intervalMs: 100, maxPerClient: 2 } });
});

const wsUrl = (api = t.api) => `${api.url.replace('http', 'ws')}/ws`;

/** A /ws client that authenticated with the viewer token. */
async function authed(api = t.api): Promise<WsProbe> {
  const p = await WsProbe.open(wsUrl(api));
  p.ws.send(JSON.stringify({ type: 'auth', token: VIEWER_TOKEN }));
  await p.waitFor((m) => m.type === 'auth' && m.ok === true);
  return p;
}

/** Polls until `fn` holds (a loaded machine may be slow). */
async function until(fn: () => boolean, what: string, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const userMsgs = (p: WsProbe, kind?: string) =>
  p.messages.filter((m) => m.type === 'user' && (kind === undefined || m.kind === kind));

describe('/ws live feed of one user', () => {
  it('decodes msgpack from user:{id}:raw and :predictions into JSON for a subscribed viewer', async () => {
    const p = await authed();
    p.ws.send(JSON.stringify({ type: 'subscribe', user: 'jamie' }));
    await p.waitFor((m) => m.type === 'subscribed' && m.user === 'jamie');
    const ts = Date.now();
    await t.client.publish(
      'user:jamie:raw',
      Buffer.from(encode({ type: 'raw', timestamp: ts, channels: { Ch0: 1.5, Ch1: [1, 2, 3] } })),
    );
    const raw = await p.waitFor((m) => m.type === 'user' && m.kind === 'raw');
    expect(raw).toMatchObject({
      user: 'jamie',
      data: { timestamp: ts, channels: { Ch0: 1.5, Ch1: 3 } },
      samples: { Ch0: 1, Ch1: 3 },
    });
    await t.client.publish(
      'user:jamie:predictions',
      Buffer.from(
        encode({
          type: 'prediction',
          prediction_type: 'stress',
          data: { score: 0.7 },
          confidence: 0.9,
          source: 'ml',
          timestamp: ts,
        }),
      ),
    );
    const pred = await p.waitFor((m) => m.type === 'user' && m.kind === 'prediction');
    expect(pred).toMatchObject({
      user: 'jamie',
      data: { prediction_type: 'stress', data: { score: 0.7 }, confidence: 0.9 },
    });
    // JSON on the channel works too; another user's data does not come
    await t.client.publish('user:alex:raw', JSON.stringify({ type: 'raw', timestamp: ts, channels: { Ch0: 99 } }));
    await t.client.publish('user:jamie:raw', JSON.stringify({ type: 'raw', timestamp: ts, channels: { Ch0: 2.5 } }));
    await p.waitFor(
      (m) => m.type === 'user' && m.kind === 'raw' && (m.data as { channels: { Ch0: number } }).channels.Ch0 === 2.5,
    );
    expect(userMsgs(p).every((m) => m.user === 'jamie')).toBe(true);
    // a malformed message is counted, never forwarded, and the feed keeps going
    const before = t.api.ctx.hub.users
      ? (t.api.ctx.hub.users as unknown as { stats: { malformed: number } }).stats.malformed
      : 0;
    await t.client.publish('user:jamie:raw', Buffer.from(encode({ type: 'raw', channels: 'nope' })));
    await t.client.publish('user:jamie:raw', Buffer.from([0xc1, 0x00]));
    await until(
      () => (t.api.ctx.hub.users as unknown as { stats: { malformed: number } }).stats.malformed >= before + 2,
      'the malformed count',
    );
    await t.client.publish(
      'user:jamie:raw',
      Buffer.from(encode({ type: 'raw', timestamp: ts, channels: { Ch0: 3.5 } })),
    );
    await p.waitFor((m) => m.type === 'user' && (m.data as { channels?: { Ch0?: number } }).channels?.Ch0 === 3.5);
    // unsubscribe: nothing more arrives (the Redis subscription goes when the last watcher leaves)
    p.ws.send(JSON.stringify({ type: 'unsubscribe', user: 'jamie' }));
    await p.waitFor((m) => m.type === 'unsubscribed');
    await until(
      () => (t.api.ctx.hub.users as unknown as { stats: { users: number } }).stats.users === 0,
      'unsubscribe',
    );
    const n = userMsgs(p).length;
    await t.client.publish(
      'user:jamie:raw',
      Buffer.from(encode({ type: 'raw', timestamp: ts, channels: { Ch0: 4.5 } })),
    );
    p.ws.send(JSON.stringify({ type: 'subscribe', location: 'Veg Room' }));
    await p.waitFor((m) => m.type === 'subscribed' && m.user === undefined);
    expect(userMsgs(p).length).toBe(n);
    p.close();
  });

  it('coalesces a flood into at most one message per interval with the latest value of every channel', async () => {
    const p = await authed();
    p.ws.send(JSON.stringify({ type: 'subscribe', user: 'flood' }));
    await p.waitFor((m) => m.type === 'subscribed');
    const N = 2000;
    const batch: Promise<unknown>[] = [];
    for (let i = 1; i <= N; i++) {
      batch.push(
        t.client.publish(
          'user:flood:raw',
          Buffer.from(encode({ type: 'raw', timestamp: i, channels: { Ch0: i, [`Odd${i % 2}`]: i } })),
        ),
      );
    }
    await Promise.all(batch);
    await p.waitFor((m) => m.type === 'user' && (m.data as { channels: { Ch0: number } }).channels.Ch0 === N, 20_000);
    const raws = userMsgs(p, 'raw');
    // far fewer messages than published, none lost: every merged message is counted
    expect(raws.length).toBeLessThan(N / 4);
    expect(raws.reduce((s, m) => s + (m.merged as number), 0)).toBe(N);
    const last = raws.at(-1)!.data as { channels: Record<string, number> };
    expect(last.channels).toMatchObject({ Ch0: N, Odd0: N });
    p.close();
  });

  it('needs a viewer token even where reads are open, caps users per client, and refuses bad ids', async () => {
    const open = await WsProbe.open(wsUrl());
    open.ws.send(JSON.stringify({ type: 'subscribe', user: 'jamie' }));
    expect((await open.waitFor((m) => m.type === 'error')).message).toMatch(/viewer token/);
    open.close();
    const p = await authed();
    p.ws.send(JSON.stringify({ type: 'subscribe', user: 'a' }));
    p.ws.send(JSON.stringify({ type: 'subscribe', user: 'b' }));
    p.ws.send(JSON.stringify({ type: 'subscribe', user: 'c' }));
    expect((await p.waitFor((m) => m.type === 'error' && m.user === 'c')).message).toMatch(/at most 2 users/);
    p.ws.send(JSON.stringify({ type: 'subscribe', user: 'bad:user*' }));
    expect((await p.waitFor((m) => m.type === 'error' && m.user === 'bad:user*')).message).toMatch(/user must be/);
    p.ws.send(JSON.stringify({ type: 'subscribe', user: 'a', location: 'Veg Room' }));
    expect((await p.waitFor((m) => m.type === 'error' && /no location/.test(String(m.message)))).message).toBeTruthy();
    // closing the socket releases its users
    p.close();
    await until(() => (t.api.ctx.hub.users as unknown as { stats: { users: number } }).stats.users === 0, 'release');
  });
});

describe('the api ACL user', () => {
  const users = [serviceUser('api'), serviceUser('gateway')];
  let url: (u: string) => string;
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    ({ url } = await startRedisWithUsers(users));
  });
  afterAll(async () => {
    for (const c of closers.reverse()) await c().catch(() => undefined);
  });

  it('lists relays, reads analytics and watches a user as canopy-api; NOPERM for anything else on user:*', async () => {
    const gw = await Connection.connect({ url: url('canopy-gateway'), healthCheckIntervalMs: 0 });
    closers.push(() => gw.close());
    await new Registry(gw).touch('relay', 'abc', { user: 'jamie', remote: '10.0.0.2', codec: 'msgpack' });
    // the helper's own client would log in as the default user, which this server has not: start the API directly
    const api = await start({
      port: 0,
      redisUrl: url('canopy-api'),
      logger: silent,
      tokens: `viewer:${VIEWER_TOKEN}`,
      userFeed: { intervalMs: 100 },
    });
    closers.push(() => api.stop());
    const own = { api };
    const relays = await getJson(own.api, '/api/relays');
    expect(relays.status).toBe(200);
    expect(relays.body.users).toEqual(['jamie']);
    expect((await getJson(own.api, '/api/analytics')).body.running).toBe(false);
    const p = await authed(own.api);
    p.ws.send(JSON.stringify({ type: 'subscribe', user: 'jamie' }));
    await p.waitFor((m) => m.type === 'subscribed' && m.user === 'jamie');
    await gw.run('PUBLISH', (c) =>
      c.publish('user:jamie:raw', Buffer.from(encode({ type: 'raw', timestamp: 1, channels: { Ch0: 7 } }))),
    );
    await p.waitFor((m) => m.type === 'user' && m.kind === 'raw');
    p.close();
    // what the api user may not do on user channels and identities
    const conn = await Connection.connect({ url: url('canopy-api'), healthCheckIntervalMs: 0 });
    closers.push(() => conn.close());
    conn.on('error', () => undefined);
    for (const [what, fn] of [
      ['PUBLISH user:jamie:predictions', () => conn.run('PUBLISH', (c) => c.publish('user:jamie:predictions', 'x'))],
      ['PUBLISH user:jamie:raw', () => conn.run('PUBLISH', (c) => c.publish('user:jamie:raw', 'x'))],
      ['XRANGE user:jamie:backlog', () => conn.run('XRANGE', (c) => c.xRange('user:jamie:backlog', '-', '+'))],
      ['SET identity:relay:x', () => conn.run('SET', (c) => c.set('identity:relay:x', '{}'))],
      ['SET analytics:latest', () => conn.run('SET', (c) => c.set('analytics:latest', '{}'))],
    ] as const) {
      await expect(fn(), what).rejects.toBeInstanceOf(PermissionError);
    }
    const dup = await Connection.connect({ url: url('canopy-api'), healthCheckIntervalMs: 0 });
    closers.push(() => dup.close());
    dup.on('error', () => undefined);
    const sub = dup.client.duplicate();
    sub.on('error', () => undefined);
    await sub.connect();
    closers.push(async () => sub.destroy());
    for (const ch of ['user:jamie:commands', 'user:jamie:alerts', 'user:jamie:features']) {
      await expect(
        sub.subscribe(ch, () => undefined),
        ch,
      ).rejects.toThrow(/NOPERM|permission/i);
    }
  });
});
