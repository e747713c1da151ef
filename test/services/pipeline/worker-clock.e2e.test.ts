/**
 * `canopy worker` as a real process under libfaketime: its wall clock steps
 * back an hour while the store is away. Its waits (the next store probe, the
 * claim sweep, timeouts) run on the monotonic clock, so it probes again
 * within its back-off and stores everything once the store is back; on the
 * wall clock it would wait out the hour.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { WORKER_NODE_ARGS } from '../../../src/ops/services-list.js';
import { register } from '../../support/cleanup.js';
import { CLI, sqliteCount } from '../../support/cli-procs.js';
import { fakeClock } from '../../support/faketime.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { pt100Frames, rawClient, waitFor, xaddFrames } from './helpers.js';

describe('worker under a wall-clock step (libfaketime, real process)', () => {
  it('a step back of an hour during a store outage: it probes again within its back-off and stores every frame once', async () => {
    const redis = await startRedis();
    const dir = tempDir();
    const dbPath = path.join(dir, 'canopy.db');
    const raw = await rawClient(redis.url);
    const clock = fakeClock(path.join(dir, 'faketime'), 0);
    const worker = spawn(process.execPath, [...WORKER_NODE_ARGS, CLI, 'worker', '--name', 'stepped'], {
      env: {
        ...process.env,
        REDIS_URL: redis.url,
        DATABASE_URL: `sqlite:${dbPath}`,
        CANOPY_DATA_DIR: dir,
        LOG_LEVEL: 'info',
        ...clock.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let log = '';
    worker.stdout!.on('data', (b: Buffer) => (log += b.toString()));
    worker.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    const kill = () => void (worker.exitCode === null && worker.kill('SIGKILL'));
    register({ stop: async () => kill(), killSync: kill });
    await waitFor(
      'the worker migrated the store',
      () => sqliteCount(dbPath, 'SELECT COUNT(*) AS n FROM can_messages') === 0,
      30_000,
    );

    // the store goes away (another connection holds the write lock); frames arrive meanwhile
    const lock = new Database(dbPath);
    lock.exec('BEGIN EXCLUSIVE');
    const N = 2000;
    await xaddFrames(raw, pt100Frames(N));
    await waitFor('the worker to find the store unavailable', () => log.includes('store unavailable'), 60_000);

    clock.set(-3600);
    await new Promise((r) => setTimeout(r, 500));
    lock.exec('ROLLBACK');
    lock.close();
    // back-off is at most 10 s (plus a busy wait): well inside the minute, nowhere near the hour
    await waitFor(
      'every frame stored',
      () => sqliteCount(dbPath, 'SELECT COUNT(*) AS n FROM can_messages') >= N,
      60_000,
    );
    expect(sqliteCount(dbPath, 'SELECT COUNT(*) AS n FROM can_messages')).toBe(N);
    expect(log).toContain('store is back');
    expect(worker.exitCode).toBeNull();
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    raw.destroy();
  }, 180_000);
});
