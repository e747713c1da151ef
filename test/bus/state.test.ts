import { beforeAll, describe, expect, it } from 'vitest';
import type { Connection } from '../../src/bus/connection.js';
import { ConfigError } from '../../src/bus/errors.js';
import { LiveState } from '../../src/bus/state.js';
import { startRedis } from '../support/redis.js';
import { randomPrefix } from '../support/tmp.js';
import { connect } from './helpers.js';

describe('LiveState', () => {
  let conn: Connection;
  beforeAll(async () => {
    const redis = await startRedis();
    conn = await connect(redis.url);
  });

  it('refuses a TTL that is not a positive integer', () => {
    expect(() => new LiveState(conn, { ttlSeconds: 0 })).toThrow(ConfigError);
    expect(() => new LiveState(conn, { ttlSeconds: 1.5 })).toThrow(ConfigError);
  });

  it('writes value and :ts keys with a TTL on both, readable by plain GET', async () => {
    const prefix = `${randomPrefix()}sensor:`;
    const state = new LiveState(conn, { prefix, ttlSeconds: 10 });
    const ts = Date.now() - 1500;
    await state.write([
      { name: 'dry_bulb_f', value: 23.55, tsMs: ts },
      { name: 'rh_f', value: '65.2', tsMs: ts },
    ]);
    expect(await conn.client.get(`${prefix}dry_bulb_f`)).toBe('23.55');
    expect(await conn.client.get(`${prefix}dry_bulb_f:ts`)).toBe(String(ts));
    for (const k of ['dry_bulb_f', 'dry_bulb_f:ts', 'rh_f', 'rh_f:ts']) {
      const ttl = await conn.client.ttl(`${prefix}${k}`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(10);
    }
  });

  it('reads many at once with values, times and ages; missing names are null', async () => {
    const prefix = `${randomPrefix()}sensor:`;
    const state = new LiveState(conn, { prefix });
    const ts = Date.now() - 2000;
    await state.write([
      { name: 'a', value: 1, tsMs: ts },
      { name: 'b', value: 2.5, tsMs: ts + 1000 },
    ]);
    const r = await state.read(['a', 'missing', 'b']);
    expect(r.map((x) => [x.name, x.value, x.ts])).toEqual([
      ['a', '1', ts],
      ['missing', null, null],
      ['b', '2.5', ts + 1000],
    ]);
    expect(r[0]!.ageMs).toBeGreaterThanOrEqual(2000);
    expect(r[2]!.ageMs).toBeGreaterThanOrEqual(1000);
    expect(r[2]!.ageMs).toBeLessThan(r[0]!.ageMs!);
    expect(r[1]!.ageMs).toBeNull();
  });

  it('keys expire after the TTL', async () => {
    const prefix = randomPrefix();
    const state = new LiveState(conn, { prefix, ttlSeconds: 1 });
    await state.write([{ name: 'x', value: 1 }]);
    await new Promise((r) => setTimeout(r, 1300));
    expect(await state.readOne('x')).toEqual({ name: 'x', value: null, ts: null, ageMs: null });
    expect(await conn.client.exists([`${prefix}x`, `${prefix}x:ts`])).toBe(0);
  });
});
