import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { ConfigError } from '../../src/bus/errors.js';
import { Registry } from '../../src/bus/registry.js';
import { startRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';

let conn: Connection;

beforeAll(async () => {
  const redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
});
afterAll(async () => {
  await conn.close();
});

describe('registry', () => {
  it('writes identity:{scope}:{id} with a 24 h TTL, reads and lists a scope by SCAN', async () => {
    const prefix = `${randomPrefix()}identity:`;
    const reg = new Registry(conn, { prefix });
    await reg.write('client', 'ws:1', { user: 'ana' });
    await reg.write('client', 'ws:2', { user: 'bo' });
    await reg.write('can-node', '1', { firmware: 'ok' });
    expect(await reg.read('client', 'ws:1')).toEqual({ user: 'ana' });
    expect(await reg.read('client', 'nope')).toBeNull();
    const ttl = await conn.client.ttl(`${prefix}client:ws:1`);
    expect(ttl).toBeGreaterThan(86_000);
    expect(ttl).toBeLessThanOrEqual(86_400);
    const list = await reg.list('client');
    expect(list.map((e) => [e.id, e.data])).toEqual([
      ['ws:1', { user: 'ana' }],
      ['ws:2', { user: 'bo' }],
    ]);
    expect(await reg.remove('client', 'ws:1')).toBe(true);
    expect((await reg.list('client')).map((e) => e.id)).toEqual(['ws:2']);
  });

  it('touch merges fields, keeps first_seen, counts, and returns the previous record', async () => {
    const reg = new Registry(conn, { prefix: `${randomPrefix()}identity:` });
    const t1 = new Date('2026-01-01T00:00:00.000Z');
    const t2 = new Date('2026-01-01T00:00:05.000Z');
    expect(await reg.touch('can-node', '3', { uptime_s: 100, errors: 0 }, t1)).toBeNull();
    const prev = await reg.touch('can-node', '3', { uptime_s: 5 }, t2);
    expect(prev).toMatchObject({ uptime_s: 100, seen_count: 1, last_seen: t1.toISOString() });
    expect(await reg.read('can-node', '3')).toEqual({
      uptime_s: 5,
      errors: 0,
      first_seen: t1.toISOString(),
      last_seen: t2.toISOString(),
      seen_count: 2,
    });
  });

  it('cleanup deletes records older than a limit and records that are not JSON', async () => {
    const prefix = `${randomPrefix()}identity:`;
    const reg = new Registry(conn, { prefix });
    await reg.touch('client', 'old', {}, new Date(Date.now() - 3_600_000));
    await reg.touch('client', 'new', {});
    await conn.client.set(`${prefix}client:junk`, 'not json', { EX: 100 });
    expect(await reg.cleanup('client', { olderThanMs: 600_000 })).toBe(2);
    expect((await reg.list('client')).map((e) => e.id)).toEqual(['new']);
  });

  it('refuses a scope containing ":" and an empty id', async () => {
    const reg = new Registry(conn);
    await expect(reg.write('a:b', 'x', {})).rejects.toThrow(ConfigError);
    expect(() => reg.key('a', '')).toThrow(ConfigError);
  });
});
