import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { createClient } from 'redis';
import { startRedis } from './redis.js';
import { startPostgres } from './postgres.js';

describe('test harness', () => {
  it('starts redis-server, kills it with -9 and restarts it on the same AOF data', async () => {
    const r = await startRedis({ aof: true });
    const c = createClient({ url: r.url });
    await c.connect();
    await c.set('k', 'v');
    await c.sendCommand(['BGREWRITEAOF']);
    await new Promise((res) => setTimeout(res, 1500));
    await c.set('k2', 'v2');
    await new Promise((res) => setTimeout(res, 1200)); // appendfsync everysec
    c.destroy();
    await r.kill();
    expect(r.running).toBe(false);
    await r.restart();
    const c2 = createClient({ url: r.url });
    await c2.connect();
    expect(await c2.get('k')).toBe('v');
    expect(await c2.get('k2')).toBe('v2');
    c2.destroy();
  });

  it('starts a private PostgreSQL cluster and creates databases', async () => {
    const p = await startPostgres();
    const url = await p.createDatabase();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const r = await c.query<{ one: number }>('select 1 as one');
    expect(r.rows[0]?.one).toBe(1);
    await c.end();
  });
});
