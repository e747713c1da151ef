import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import pg from 'pg';
import { createClient } from 'redis';
import { startRedis } from './redis.js';
import { startPostgres } from './postgres.js';
import { postgresPids } from './pg-kill.js';
import { alive } from '../ops/proc.js';

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

  it("kills every process of a PostgreSQL server, a child that cannot notice the postmaster's death too", async () => {
    const p = await startPostgres();
    const cmdline = (pid: number) => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const pids = postgresPids(undefined, p.dataDir);
    const writer = pids.find((pid) => cmdline(pid).includes('background writer'));
    expect(writer, `no background writer among ${pids.length} processes in the data directory`).toBeDefined();
    // each child is a session of its own (PostgreSQL's setsid): a kill of the postmaster's group misses it
    process.kill(writer!, 'SIGSTOP');
    await p.kill();
    // gone, or a zombie nobody reaps (its parent died): either way no longer running
    for (let i = 0; i < 50 && alive(writer!); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(writer!)).toBe(false);
  });
});
