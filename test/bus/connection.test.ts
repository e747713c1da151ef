import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { AuthError, ClosedError, ConfigError, ConnectionError, TimeoutError } from '../../src/bus/errors.js';
import { parseRedisUrl, redactUrl, resolveConnectionOptions } from '../../src/bus/options.js';
import { freePort } from '../../src/ops/ports.js';
import { Subscriber } from '../../src/bus/subscriber.js';
import { Publisher } from '../../src/bus/topics.js';
import { FaultProxy } from '../support/proxy.js';
import { startRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';
import { connect, waitFor } from './helpers.js';

describe('Redis URL and database (pure)', () => {
  it('parses host, port, user, password, db and TLS', () => {
    expect(parseRedisUrl('redis://127.0.0.1:6380/2')).toEqual({ tls: false, host: '127.0.0.1', port: 6380, db: 2 });
    expect(parseRedisUrl('rediss://canopy:s%40cret@redis.example:6390')).toEqual({
      tls: true,
      host: 'redis.example',
      port: 6390,
      username: 'canopy',
      password: 's@cret',
    });
    expect(parseRedisUrl('redis://:onlypass@localhost')).toMatchObject({ port: 6379, password: 'onlypass' });
    expect(parseRedisUrl('redis://localhost').username).toBeUndefined();
  });

  it('refuses other schemes, non-URLs and non-numeric databases with ConfigError', () => {
    expect(() => parseRedisUrl('http://localhost')).toThrow(ConfigError);
    expect(() => parseRedisUrl('localhost:6379')).toThrow(ConfigError);
    expect(() => parseRedisUrl('redis://localhost/abc')).toThrow(/database must be a number/);
  });

  it('takes the database from the URL unless db is given; reads no environment', () => {
    expect(resolveConnectionOptions({ url: 'redis://h:1/3' })).toMatchObject({ url: 'redis://h:1/3', db: 3 });
    expect(resolveConnectionOptions({ url: 'redis://h:1/3', db: 7 }).db).toBe(7);
    const saved = { url: process.env.REDIS_URL, db: process.env.REDIS_DB };
    process.env.REDIS_URL = 'redis://elsewhere:1/4';
    process.env.REDIS_DB = '5';
    try {
      expect(resolveConnectionOptions({})).toMatchObject({ url: 'redis://127.0.0.1:6379', db: 0 });
    } finally {
      for (const [k, v] of [
        ['REDIS_URL', saved.url],
        ['REDIS_DB', saved.db],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    expect(() => resolveConnectionOptions({ db: -1 })).toThrow(ConfigError);
    expect(() => resolveConnectionOptions({ connectTimeoutMs: 0 })).toThrow(ConfigError);
  });

  it('never shows the password in a redacted URL', () => {
    expect(redactUrl('rediss://canopy:topsecret@h:1/0')).toBe('rediss://canopy:***@h:1/0');
  });
});

describe('connection failures on real sockets', () => {
  it('a wrong password gives AuthError (BUS_AUTH) with a clear message before the timeout', async () => {
    const redis = await startRedis({ extraConfig: ['requirepass right-one'] });
    const t0 = Date.now();
    const err = await Connection.connect({
      url: `redis://:wrong-one@127.0.0.1:${redis.port}`,
      connectTimeoutMs: 3000,
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(err).toBeInstanceOf(AuthError);
    expect((err as AuthError).code).toBe('BUS_AUTH');
    expect((err as Error).message).toMatch(/authentication refused/);
    expect((err as Error).message).not.toContain('wrong-one');
    // and the right password works
    const ok = await connect(`redis://:right-one@127.0.0.1:${redis.port}`);
    expect(await ok.client.ping()).toBe('PONG');
  });

  it('a refused port gives ConnectionError (BUS_CONNECTION) naming ECONNREFUSED', async () => {
    const port = await freePort();
    const err = await Connection.connect({ url: `redis://127.0.0.1:${port}`, connectTimeoutMs: 3000 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as ConnectionError).code).toBe('BUS_CONNECTION');
    expect((err as Error).message).toMatch(/ECONNREFUSED/);
  });

  it('a server that accepts but never answers gives TimeoutError (BUS_TIMEOUT)', async () => {
    const redis = await startRedis();
    const proxy = await FaultProxy.start(redis.port);
    proxy.pause();
    const err = await Connection.connect({ url: proxy.url, connectTimeoutMs: 400 }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).code).toBe('BUS_TIMEOUT');
    proxy.resume();
  });

  it('a command that gets no reply fails with TimeoutError after commandTimeoutMs', async () => {
    const redis = await startRedis();
    const proxy = await FaultProxy.start(redis.port);
    const conn = await connect(proxy.url, { commandTimeoutMs: 300 });
    proxy.pause();
    await expect(conn.run('GET', (c) => c.get('k'))).rejects.toBeInstanceOf(TimeoutError);
    proxy.resume();
  });
});

describe('reconnect through a fault-injection proxy', () => {
  it('commands work again after the connection is dropped; health goes reconnecting → ready', async () => {
    const redis = await startRedis();
    const proxy = await FaultProxy.start(redis.port);
    const conn = await connect(proxy.url, { reconnectBaseMs: 20, reconnectMaxMs: 100 });
    const states: string[] = [];
    conn.on('health', (s) => states.push(s));
    let reconnected = 0;
    conn.on('reconnected', () => reconnected++);
    await conn.client.set('k', 'v');
    proxy.dropAll();
    await waitFor(() => reconnected === 1, 'reconnect');
    expect(await conn.run('GET', (c) => c.get('k'))).toBe('v');
    expect(states).toEqual(['reconnecting', 'ready']);
    expect(proxy.accepted).toBeGreaterThanOrEqual(2);
  });

  it('keeps retrying while refused, then a subscriber gets its subscriptions back', async () => {
    const redis = await startRedis();
    const proxy = await FaultProxy.start(redis.port);
    const direct = await connect(redis.url);
    const viaProxy = await connect(proxy.url, { reconnectBaseMs: 20, reconnectMaxMs: 100 });
    const sub = await Subscriber.create(viaProxy);
    const ch = `${randomPrefix()}device:update`;
    const got: unknown[] = [];
    await sub.subscribe(ch, (m) => got.push(m));
    proxy.refuse(true);
    proxy.dropAll();
    const before = proxy.accepted;
    await waitFor(() => proxy.accepted >= before + 3, 'several refused reconnect attempts');
    expect(sub.health).toBe('reconnecting');
    proxy.refuse(false);
    await waitFor(() => sub.health === 'ready', 'subscriber ready');
    await waitFor(async () => (await direct.client.pubSubNumSub(ch))[ch] === 1, 'resubscribed');
    await new Publisher(direct).publish(ch, { state: 1 });
    await waitFor(() => got.length === 1, 'message after reconnect');
    expect(got).toEqual([{ state: 1 }]);
    await sub.close();
  });
});

describe('stopSignal: a stop does not wait for a Redis that is gone', () => {
  const long = { commandTimeoutMs: 120_000, reconnectBaseMs: 20, reconnectMaxMs: 100 };

  it('a command waiting for a reconnect fails as soon as the stop begins, not after its timeout; later ones with ClosedError', async () => {
    const redis = await startRedis();
    const proxy = await FaultProxy.start(redis.port);
    const stop = new AbortController();
    const conn = await connect(proxy.url, { ...long, stopSignal: stop.signal });
    const own = await conn.duplicate({ clientName: 'reader' }); // duplicates share the signal
    own.on('error', () => undefined);
    proxy.refuse(true);
    proxy.dropAll();
    await waitFor(() => conn.health === 'reconnecting' && own.health === 'reconnecting', 'both reconnecting');
    const waiting = conn
      .run('GET', (c) => c.get('k'))
      .then(
        () => 'answered',
        (err: unknown) => err,
      );
    const waitingOwn = own
      .run('GET', (c) => c.get('k'))
      .then(
        () => 'answered',
        (err: unknown) => err,
      );
    stop.abort();
    // dropped with the socket: a transport error (BUS_CONNECTION), not a TimeoutError two minutes later
    expect(await waiting).toBeInstanceOf(ConnectionError);
    expect(await waitingOwn).toBeInstanceOf(ConnectionError);
    expect([conn.health, own.health]).toEqual(['closed', 'closed']);
    await expect(conn.run('GET', (c) => c.get('k'))).rejects.toBeInstanceOf(ClosedError);
  });

  it('a connected connection works on after the stop began, and closes at once when it then loses the server', async () => {
    const redis = await startRedis();
    const proxy = await FaultProxy.start(redis.port);
    const stop = new AbortController();
    const conn = await connect(proxy.url, { ...long, stopSignal: stop.signal });
    const plain = await connect(proxy.url, long); // no stop signal
    stop.abort();
    await conn.run('SET', (c) => c.set(`${randomPrefix()}k`, 'v'));
    expect(conn.health).toBe('ready');
    proxy.refuse(true);
    proxy.dropAll();
    await waitFor(() => conn.health === 'closed', 'closed on losing the server');
    await expect(conn.run('GET', (c) => c.get('k'))).rejects.toBeInstanceOf(ClosedError);
    // the same loss without a stop signal: it keeps trying to reconnect
    expect(plain.health).toBe('reconnecting');
  });
});

describe('a stalled server (socket open, no replies)', () => {
  it('the health check notices, drops the socket and reconnects; subscriptions come back', async () => {
    const redis = await startRedis();
    const proxy = await FaultProxy.start(redis.port);
    const direct = await connect(redis.url);
    const conn = await connect(proxy.url, { healthCheckIntervalMs: 100, commandTimeoutMs: 300 });
    const sub = await Subscriber.create(conn);
    const ch = `${randomPrefix()}x`;
    const got: unknown[] = [];
    await sub.subscribe(ch, (m) => got.push(m));
    proxy.pause();
    await waitFor(() => conn.health === 'reconnecting' && sub.health === 'reconnecting', 'stall detection');
    proxy.resume();
    await waitFor(() => conn.health === 'ready' && sub.health === 'ready', 'ready again');
    expect(await conn.run('PING', (c) => c.ping())).toBe('PONG');
    await waitFor(async () => (await direct.client.pubSubNumSub(ch))[ch] === 1, 'resubscribed');
    await new Publisher(direct).publish(ch, 'after');
    await waitFor(() => got.length === 1, 'message after the stall');
    await sub.close();
  });
});

describe('node-redis clients of one process', () => {
  it('share one client class whatever their names and options, and each works on its own', async () => {
    const redis = await startRedis();
    const a = await connect(redis.url, { clientName: 'first' });
    const b = await a.duplicate({ clientName: 'first-xread', commandTimeoutMs: 9_000 });
    const c = await connect(redis.url, { clientName: 'other', db: 2 });
    // node-redis keys its class cache on every option: a class per connection name would cost each
    // process megabytes per connection (bench: soak); the bus builds the class once
    const classOf = (conn: Connection) => Object.getPrototypeOf(Object.getPrototypeOf(conn.client)) as object;
    expect(classOf(b)).toBe(classOf(a));
    expect(classOf(c)).toBe(classOf(a));
    const key = `${randomPrefix()}:k`;
    await a.run('SET', (cl) => cl.set(key, 'in db 0'));
    expect(await b.run('GET', (cl) => cl.get(key))).toBe('in db 0');
    expect(await c.run('GET', (cl) => cl.get(key))).toBeNull(); // its own database
    expect(await b.run('CLIENT GETNAME', (cl) => cl.clientGetName())).toBe('first-xread');
    // the bus scripts are methods of the shared class
    expect(typeof (a.client as unknown as Record<string, unknown>)['mailbox-drain']).toBe('function');
    await Promise.all([a.close(), b.close(), c.close()]);
    await redis.stop();
  });
});
