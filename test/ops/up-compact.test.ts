/**
 * `canopy up --compact`: every service in one process (a 1 GB Pi). Frames
 * flow to the store, the API answers, every service beats; a kill -9 of
 * that one process drives the outputs to their safe state before it is
 * restarted, and SIGTERM stops everything with nothing pending.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { mallocEnv, MALLOC_ARENA_MAX, upServices, UP_COMPACT } from '../../src/ops/services-list.js';
import { freePort } from '../../src/ops/ports.js';
import { sqliteCount } from '../support/cli-procs.js';
import { lockSqlite } from '../services/pipeline/helpers.js';
import { tempDir } from '../support/tmp.js';
import { alive, spawnWatched, until } from './proc.js';

const CLI = path.resolve('dist/src/cli/main.js');

const VIEWER = 'outage-viewer-token-0123456789';
/** The pid of the one service process `canopy up --compact` says it started (exactly one). */
function servicePid(lines: string[]): number {
  const started = lines.filter((l) => / started \(pid \d+\)/.test(l) && !l.startsWith('Redis'));
  expect(started).toHaveLength(1);
  return Number(/\(pid (\d+)\)/.exec(started[0] as string)?.[1]);
}

const environ = (pid: number) => fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
const count = (file: string) => Math.max(0, sqliteCount(file, 'SELECT count(*) AS n FROM can_messages'));

/** `canopy up --compact` on its own Redis port and data dir, with `extra` arguments and environment. */
async function startCompact(dataDir: string, apiPort: number, args: string[] = [], env: NodeJS.ProcessEnv = {}) {
  return spawnWatched(process.execPath, [CLI, 'up', '--compact', ...args, '--redis-port', String(await freePort())], {
    CANOPY_DATA_DIR: dataDir,
    CANOPY_API_PORT: String(apiPort),
    DATABASE_URL: '',
    REDIS_URL: '',
    LOG_LEVEL: 'warn',
    ...env,
  });
}

describe('canopy up --compact', () => {
  it('is one service entry with the safe-state watchdog, and refuses more than one worker', () => {
    const [only, ...rest] = upServices({ compact: true, source: 'sim' });
    expect(rest).toEqual([]);
    expect(only?.args).toEqual(['group', UP_COMPACT.join(','), '--compact', '--source', 'sim']);
    expect(only?.onCrash).toEqual(['automation', '--safe-state']);
    expect(() => upServices({ compact: true, workers: 2 })).toThrow(/one worker/);
  });

  it("caps glibc's malloc arenas for its services unless the environment already says how many", () => {
    expect(mallocEnv({})).toEqual({ MALLOC_ARENA_MAX });
    expect(mallocEnv({ MALLOC_ARENA_MAX: '4' })).toEqual({});
  });

  it('runs every service in one process: frames stored, API up, kill -9 → safe state and restart; SIGTERM stops all', async () => {
    const dataDir = tempDir('canopy-compact-');
    const db = path.join(dataDir, 'canopy.db');
    const apiPort = await freePort();
    const up = await startCompact(dataDir, apiPort, [], { LOG_LEVEL: 'info' });
    await up.waitFor(/^Canopy is up/, 90_000);
    // the one process serves the dashboard: up waited for it and says where it is
    await up.waitFor(/^Dashboard: /, 10_000);
    expect(up.lines).toContain(`Dashboard: http://127.0.0.1:${apiPort}/`);
    expect(up.lines.some((l) => /no dashboard/.test(l))).toBe(false);
    const pid = servicePid(up.lines);
    expect(environ(pid)).toContain(`MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX}`);
    // "Canopy is up" means every service beats, not only that the dashboard answers (the one process
    // starts its services in turn: before, the last ones were often still starting)
    const health = await fetch(`http://127.0.0.1:${apiPort}/health`);
    const beats = JSON.stringify(await health.json());
    for (const s of ['worker', 'scanner', 'automation', 'alerts', 'recorder', 'analytics']) expect(beats).toContain(s);
    expect(up.lines.some((l) => /still starting/.test(l))).toBe(false);
    await until(() => count(db) > 200, 60_000, 'frames stored');
    expect((await fetch(`http://127.0.0.1:${apiPort}/health`)).status).toBe(200);

    process.kill(pid, 'SIGKILL');
    await up.waitFor(/^watchdog for canopy: safe state applied/, 60_000);
    await until(() => up.lines.filter((l) => /^canopy started/.test(l)).length === 2, 60_000, 'restart');
    const atRestart = count(db);
    await until(() => count(db) > atRestart + 100, 60_000, 'frames stored after the restart');

    up.child.kill('SIGTERM');
    expect((await up.exited).code).toBe(0);
    for (const l of up.lines) {
      const m = /^\w+ started \(pid (\d+)\)/.exec(l);
      if (m) expect(alive(Number(m[1])), l).toBe(false);
    }
  }, 240_000);

  it('a store outage (another process holds the SQLite write lock): the one process keeps answering and streams an export; the frames are stored after', async () => {
    const dataDir = tempDir('canopy-compact-outage-');
    const db = path.join(dataDir, 'canopy.db');
    const apiPort = await freePort();
    const up = await startCompact(dataDir, apiPort, [], { CANOPY_API_TOKENS: `viewer@outage:${VIEWER}` });
    await up.waitFor(/^Canopy is up/, 90_000);
    await until(() => count(db) > 100, 60_000, 'frames stored');
    const api = `http://127.0.0.1:${apiPort}`;

    const lock = lockSqlite(db);
    const atLock = count(db);
    // for 6 s: the live values one after another, and an export of everything stored so far
    const exported = fetch(`${api}/api/export?sensors=dry_bulb_f&from=0`, {
      headers: { authorization: `Bearer ${VIEWER}` },
    }).then(async (r) => ({
      status: r.status,
      lines: (await r.text()).trimEnd().split('\n').length,
    }));
    let answered = 0;
    const end = Date.now() + 6000;
    while (Date.now() < end) {
      const r = await fetch(`${api}/api/sensors/live`);
      expect(r.status).toBe(200);
      answered++;
      await new Promise((res) => setTimeout(res, 50));
    }
    // synchronous waits for the lock (5 s at each store probe) left 6; waiting asynchronously, some 80
    expect(answered).toBeGreaterThanOrEqual(20);
    const ex = await exported;
    expect(ex.status).toBe(200);
    expect(ex.lines).toBeGreaterThan(5); // the header and rows: reads do not wait for the write lock (WAL)
    expect(count(db)).toBe(atLock); // nothing was written meanwhile
    lock.release();
    // the simulated nodes send 15 frames/s: some 90 were held during the outage
    await until(() => count(db) > atLock + 60, 60_000, 'the held frames stored after the outage');
    expect(up.lines.filter((l) => /exited unexpectedly|^restarting/.test(l))).toEqual([]);
    up.child.kill('SIGTERM');
    expect((await up.exited).code).toBe(0);
  }, 180_000);

  it('--source replay:FILE stores every frame of a candump log once; the process stays up when the log ends; MALLOC_ARENA_MAX from the environment wins', async () => {
    const dataDir = tempDir('canopy-compact-replay-');
    const log = path.join(dataDir, 'capture.log');
    const N = 2000;
    // PT100 frames of node 1, 10 ms apart: every one its own timestamp
    const lines = Array.from(
      { length: N },
      (_, i) =>
        `(${1700000000 + Math.floor(i / 100)}.${String((i % 100) * 10000).padStart(6, '0')}) can0 101#C4090A0700`,
    );
    fs.writeFileSync(log, `${lines.join('\n')}\n`);
    const db = path.join(dataDir, 'canopy.db');
    // an arena count the environment sets wins over up's default
    const up = await startCompact(dataDir, await freePort(), ['--source', `replay:${log}`], { MALLOC_ARENA_MAX: '4' });
    await up.waitFor(/^Canopy is up/, 90_000);
    const env = environ(servicePid(up.lines));
    expect(env).toContain('MALLOC_ARENA_MAX=4');
    expect(env).not.toContain(`MALLOC_ARENA_MAX=${MALLOC_ARENA_MAX}`);
    await until(() => count(db) >= N, 60_000, 'every frame of the log stored');
    // the scanner's source ended; the other services go on, nothing restarted
    await new Promise((r) => setTimeout(r, 3000));
    expect(count(db)).toBe(N);
    expect(sqliteCount(db, 'SELECT COUNT(DISTINCT timestamp) AS n FROM can_messages')).toBe(N);
    expect(up.lines.filter((l) => /exited unexpectedly|^restarting/.test(l))).toEqual([]);
    up.child.kill('SIGTERM');
    expect((await up.exited).code).toBe(0);
  }, 180_000);
});
