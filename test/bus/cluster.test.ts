import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/bus/connection.js';
import { ConfigError } from '../../src/bus/errors.js';
import { Mailbox, sendAdminMessage } from '../../src/bus/mailbox.js';
import { Heartbeat, PresenceWatcher } from '../../src/bus/presence.js';
import { SpooledStreamWriter } from '../../src/bus/spooled-stream.js';
import { StreamConsumer } from '../../src/bus/streams/consumer.js';
import { StreamProducer } from '../../src/bus/streams/producer.js';
import { Subscriber } from '../../src/bus/subscriber.js';
import { keySlot } from '../../src/bus/cluster/routing.js';
import type { RedisNode } from '../../src/bus/options.js';
import { UserChannels } from '../../src/client/channels.js';
import { UserCodec, UserMessageValidator, userChannel, type RawMessage } from '../../src/contracts/user-channels.js';
import { UserChannelHub, type BackMessage } from '../../src/services/gateway/hub.js';
import { startRedisCluster, type TestRedisCluster } from '../support/redis-cluster.js';
import { randomPrefix, tempDir } from '../support/tmp.js';
import { connect, waitFor } from './helpers.js';
import { recordUsers } from '../../src/services/recorder/users.js';
import { createLogger } from '../../src/util/log.js';
import { present } from '../support/narrow.js';

let cluster: TestRedisCluster;
let nodes: RedisNode[];
let conn: Connection;

beforeAll(async () => {
  cluster = await startRedisCluster();
  nodes = cluster.nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
  conn = await connect('redis://127.0.0.1:6379', { clusterNodes: nodes });
}, 90_000);

afterAll(async () => {
  await conn.close();
});

/** Keys `<p>0`… spread so that they land in at least three different slots. */
const spread = (p: string, n: number) => Array.from({ length: n }, (_, i) => `${p}${i}`);

describe('the cluster client adapter on a six-node cluster', () => {
  it('reports the server and answers PING on every master', async () => {
    expect(conn.serverVersion).toMatch(/^\d+\.\d+/);
    expect(await conn.run('PING', (c) => c.ping())).toBe('PONG');
    expect(await conn.run('INFO', (c) => c.info('server'))).toMatch(/redis_mode:cluster/);
    expect((await conn.run('CONFIG', (c) => c.configGet('cluster-enabled')))['cluster-enabled']).toBe('yes');
    const time = (await conn.run('TIME', (c) => c.sendCommand(['TIME']))) as unknown as string[];
    expect(Number(time[0])).toBeGreaterThan(1_600_000_000);
  });

  it('MGET and DEL across slots answer in order', async () => {
    const keys = spread(randomPrefix(), 12);
    expect(new Set(keys.map(keySlot)).size).toBeGreaterThan(3);
    for (const [i, k] of keys.entries()) await conn.run('SET', (c) => c.set(k, String(i)));
    const got = await conn.run('MGET', (c) => c.mGet([...keys, `${keys[0]}-missing`]));
    expect(got).toEqual([...keys.map((_, i) => String(i)), null]);
    expect(await conn.run('DEL', (c) => c.del(keys))).toBe(12);
  });

  it('a pipeline across slots answers in queue order; a failing command is reported at its index', async () => {
    const p = randomPrefix();
    const keys = spread(p, 6);
    await conn.run('SET', (c) => c.hSet(`${p}hash`, 'f', '1'));
    const replies = await conn.run('pipeline', async (c) => {
      const m = c.multi();
      for (const k of keys) m.set(k, k);
      m.addCommand(['GET', keys[3]!]);
      m.publish(`${p}ch`, 'x');
      return m.execAsPipeline();
    });
    expect(replies).toEqual([...keys.map(() => 'OK'), keys[3], 0]);
    const err = await conn
      .run('pipeline', (c) =>
        c
          .multi()
          .set(`${p}ok`, '1')
          .addCommand(['INCR', `${p}hash`])
          .execAsPipeline(),
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(await conn.run('GET', (c) => c.get(`${p}ok`))).toBe('1');
  });

  it('a MULTI on one slot is one transaction', async () => {
    const tag = `{${randomPrefix()}}`;
    const res = await conn.run('MULTI', (c) =>
      c.multi().rPush(`${tag}:q`, 'a').expire(`${tag}:q`, 60).set(`${tag}:n`, '1').exec(),
    );
    expect(res).toEqual([1, 1, 'OK']);
  });

  it('scanIterator walks every master', async () => {
    const p = randomPrefix();
    const keys = spread(p, 30);
    for (const k of keys) await conn.run('SET', (c) => c.set(k, '1'));
    const found: string[] = [];
    await conn.run('SCAN', async (c) => {
      for await (const batch of c.scanIterator({ MATCH: `${p}*`, COUNT: 100 })) found.push(...batch.map(String));
    });
    expect(found.sort()).toEqual([...keys].sort());
  });

  it('WAIT covers the writes on every master: the least replica count', async () => {
    for (const k of spread(randomPrefix(), 9)) await conn.run('SET', (c) => c.set(k, '1'));
    const n = await conn.run('WAIT', (c) => c.sendCommand(['WAIT', '1', '10000']), { timeoutMs: 15_000 });
    expect(n).toBe(1);
  });

  it('refuses a database other than 0', async () => {
    await expect(connect('redis://127.0.0.1:6379/2', { clusterNodes: nodes })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('the bus on the cluster', () => {
  it('producer → consumer group: every entry once, acked; a poison entry goes to {stream}:dead atomically', async () => {
    const stream = `${randomPrefix()}raw`;
    const producer = new StreamProducer(conn, { stream, trim: 'none' });
    const ids = await producer.addMany(Array.from({ length: 300 }, (_, i) => ({ n: String(i) })));
    await producer.close();
    const poison = ids[42]!;
    const ok = new Set<string>();
    const w = await StreamConsumer.start(
      conn,
      async (batch) => {
        if (batch.some((e) => e.id === poison)) throw new Error('bad frame');
        for (const e of batch) ok.add(e.id);
      },
      { stream, group: 'g', maxDeliveries: 2, blockMs: 200, batchSize: 50, backoffBaseMs: 10, backoffMaxMs: 20 },
    );
    try {
      expect(w.options.deadLetterStream).toBe(`{${stream}}:dead`);
      await waitFor(() => w.stats.deadLettered === 1 && ok.size === 299, 'all entries handled', 60_000);
      const dead = present(await conn.run('XRANGE', (c) => c.xRange(`{${stream}}:dead`, '-', '+')), 'the XRANGE reply');
      expect(dead.map((d) => d.message.source_id)).toEqual([poison]);
      await waitFor(
        async () =>
          ((await conn.run('XPENDING', (c) => c.sendCommand(['XPENDING', stream, 'g']))) as unknown[])[0] === 0,
        'empty PEL',
      );
    } finally {
      await w.stop();
    }
  });

  it('stop() wakes a reader blocked in XREADGROUP through CLIENT UNBLOCK on its node', async () => {
    const stream = `${randomPrefix()}idle`;
    const w = await StreamConsumer.start(conn, async () => undefined, { stream, group: 'g', blockMs: 600_000 });
    const run = promisify(execFile);
    const blocked = async () => {
      for (const n of cluster.nodes) {
        const { stdout } = await run('redis-cli', ['-p', String(n.port), 'CLIENT', 'LIST']);
        if (stdout.split('\n').some((l) => l.includes('cmd=xreadgroup') && l.includes(' flags=b '))) return true;
      }
      return false;
    };
    // the loop blocks for 10 minutes unless CLIENT UNBLOCK reaches its node
    await waitFor(blocked, 'the reader blocked in XREADGROUP', 30_000);
    await w.stop();
    expect(w.health).toBe('stopped');
  }, 60_000);

  it('the spooled writer adds exactly once through spool-append with its ack key in the stream slot', async () => {
    const stream = `${randomPrefix()}raw`;
    const w = await SpooledStreamWriter.open(conn, { stream, dir: tempDir(), trim: 'none', replayIntervalMs: 50 });
    try {
      for (let b = 0; b < 20; b++) await w.write(Array.from({ length: 10 }, (_, i) => ({ seq: String(b * 10 + i) })));
      while ((await w.flush()) > 0) await new Promise((r) => setTimeout(r, 50));
      const entries = present(await conn.run('XRANGE', (c) => c.xRange(stream, '-', '+')), 'the XRANGE reply');
      expect(entries.map((e) => Number(e.message.seq))).toEqual(Array.from({ length: 200 }, (_, i) => i));
      const acks: string[] = [];
      await conn.run('SCAN', async (c) => {
        for await (const b of c.scanIterator({ MATCH: `spool:ack:{${stream}}:*` })) acks.push(...b.map(String));
      });
      expect(acks).toHaveLength(1);
      expect(keySlot(acks[0]!)).toBe(keySlot(stream));
    } finally {
      await w.close();
    }
  });

  it('mailbox: a queued admin message is drained once and answered', async () => {
    const instance = `${randomPrefix()}host:svc:1`;
    const { message } = await sendAdminMessage(
      conn,
      instance,
      'set-log-level',
      { level: 'debug' },
      { replyTimeoutMs: 0 },
    );
    const mb = new Mailbox(conn, { instance });
    const calls: unknown[] = [];
    mb.handle('set-log-level', (args) => {
      calls.push(args);
      return { level: args.level };
    });
    try {
      await mb.start();
      await waitFor(() => calls.length === 1, 'the handler');
      await waitFor(async () => (await conn.run('LLEN', (c) => c.lLen(message.reply_to))) === 1, 'the reply');
      expect(calls).toEqual([{ level: 'debug' }]);
    } finally {
      await mb.close();
    }
  });

  it('presence: heartbeats on several slots are all seen', async () => {
    const prefix = `${randomPrefix()}heartbeat:`;
    const beats = await Promise.all(
      ['a', 'b', 'c', 'd', 'e'].map((i) => Heartbeat.start(conn, { service: 'w', instance: i, prefix })),
    );
    const watcher = new PresenceWatcher(conn, { prefix, pollMs: 100 });
    try {
      await watcher.start();
      await waitFor(() => watcher.live.length === 5, 'five live instances');
      expect([...watcher.live].sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
    } finally {
      await watcher.close();
      await Promise.all(beats.map((b) => b.close()));
    }
  });

  it('classic pub/sub reaches subscribers cluster-wide', async () => {
    const sub = await Subscriber.create(conn);
    const ch = `${randomPrefix()}topic`;
    const got: unknown[] = [];
    try {
      await sub.subscribe(ch, (m) => void got.push(m));
      await sub.psubscribe(`${ch}:*`, (m) => void got.push(m));
      await waitFor(async () => {
        await conn.run('PUBLISH', (c) => c.publish(`${ch}:x`, JSON.stringify({ n: 1 })));
        return got.length > 0;
      }, 'a pattern message');
      await conn.run('PUBLISH', (c) => c.publish(ch, JSON.stringify({ n: 2 })));
      await waitFor(() => got.some((m) => (m as { n: number }).n === 2), 'an exact message');
    } finally {
      await sub.close();
    }
  });

  it('gateway hub: relay data goes out sharded (SSUBSCRIBE gets it, SUBSCRIBE does not); back-channel messages land in the backlog and replay', async () => {
    const user = `u${randomPrefix().slice(1, 9)}`;
    const channels = await UserChannels.connect({ redis: { clusterNodes: nodes, healthCheckIntervalMs: 0 } });
    const classic = await Subscriber.create(conn);
    const hubSub = await Subscriber.create(conn);
    const back: BackMessage[] = [];
    const hub = await UserChannelHub.start(conn, hubSub, {
      windowMs: 60_000,
      isKnownUser: () => true,
      codec: new UserCodec(),
      validator: new UserMessageValidator(),
      logger: { debug() {}, info() {}, warn() {}, error() {} } as never,
      onBack: (m) => void back.push(m),
      maxInFlight: 100,
      maxInFlightBytes: 1 << 20,
    });
    try {
      const sharded: RawMessage['timestamp'][] = [];
      const plain: unknown[] = [];
      await channels.subscribe(user, 'raw', (m) => void sharded.push(m.timestamp));
      await classic.subscribe(userChannel(user, 'raw'), (m) => void plain.push(m));
      const codec = new UserCodec();
      for (let i = 1; i <= 5; i++) {
        const payload = codec.encode({ type: 'raw', timestamp: i, channels: { t: 20 + i } }, 'msgpack') as Buffer;
        await new Promise<void>((resolve) => hub.publish(user, 'raw', payload, () => resolve()));
      }
      await waitFor(() => sharded.length === 5, 'five sharded messages');
      expect(sharded).toEqual([1, 2, 3, 4, 5]);
      expect(
        await channels.publish(user, 'features', { type: 'features', timestamp: 1, features: { a: 1 } } as never),
      ).toBe(0);
      expect(plain).toEqual([]);
      expect(hub.stats.published).toBe(5);
      // the way back: classic PUBLISH → the hub's PSUBSCRIBE → the user's backlog stream, replayable
      await waitFor(async () => {
        await channels.publishPrediction(user, { data: { n: 1 }, source: 'test' } as never);
        return back.length > 0;
      }, 'a back-channel message');
      expect(back[0]!.id).toMatch(/^\d+-\d+$/);
      const replayed = await hub.replay(user, '0-0', 100);
      expect(replayed.messages.map((m) => m.id)).toContain(back[0]!.id);
    } finally {
      await hub.close();
      await hubSub.close();
      await classic.close();
      await channels.close();
    }
  });
});

describe('the recorder on the cluster', () => {
  it('records named users: sharded raw through SSUBSCRIBE, predictions through SUBSCRIBE', async () => {
    const user = `r${randomPrefix().slice(1, 9)}`;
    const sub = await Subscriber.create(conn);
    const lines: { channel: string; message: unknown }[] = [];
    const stats = { userRecorded: 0, userInvalid: 0, userUndecodable: 0, userIgnored: 0 };
    const recording = await recordUsers(
      {
        subscriber: sub,
        log: createLogger('test', 'silent'),
        out: { write: (l: { channel: string; message: unknown }) => void lines.push(l) } as never,
        users: [user],
        kinds: ['raw', 'predictions'],
        maxMessageBytes: 1 << 16,
        paused: () => false,
      },
      stats,
    );
    const channels = await UserChannels.connect({ redis: { clusterNodes: nodes, healthCheckIntervalMs: 0 } });
    try {
      await waitFor(async () => {
        await channels.publish(user, 'raw', { type: 'raw', timestamp: 1, channels: { t: 1 } });
        await channels.publishPrediction(user, { data: { label: 'ok' }, source: 'test' } as never);
        return new Set(lines.map((l) => l.channel)).size === 2;
      }, 'a raw and a prediction recorded');
      expect(stats.userInvalid).toBe(0);
    } finally {
      await recording?.unsubscribe();
      await channels.close();
      await sub.close();
    }
  });
});
