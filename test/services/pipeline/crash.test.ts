import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startRedis } from '../../support/redis.js';
import { sqliteCount, spawnCli } from '../../support/cli-procs.js';
import { tempDir } from '../../support/tmp.js';
import { pt100Frames, rawClient, waitFor, xaddFrames } from './helpers.js';

describe('worker killed with kill -9 mid-run', () => {
  it('stores every one of 100,000 frames exactly once after a restart', async () => {
    const redis = await startRedis();
    const dir = tempDir();
    const dbPath = path.join(dir, 'canopy.db');
    const env = { REDIS_URL: redis.url, DATABASE_URL: `sqlite:${dbPath}`, CANOPY_DATA_DIR: dir };
    const raw = await rawClient(redis.url);
    const N = 100_000;
    const frames = pt100Frames(N);
    await xaddFrames(raw, frames);

    const first = spawnCli(['worker', '--name', 'crashy', '--batch', '500'], env);
    // kill it at a random moment while it is storing
    const killAt = 5_000 + Math.floor(Math.random() * 60_000);
    await waitFor(
      'worker storing',
      () => sqliteCount(dbPath, 'SELECT COUNT(*) AS n FROM can_messages') >= killAt,
      60_000,
    );
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    const atKill = sqliteCount(dbPath, 'SELECT COUNT(*) AS n FROM can_messages');
    expect(atKill).toBeLessThan(N);

    const second = spawnCli(['worker', '--name', 'crashy', '--batch', '500'], env);
    await waitFor(
      'all frames stored',
      () => sqliteCount(dbPath, 'SELECT COUNT(*) AS n FROM can_messages') >= N,
      120_000,
    );
    const pendingEmpty = async () =>
      Number(((await raw.sendCommand(['XPENDING', 'can:raw', 'can-worker'])) as unknown[])[0]) === 0;
    await waitFor('everything acked', pendingEmpty, 30_000);
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));

    expect(sqliteCount(dbPath, 'SELECT COUNT(*) AS n FROM can_messages')).toBe(N);
    // no duplicates: every frame has its own timestamp
    expect(sqliteCount(dbPath, 'SELECT COUNT(DISTINCT timestamp) AS n FROM can_messages')).toBe(N);
    raw.destroy();
  });
});
