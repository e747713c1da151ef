import { beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/bus/connection.js';
import { ClosedError, ConfigError, ConnectionError, ReplyError, TimeoutError } from '../../src/bus/errors.js';
import { StreamProducer, xaddArgs } from '../../src/bus/streams/producer.js';
import { FaultProxy } from '../support/proxy.js';
import { startRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';
import { connect } from './helpers.js';
import { present } from '../support/narrow.js';

describe('StreamProducer arguments (pure)', () => {
  const fake = {} as Connection;
  it('builds XADD with approximate MAXLEN, MINID or no trimming', () => {
    expect(new StreamProducer(fake, { stream: 's', trim: { maxLen: 500 } }).xaddPrefix()).toEqual([
      'XADD',
      's',
      'MAXLEN',
      '~',
      '500',
      '*',
    ]);
    expect(new StreamProducer(fake, { stream: 's', trim: { minAgeMs: 1000 } }).xaddPrefix(5000)).toEqual([
      'XADD',
      's',
      'MINID',
      '~',
      '4000-0',
      '*',
    ]);
    expect(new StreamProducer(fake, { stream: 's', trim: 'none' }).xaddPrefix()).toEqual(['XADD', 's', '*']);
  });

  it('puts the fields after the prefix, strings and Buffers alike', () => {
    const buf = Buffer.from([0, 13, 10]);
    expect(xaddArgs(['XADD', 's', '*'], { id: '0x101', é: 'ü', raw: buf })).toEqual([
      'XADD',
      's',
      '*',
      'id',
      '0x101',
      'é',
      'ü',
      'raw',
      buf,
    ]);
  });

  it('validates options at once', () => {
    expect(() => new StreamProducer(fake, { stream: '' })).toThrow(ConfigError);
    expect(() => new StreamProducer(fake, { stream: 's', maxBatch: 0 })).toThrow(ConfigError);
    expect(() => new StreamProducer(fake, { stream: 's', trim: { maxLen: -1 } })).toThrow(ConfigError);
  });
});

describe('StreamProducer on a real redis-server', () => {
  let conn: Connection;
  beforeAll(async () => {
    const redis = await startRedis();
    conn = await connect(redis.url);
  });

  it('batches by size and by time, in order, and returns ids', async () => {
    const stream = `${randomPrefix()}raw`;
    const p = new StreamProducer(conn, { stream, maxBatch: 10, lingerMs: 20, trim: 'none' });
    const ids = await Promise.all(Array.from({ length: 25 }, (_, i) => p.add({ n: String(i) })));
    expect(p.stats.batches).toBe(3); // 10, 10 at once, 5 after lingerMs
    expect(new Set(ids).size).toBe(25);
    const entries = present(await conn.client.xRange(stream, '-', '+'), 'the XRANGE reply');
    expect(entries.map((e) => e.id)).toEqual(ids);
    expect(entries.map((e) => e.message.n)).toEqual(Array.from({ length: 25 }, (_, i) => String(i)));
    await p.close();
    await expect(p.add({ n: 'late' })).rejects.toBeInstanceOf(ClosedError);
  });

  it('flush() sends at once; addMany keeps a group together', async () => {
    const stream = `${randomPrefix()}raw`;
    const p = new StreamProducer(conn, { stream, lingerMs: 60_000 });
    const pending = p.addMany([{ a: '1' }, { a: '2' }, { a: Buffer.from('3') }]);
    expect(p.pending).toBe(3);
    await p.flush();
    expect(await pending).toHaveLength(3);
    expect(await conn.client.xLen(stream)).toBe(3);
    expect(p.stats).toEqual({ added: 3, written: 3, failed: 0, batches: 1 });
  });

  it('trims approximately with MAXLEN', async () => {
    const stream = `${randomPrefix()}raw`;
    const p = new StreamProducer(conn, { stream, trim: { maxLen: 1000 } });
    await p.addMany(Array.from({ length: 5000 }, (_, i) => ({ i: String(i) })));
    const len = await conn.client.xLen(stream);
    expect(len).toBeGreaterThanOrEqual(1000);
    expect(len).toBeLessThan(5000);
  });

  it('trims by MINID: full nodes of entries older than minAgeMs go', async () => {
    const stream = `${randomPrefix()}raw`;
    // approximate trimming drops whole radix-tree nodes (100 entries each by default)
    for (let i = 0; i < 300; i++) await conn.client.xAdd(stream, `1000-${i}`, { old: '1' });
    const p = new StreamProducer(conn, { stream, trim: { minAgeMs: 60_000 } });
    await p.add({ fresh: '1' });
    const entries = present(await conn.client.xRange(stream, '-', '+'), 'the XRANGE reply');
    expect(entries.map((e) => Object.keys(e.message)[0])).toEqual(['fresh']);
  });

  it('rejects the entries of a failed XADD with a typed error and keeps the others', async () => {
    const stream = `${randomPrefix()}raw`;
    const p = new StreamProducer(conn, { stream, lingerMs: 60_000, trim: 'none' });
    const good = p.add({ ok: '1' });
    await conn.client.set(`${stream}x`, 'string');
    const bad = new StreamProducer(conn, { stream: `${stream}x` }).add({ v: '1' });
    await p.flush();
    expect(await good).toMatch(/^\d+-\d+$/);
    await expect(bad).rejects.toBeInstanceOf(ReplyError);
  });

  it('writes binary field values unchanged', async () => {
    const stream = `${randomPrefix()}raw`;
    const p = new StreamProducer(conn, { stream, lingerMs: 0 });
    const buf = Buffer.from([0, 13, 10, 255]);
    await p.add({ raw: buf });
    const back = await conn.client.sendCommand(['XRANGE', stream, '-', '+'], { typeMapping: { [36]: Buffer } });
    expect(JSON.stringify(back)).toContain(JSON.stringify(buf));
    await p.close();
  });
});

describe('StreamProducer follows the connection', () => {
  it('writes as an ACL user into the database of the URL', async () => {
    const redis = await startRedis({ extraConfig: ['requirepass pw'] });
    const admin = await connect(`redis://:pw@127.0.0.1:${redis.port}`);
    await admin.client.sendCommand(['ACL', 'SETUSER', 'writer', 'on', '>secret', '~*', '+@all']);
    const url = `redis://writer:secret@127.0.0.1:${redis.port}/3`;
    const conn = await connect(url);
    const stream = `${randomPrefix()}raw`;
    const p = new StreamProducer(conn, { stream, lingerMs: 0 });
    expect(await p.add({ a: '1' })).toMatch(/^\d+-\d+$/);
    await p.close();
    expect(await admin.client.exists(stream)).toBe(0); // not in database 0
    const db3 = await connect(`redis://:pw@127.0.0.1:${redis.port}/3`);
    expect(await db3.client.xLen(stream)).toBe(1);
  });

  it('fails the batch in flight when the connection drops, and the next batch goes through', async () => {
    const redis = await startRedis();
    const proxy = await FaultProxy.start(redis.port);
    const conn = await connect(proxy.url);
    const stream = `${randomPrefix()}raw`;
    const p = new StreamProducer(conn, { stream, lingerMs: 0 });
    expect(await p.add({ a: '1' })).toMatch(/^\d+-\d+$/);
    proxy.pause();
    const lost = p.add({ a: '2' });
    await new Promise((r) => setTimeout(r, 50));
    proxy.dropAll();
    proxy.resume();
    await expect(lost).rejects.toBeInstanceOf(ConnectionError);
    expect(await p.add({ a: '3' })).toMatch(/^\d+-\d+$/);
    expect(p.stats).toMatchObject({ written: 2, failed: 1 });
    await p.close();
    await proxy.close();
  });

  it('times out a batch with no reply, then writes again', async () => {
    const redis = await startRedis();
    const proxy = await FaultProxy.start(redis.port);
    const conn = await connect(proxy.url, { commandTimeoutMs: 300 });
    const stream = `${randomPrefix()}raw`;
    const p = new StreamProducer(conn, { stream, lingerMs: 0 });
    expect(await p.add({ a: '1' })).toMatch(/^\d+-\d+$/);
    proxy.pause();
    await expect(p.add({ a: '2' })).rejects.toBeInstanceOf(TimeoutError);
    proxy.resume();
    expect(await p.add({ a: '3' })).toMatch(/^\d+-\d+$/);
    await p.close();
    await proxy.close();
  });
});
