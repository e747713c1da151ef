/**
 * Another process holds the SQLite write lock. SQLite waits for a lock
 * synchronously, stalling the whole process; the worker's batch writes wait
 * only `storeBusyTimeoutMs` (200 ms) before holding the batch and retrying
 * with back-off, so the process stays responsive — in `canopy up --compact`
 * every other service shares it — and everything is stored once the lock is
 * released.
 */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { start as startWorker } from '../../../src/services/worker/index.js';
import { openStore } from '../../../src/store/index.js';
import { StoreError } from '../../../src/store/errors.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { expectAllStored, lockSqlite, pt100Frames, quietLogger, rawClient, xaddFrames } from '../pipeline/helpers.js';

describe('worker against a SQLite store another process has locked', () => {
  it('a batch write gives up after writeBusyTimeoutMs; other writes wait out the lock, all without blocking the event loop', async () => {
    const file = path.join(tempDir(), 'w.db');
    const store = await openStore(`sqlite:${file}`, { writeBusyTimeoutMs: 50, sweepIntervalMs: 0 });
    await store.migrate();
    const lock = new Database(file);
    lock.exec('BEGIN EXCLUSIVE');
    const row = { streamId: '1-0', time: Date.now(), sensor: 'dry_bulb_f', value: 20, location: 'L', cluster: 'c' };
    const err = await store.writeBatch({ messages: [], readings: [row] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StoreError);
    expect((err as StoreError).code).toBe('STORE_BUSY');
    // a setpoint (the store's default patience, 5 s) waits for the lock, released after 1 s; a timer of this
    // process goes on meanwhile (one synchronous 1-s wait would leave it at 0 or 1)
    let ticks = 0;
    const timer = setInterval(() => ticks++, 50);
    setTimeout(() => {
      lock.exec('ROLLBACK');
      lock.close();
    }, 1000);
    await store.setSetpoint({ name: 'day_temp', value: 24, by: null });
    clearInterval(timer);
    expect(ticks).toBeGreaterThanOrEqual(10);
    expect((await store.getSetpoints()).map((p) => [p.name, p.value])).toEqual([['day_temp', 24]]);
    expect(await store.writeBatch({ messages: [], readings: [row] })).toEqual({ stored: 1, duplicates: 0 });
    await store.close();
  });

  it('the process stays responsive while the lock is held, and every frame is stored once it is released', async () => {
    const redis = await startRedis();
    const dir = tempDir();
    const dbPath = path.join(dir, 'canopy.db');
    const raw = await rawClient(redis.url);
    const worker = await startWorker({
      redisUrl: redis.url,
      databaseUrl: `sqlite:${dbPath}`,
      blockMs: 100,
      logger: quietLogger(),
    });
    const lock = lockSqlite(dbPath);
    const N = 3000;
    await xaddFrames(raw, pt100Frames(N));
    // a timer of this process every 50 ms for 3 s: each 5-s synchronous wait (the store's default)
    // would swallow a hundred ticks; 200-ms waits at each back-off step cost a few
    let ticks = 0;
    const timer = setInterval(() => ticks++, 50);
    await new Promise((r) => setTimeout(r, 3000));
    clearInterval(timer);
    expect(ticks).toBeGreaterThanOrEqual(30);
    expect(worker.stats().storeFailures).toBeGreaterThanOrEqual(1);
    expect(worker.stats().stored).toBe(0);
    lock.release();
    await expectAllStored(dbPath, N);
    await worker.stop();
    raw.destroy();
  }, 120_000);
});
