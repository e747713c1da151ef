import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/bus/connection.js';
import { ConfigError, RetryableError } from '../../src/bus/errors.js';
import { StreamConsumer, idBefore, resolveConsumerOptions, type StreamEntry } from '../../src/bus/streams/consumer.js';
import { parsePendingReply, parseReadReply } from '../../src/bus/streams/entries.js';
import { StreamProducer } from '../../src/bus/streams/producer.js';
import { register } from '../support/cleanup.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';
import { connect, waitFor } from './helpers.js';
import { present } from '../support/narrow.js';

const here = path.dirname(fileURLToPath(import.meta.url));

describe('consumer options and reply parsing (pure)', () => {
  it('derives the consumer name and dead-letter stream, and validates at once', () => {
    const o = resolveConsumerOptions({ stream: 'can:raw', group: 'can-worker' });
    expect(o.deadLetterStream).toBe('can:raw:dead');
    expect(o.consumer).toMatch(new RegExp(`-${process.pid}-`));
    expect(o.maxDeliveries).toBe(5);
    expect(() => resolveConsumerOptions({ stream: 's', group: 'g', batchSize: 0 })).toThrow(ConfigError);
    expect(() => resolveConsumerOptions({ stream: 's', group: 'g', deadLetterStream: 's' })).toThrow(ConfigError);
    expect(() => resolveConsumerOptions({ stream: '', group: 'g' })).toThrow(ConfigError);
  });

  it('parses XREADGROUP replies, including entries deleted while pending', () => {
    const reply = [
      [
        's',
        [
          ['1-0', ['id', '0x101', 'data', 'AA']],
          ['2-0', null],
        ],
      ],
    ];
    expect(parseReadReply(reply)).toEqual({
      entries: [{ id: '1-0', fields: { id: '0x101', data: 'AA' } }],
      deleted: ['2-0'],
    });
    expect(parseReadReply({ s: [['3-0', ['a', '1']]] }).entries).toEqual([{ id: '3-0', fields: { a: '1' } }]);
    expect(parseReadReply(new Map([['s', [['4-0', ['b', '2']]]]])).entries).toEqual([
      { id: '4-0', fields: { b: '2' } },
    ]);
    expect(parseReadReply(null)).toEqual({ entries: [], deleted: [] });
    // with a delivery count, every entry carries it (the consumer's fresh reads: 1)
    expect(parseReadReply(reply, 1)).toEqual({
      entries: [{ id: '1-0', fields: { id: '0x101', data: 'AA' }, deliveries: 1 }],
      deleted: ['2-0'],
    });
    expect(parsePendingReply([['1-0', 'c', 10, 3]])).toEqual(new Map([['1-0', 3]]));
  });
});

describe('StreamConsumer on a real redis-server', () => {
  let redis: TestRedis;
  let conn: Connection;
  const workers: StreamConsumer[] = [];
  beforeAll(async () => {
    redis = await startRedis();
    conn = await connect(redis.url);
  });
  afterEach(async () => {
    await Promise.all(workers.splice(0).map((w) => w.stop()));
  });
  const start = async (...args: Parameters<typeof StreamConsumer.start>) => {
    const w = await StreamConsumer.start(...args);
    workers.push(w);
    return w;
  };
  const fill = async (stream: string, n: number) => {
    const p = new StreamProducer(conn, { stream, trim: 'none' });
    const ids = await p.addMany(Array.from({ length: n }, (_, i) => ({ n: String(i) })));
    await p.close();
    return ids;
  };
  const pendingCount = async (stream: string, group: string) =>
    ((await conn.client.sendCommand(['XPENDING', stream, group])) as unknown[])[0];

  it('creates the group, handles every entry once and acks it', async () => {
    const stream = `${randomPrefix()}raw`;
    const ids = await fill(stream, 500);
    const seen: string[] = [];
    const w = await start(conn, async (batch) => void seen.push(...batch.map((e) => e.id)), {
      stream,
      group: 'g',
      batchSize: 64,
      blockMs: 100,
    });
    await waitFor(() => seen.length === 500, 'all entries');
    await waitFor(() => w.stats.acked === 500, 'acks');
    expect(seen).toEqual(ids);
    expect(await pendingCount(stream, 'g')).toBe(0);
    expect(w.stats).toMatchObject({ processed: 500, acked: 500, deadLettered: 0, handlerErrors: 0 });
  });

  it('moves an entry whose handler always throws to <stream>:dead after the delivery limit, with the reason', async () => {
    const stream = `${randomPrefix()}raw`;
    const ids = await fill(stream, 20);
    const poison = ids[7]!;
    const ok = new Set<string>();
    const deliveries: number[] = [];
    const w = await start(
      conn,
      async (batch) => {
        for (const e of batch) if (e.id === poison) deliveries.push(e.deliveries);
        if (batch.some((e) => e.id === poison)) throw new Error('cannot decode frame 0x7FF');
        for (const e of batch) ok.add(e.id);
      },
      { stream, group: 'g', maxDeliveries: 3, blockMs: 100, backoffBaseMs: 10, backoffMaxMs: 20 },
    );
    await waitFor(() => w.stats.deadLettered === 1, 'dead-lettering');
    await waitFor(() => ok.size === 19, 'the other entries');
    const dead = present(await conn.client.xRange(`${stream}:dead`, '-', '+'), 'the XRANGE reply');
    expect(dead).toHaveLength(1);
    expect(dead[0]!.message).toEqual({
      n: '7',
      reason: 'delivery limit 3 reached: cannot decode frame 0x7FF',
      source_id: poison,
      deliveries: '3',
    });
    expect(deliveries).toEqual([1, 2, 3]);
    await waitFor(async () => (await pendingCount(stream, 'g')) === 0, 'empty PEL');
    expect(ok.has(poison)).toBe(false);
  });

  it('dead-letters at once the entries the handler names, and acks the rest', async () => {
    const stream = `${randomPrefix()}raw`;
    const ids = await fill(stream, 5);
    const w = await start(conn, async (batch) => ({ deadLetter: [{ id: batch[1]!.id, reason: 'unknown CAN id' }] }), {
      stream,
      group: 'g',
      blockMs: 100,
    });
    await waitFor(() => w.stats.acked === 4 && w.stats.deadLettered === 1, 'settle');
    const dead = present(await conn.client.xRange(`${stream}:dead`, '-', '+'), 'the XRANGE reply');
    expect(dead.map((d) => d.message)).toEqual([
      { n: '1', reason: 'unknown CAN id', source_id: ids[1], deliveries: '1' },
    ]);
    expect(await pendingCount(stream, 'g')).toBe(0);
  });

  it('retries a RetryableError in memory without a new delivery', async () => {
    const stream = `${randomPrefix()}raw`;
    await fill(stream, 3);
    const calls: number[][] = [];
    const w = await start(
      conn,
      async (batch) => {
        calls.push(batch.map((e) => e.deliveries));
        if (calls.length < 3) throw new RetryableError('store down');
      },
      { stream, group: 'g', blockMs: 100, backoffBaseMs: 10, backoffMaxMs: 20 },
    );
    await waitFor(() => w.stats.acked === 3, 'acks');
    expect(calls).toEqual([
      [1, 1, 1],
      [1, 1, 1],
      [1, 1, 1],
    ]);
    expect(w.stats.handlerErrors).toBe(2);
    expect(w.stats.deadLettered).toBe(0);
  });

  it('stop() during a batch finishes it and acks it, then reads no more', async () => {
    const stream = `${randomPrefix()}raw`;
    await fill(stream, 10);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let entered = 0;
    let finished = 0;
    const w = await StreamConsumer.start(
      conn,
      async (batch) => {
        entered += batch.length;
        await gate;
        finished += batch.length;
      },
      { stream, group: 'g', batchSize: 4, blockMs: 5000 },
    );
    await waitFor(() => entered === 4, 'first batch in hand');
    const stopped = w.stop();
    release();
    await stopped;
    expect(finished).toBe(4);
    expect(w.stats.acked).toBe(4);
    expect(w.health).toBe('stopped');
    expect(await pendingCount(stream, 'g')).toBe(0);
    // the stopped worker took nothing more: the other 6 are still undelivered
    const rest = parseReadReply(
      await conn.client.sendCommand(['XREADGROUP', 'GROUP', 'g', 'check', 'COUNT', '100', 'STREAMS', stream, '>']),
    );
    expect(rest.entries.map((e) => e.fields.n)).toEqual(['4', '5', '6', '7', '8', '9']);
    expect(entered).toBe(4);
  });

  it('stop() while blocked in XREADGROUP returns promptly (CLIENT UNBLOCK)', async () => {
    const stream = `${randomPrefix()}raw`;
    const w = await StreamConsumer.start(conn, async () => undefined, { stream, group: 'g', blockMs: 60_000 });
    await new Promise((r) => setTimeout(r, 100));
    await w.stop(); // would hang for 60 s without the unblock (the test timeout is 60 s)
    expect(w.health).toBe('stopped');
  });

  it('claimFrom(consumer) takes over a dead consumer’s pending entries at once', async () => {
    const stream = `${randomPrefix()}raw`;
    await fill(stream, 30);
    await conn.client.sendCommand(['XGROUP', 'CREATE', stream, 'g', '0']);
    await conn.client.sendCommand(['XREADGROUP', 'GROUP', 'g', 'ghost', 'COUNT', '30', 'STREAMS', stream, '>']);
    const seen: StreamEntry[] = [];
    const w = await start(conn, async (b) => void seen.push(...b), { stream, group: 'g', blockMs: 100 });
    expect(await w.claimFrom('ghost', { deleteConsumer: true })).toBe(30);
    await waitFor(() => w.stats.acked === 30, 'claimed entries handled');
    expect(new Set(seen.map((e) => e.id)).size).toBe(30);
    expect(seen.every((e) => e.deliveries === 2)).toBe(true);
    const consumers = await conn.client.xInfoConsumers(stream, 'g');
    expect(consumers.map((c) => c.name)).toEqual([w.name]);
  });

  it('the periodic sweep claims entries idle longer than claimIdleMs', async () => {
    const stream = `${randomPrefix()}raw`;
    await fill(stream, 10);
    await conn.client.sendCommand(['XGROUP', 'CREATE', stream, 'g', '0']);
    await conn.client.sendCommand(['XREADGROUP', 'GROUP', 'g', 'ghost', 'COUNT', '10', 'STREAMS', stream, '>']);
    const w = await start(conn, async () => undefined, {
      stream,
      group: 'g',
      blockMs: 50,
      claimIdleMs: 300,
      claimIntervalMs: 100,
    });
    await waitFor(() => w.stats.acked === 10, 'swept entries handled');
    expect(w.stats.claimed).toBe(10);
    expect(await pendingCount(stream, 'g')).toBe(0);
  });
});

describe('two consumers, one in a process killed with kill -9 mid-batch', () => {
  it('10,000 entries: the survivor claims the pending ones; all handled, none twice once acked', async () => {
    const redis = await startRedis();
    const conn = await connect(redis.url);
    const stream = `${randomPrefix()}can:raw`;
    const group = 'can-worker';
    const handledKey = `${stream}:handled`;
    const ids = await new StreamProducer(conn, { stream, trim: 'none' }).addMany(
      Array.from({ length: 10_000 }, (_, i) => ({ id: '0x101', data: 'AA FF', ts: String(i) })),
    );
    await conn.client.sendCommand(['XGROUP', 'CREATE', stream, group, '0']);

    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'fixtures', 'consumer.ts')], {
      env: {
        ...process.env,
        REDIS_URL: redis.url,
        STREAM: stream,
        GROUP: group,
        CONSUMER: 'doomed',
        HANDLED_KEY: handledKey,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    register({ stop: async () => void child.kill('SIGKILL'), killSync: () => void child.kill('SIGKILL') });
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
      child.once('exit', (code) => reject(new Error(`fixture exited early with ${code}`)));
    });

    const mine: string[] = [];
    const survivor = await StreamConsumer.start(
      conn,
      async (batch) => {
        mine.push(...batch.map((e) => e.id));
        await new Promise((r) => setTimeout(r, 10));
      },
      { stream, group, consumer: 'survivor', batchSize: 100, blockMs: 100, claimIdleMs: 1000, claimIntervalMs: 300 },
    );

    await waitFor(async () => (await conn.client.lLen(handledKey)) >= 2000, 'the child to handle 2000');
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const inFlight = parsePendingReply(
      await conn.client.sendCommand(['XPENDING', stream, group, '-', '+', '10000', 'doomed']),
    );
    expect(inFlight.size).toBeGreaterThan(0); // killed mid-batch: entries delivered, not acked

    await waitFor(
      async () =>
        ((await conn.client.sendCommand(['XPENDING', stream, group])) as unknown[])[0] === 0 &&
        survivor.stats.acked + (await conn.client.lLen(handledKey)) >= 10_000,
      'every entry acked',
      60_000,
    );
    await survivor.stop();

    const theirs = await conn.client.lRange(handledKey, 0, -1);
    const all = [...theirs, ...mine];
    expect(new Set(all)).toEqual(new Set(ids));
    const count = new Map<string, number>();
    for (const id of all) count.set(id, (count.get(id) ?? 0) + 1);
    const twice = [...count].filter(([, n]) => n > 1).map(([id]) => id);
    // Only entries the dead consumer held unacked may have been handled twice.
    expect(twice.every((id) => inFlight.has(id))).toBe(true);
    expect(count.size).toBe(10_000);
    expect(survivor.stats.claimed).toBeGreaterThanOrEqual(inFlight.size);
  });
});

describe('a consumer across a redis-server crash', () => {
  it.each([
    ['with AOF: the same group carries on', true],
    ['without persistence: the group is created again (NOGROUP)', false],
  ])('counts and backs off while Redis is down; %s', async (_label, aof) => {
    const redis = await startRedis({ aof });
    const conn = await connect(redis.url, { reconnectBaseMs: 50, reconnectMaxMs: 200 });
    const stream = `${randomPrefix()}raw`;
    const seen = new Set<string>();
    const w = await StreamConsumer.start(conn, async (b) => void b.forEach((e) => seen.add(e.fields.n!)), {
      stream,
      group: 'g',
      blockMs: 100,
      backoffBaseMs: 50,
      backoffMaxMs: 200,
    });
    const states: string[] = [];
    w.on('health', (s) => states.push(s));
    await conn.client.xAdd(stream, '*', { n: 'before' });
    await waitFor(() => seen.has('before'), 'entry before the crash');
    if (aof) await new Promise((r) => setTimeout(r, 1100)); // appendfsync everysec
    await redis.kill();
    await waitFor(() => w.stats.loopErrors > 0 && w.health === 'degraded', 'the failure to be counted');
    await redis.restart();
    await waitFor(() => conn.isReady, 'the shared connection');
    await conn.client.xAdd(stream, '*', { n: 'after' });
    await waitFor(() => seen.has('after'), 'entry after the restart');
    await waitFor(() => w.health === 'ready', 'ready again');
    expect(states).toContain('degraded');
    await w.stop();
  });
});

describe('held entries (the handler keeps some for later)', () => {
  it('idBefore gives the id just below (pure)', () => {
    expect(idBefore('5-3')).toBe('5-2');
    expect(idBefore('5-0')).toBe('4-18446744073709551615');
    expect(idBefore('0-1')).toBe('0-0');
  });

  it('entries held by the handler do not hide later failed entries from redelivery', async () => {
    const redis = await startRedis();
    const conn = await connect(redis.url);
    const stream = `${randomPrefix()}raw`;
    const p = new StreamProducer(conn, { stream, trim: 'none' });
    await p.addMany(Array.from({ length: 1100 }, (_, i) => ({ n: String(i) })));
    const failedOnce = new Set<string>();
    const done = new Set<string>();
    const w = await StreamConsumer.start(
      conn,
      async (batch) => {
        const hold = batch.filter((e) => Number(e.fields.n) < 1050).map((e) => e.id);
        const rest = batch.filter((e) => Number(e.fields.n) >= 1050);
        if (rest.some((e) => !failedOnce.has(e.id))) {
          rest.forEach((e) => failedOnce.add(e.id));
          throw new Error('first try fails');
        }
        rest.forEach((e) => done.add(e.fields.n!));
        return { hold };
      },
      { stream, group: 'g', batchSize: 100, blockMs: 100, backoffBaseMs: 10, backoffMaxMs: 20 },
    );
    await waitFor(() => done.size === 50 && w.held === 1050, 'the 50 later entries after their redelivery');
    const pending = (await conn.client.sendCommand(['XPENDING', stream, 'g'])) as unknown[];
    expect(pending[0]).toBe(1050); // only the held ones
    await w.ack(
      present(await conn.client.xRange(stream, '-', '+', { COUNT: 1050 }), 'the XRANGE reply').map((e) => e.id),
    );
    expect(w.held).toBe(0);
    expect(((await conn.client.sendCommand(['XPENDING', stream, 'g'])) as unknown[])[0]).toBe(0);
    await w.stop();
  });
});
