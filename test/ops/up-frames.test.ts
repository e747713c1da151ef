import { spawnSync } from '../support/run-sync.js';
import path from 'node:path';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/ops/ports.js';
import { startRedis } from '../support/redis.js';
import { tempDir } from '../support/tmp.js';
import { sqliteCount } from '../support/cli-procs.js';
import { alive, spawnWatched, until } from './proc.js';
import { present } from '../support/narrow.js';

const CLI = path.resolve('dist/src/cli/main.js');

/** Rows in `table`; 0 before the file or its tables exist. */
const count = (file: string, table: string) => Math.max(0, sqliteCount(file, `SELECT count(*) AS n FROM ${table}`));

describe('canopy up with the real pipeline', () => {
  it('kill -9: the worker restarts and frames keep being stored, automation gets its safe-state watchdog; doctor passes; SIGTERM loses nothing', async () => {
    const dataDir = tempDir('canopy-up-');
    const db = path.join(dataDir, 'canopy.db');
    const redisPort = await freePort();
    const up = spawnWatched(process.execPath, [CLI, 'up', '--redis-port', String(redisPort)], {
      CANOPY_DATA_DIR: dataDir,
      CANOPY_API_PORT: String(await freePort()),
      DATABASE_URL: '',
      REDIS_URL: '',
      // a terminal started by a desktop's systemd user manager inherits INVOCATION_ID: the quick start still runs
      INVOCATION_ID: 'a-desktop-terminal',
    });
    await up.waitFor(/^Canopy is up/, 60_000);
    const pids: Record<string, number> = {};
    for (const l of up.lines) {
      const m = /^(\w+) started \(pid (\d+)\)/.exec(l);
      if (m) pids[m[1] as string] = Number(m[2]);
    }
    expect(Object.keys(pids)).toEqual(expect.arrayContaining(['scanner', 'worker', 'automation']));
    // the automation runs (simulated relays by the quick start's explicit choice), never refused and restarted
    await up.waitFor(/^automation \| .*under control/, 60_000);
    expect(up.lines.filter((l) => /^automation exited/.test(l))).toEqual([]);
    await until(() => count(db, 'can_messages') > 200, 60_000, 'frames stored');

    process.kill(pids.worker as number, 'SIGKILL');
    await up.waitFor(/^worker exited unexpectedly \(signal SIGKILL\)/);
    const atKill = count(db, 'can_messages');
    await up.waitFor(/^restarting worker in \d+ ms/);
    await until(() => up.lines.filter((l) => /^worker started/.test(l)).length === 2, 30_000, 'worker restart');
    await until(() => count(db, 'can_messages') > atKill + 200, 60_000, 'frames stored after the restart');

    // the automation child dies: the watchdog drives every relay to its safe state, then it restarts
    process.kill(pids.automation as number, 'SIGKILL');
    await up.waitFor(/^watchdog for automation: safe state applied/, 60_000);
    await until(() => up.lines.filter((l) => /^automation started/.test(l)).length === 2, 60_000, 'automation restart');

    // canopy doctor on the running system: every check passes, the heartbeats are there
    const redisUrl = /^Redis started on (\S+)/.exec(up.lines.find((l) => l.startsWith('Redis started')) as string)?.[1];
    const doc = spawnSync(process.execPath, [CLI, 'doctor', '--json'], {
      encoding: 'utf8',
      env: {
        ...process.env,
        REDIS_URL: redisUrl,
        DATABASE_URL: `sqlite:${db}`,
        CANOPY_DATA_DIR: dataDir,
        CAN_INTERFACE: '',
      },
    });
    const report = JSON.parse(doc.stdout) as { ok: boolean; checks: { id: string; status: string; detail: string }[] };
    expect(report.checks.filter((x) => x.status === 'fail')).toEqual([]);
    expect(doc.status).toBe(0);
    expect(report.checks.find((x) => x.id === 'heartbeats')?.detail).toMatch(/scanner.*worker|worker.*scanner/);

    up.child.kill('SIGTERM');
    expect((await up.exited).code).toBe(0);
    for (const l of up.lines) {
      const m = /^\w+ started \(pid (\d+)\)/.exec(l) ?? /^Redis started on \S+ \(pid (\d+)/.exec(l);
      if (m) expect(alive(Number(m[1])), l).toBe(false);
    }
    // nothing lost: every entry the worker group took from can:raw is stored, once
    const redis = await startRedis({ dir: path.join(dataDir, 'redis'), aof: true, rdb: true });
    const c = createClient({ url: redis.url });
    await c.connect();
    const groups = (await c.xInfoGroups('can:raw')) as unknown as {
      name: string;
      pending: number;
      'last-delivered-id': string;
    }[];
    const g = groups.find((x) => x.name === 'can-worker');
    expect(g?.pending).toBe(0);
    const taken = present(
      await c.xRange('can:raw', '-', g?.['last-delivered-id'] as string),
      'the XRANGE reply',
    ).length;
    c.destroy();
    const stored = count(db, 'ingested_entries');
    expect(stored).toBe(taken);
    expect(count(db, 'can_messages')).toBe(stored);
  });
});
