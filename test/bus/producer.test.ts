import { beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/bus/connection.js';
import { ClosedError, ConfigError, ReplyError } from '../../src/bus/errors.js';
import { StreamProducer } from '../../src/bus/streams/producer.js';
import { startRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';
import { connect } from './helpers.js';

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
    const entries = await conn.client.xRange(stream, '-', '+');
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
    const entries = await conn.client.xRange(stream, '-', '+');
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
});
