/**
 * `canopy worker` as a real process under libfaketime: its wall clock steps
 * back an hour while the store is away. Its waits (the next store probe, the
 * claim sweep, timeouts) run on the monotonic clock, so it probes again
 * within its back-off and stores everything once the store is back; on the
 * wall clock it would wait out the hour.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fakeClock } from '../../support/faketime.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import {
  expectAllStored,
  lockSqlite,
  pt100Frames,
  rawClient,
  spawnWorkerProcess,
  storeMigrated,
  waitFor,
  xaddFrames,
} from './helpers.js';

describe('worker under a wall-clock step (libfaketime, real process)', () => {
  it('a step back of an hour during a store outage: it probes again within its back-off and stores every frame once', async () => {
    const redis = await startRedis();
    const dir = tempDir();
    const dbPath = path.join(dir, 'canopy.db');
    const raw = await rawClient(redis.url);
    const clock = fakeClock(path.join(dir, 'faketime'), 0);
    const worker = spawnWorkerProcess(
      'stepped',
      { REDIS_URL: redis.url, DATABASE_URL: `sqlite:${dbPath}`, CANOPY_DATA_DIR: dir, LOG_LEVEL: 'info', ...clock.env },
      'pipe',
    );
    let log = '';
    worker.stdout!.on('data', (b: Buffer) => (log += b.toString()));
    worker.stderr!.on('data', (b: Buffer) => (log += b.toString()));
    await storeMigrated(dbPath);

    // the store goes away (another connection holds the write lock); frames arrive meanwhile
    const lock = lockSqlite(dbPath);
    const N = 2000;
    await xaddFrames(raw, pt100Frames(N));
    await waitFor('the worker to find the store unavailable', () => log.includes('store unavailable'), 60_000);

    clock.set(-3600);
    await new Promise((r) => setTimeout(r, 500));
    lock.release();
    // back-off is at most 10 s (plus a busy wait): well inside the minute, nowhere near the hour
    await expectAllStored(dbPath, N);
    // logged once the first batch after the outage is acked (a moment after its commit)
    await waitFor('the worker to log that the store is back', () => log.includes('store is back'), 10_000);
    expect(worker.exitCode).toBeNull();
    worker.kill('SIGTERM');
    await new Promise((r) => worker.once('exit', r));
    raw.destroy();
  }, 180_000);
});
