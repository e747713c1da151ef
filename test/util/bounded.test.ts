import { describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { PresenceWatcher } from '../../src/bus/presence.js';
import { Registry } from '../../src/bus/registry.js';
import { ALERT_ENGINE_LIMITS, AlertEngine } from '../../src/cea/alerts/engine.js';
import { addBounded, evictOldest, setBounded } from '../../src/util/bounded.js';
import { randomPrefix } from '../support/tmp.js';
import { startRedis } from '../support/redis.js';

describe('bounded maps and sets (issue 12, point 6)', () => {
  it('refuse new keys at the cap, always update existing ones, evict oldest first', () => {
    const m = new Map<string, number>();
    for (let i = 0; i < 5; i++) expect(setBounded(m, `k${i}`, i, 3)).toBe(i < 3);
    expect([...m.keys()]).toEqual(['k0', 'k1', 'k2']);
    expect(setBounded(m, 'k1', 10, 3)).toBe(true);
    expect(m.get('k1')).toBe(10);
    const s = new Set<number>();
    for (let i = 0; i < 10; i++) addBounded(s, i, 4);
    expect([...s]).toEqual([0, 1, 2, 3]);
    const big = new Map(Array.from({ length: 100 }, (_, i) => [i, i] as const));
    expect(evictOldest(big, 10)).toBe(90);
    expect([...big.keys()]).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
  });

  it('the alert engine tracks at most its cap of sensor names and counts the rest', () => {
    const e = new AlertEngine({ rules: [{ id: 'hot', sensor: '*', above: 30 }] });
    const n = ALERT_ENGINE_LIMITS.sensors + 500;
    for (let i = 0; i < n; i++) e.reading(`flood_${i}`, 20, 1000);
    expect(e.untracked).toBe(500);
    // a tracked sensor still alerts
    const out = e.reading('flood_1', 40, 2000);
    expect(out.some((t) => t.type === 'fired')).toBe(true);
  });

  it('the presence watcher tracks at most maxInstances heartbeats and counts the rest (real Redis)', async () => {
    const redis = await startRedis();
    const conn = await Connection.connect({ url: redis.url, healthCheckIntervalMs: 0 });
    const prefix = `${randomPrefix()}heartbeat:`;
    for (let i = 0; i < 40; i++)
      await conn.run('SET', (c) =>
        c.set(`${prefix}host:flood:${i}`, JSON.stringify({ service: 'flood', pid: i }), { EX: 60 }),
      );
    const w = new PresenceWatcher(conn, { prefix, maxInstances: 10, pollMs: 60_000 });
    await w.scan();
    expect(w.live).toHaveLength(10);
    expect(w.ignored).toBe(30);
    await w.close();
    expect(() => new PresenceWatcher(conn, { maxInstances: 0 })).toThrow(/maxInstances/);
    // the registry lists at most maxList records of a scope
    const reg = new Registry(conn, { prefix: `${randomPrefix()}identity:`, maxList: 7, scanCount: 5 });
    for (let i = 0; i < 30; i++) await reg.touch('can-node', String(i), { node: i });
    expect(await reg.list('can-node')).toHaveLength(7);
    await conn.close();
  });
});
