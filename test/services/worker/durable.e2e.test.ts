import { spawn } from 'node:child_process';
import { spawnSync } from '../../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { beforeAll, describe, expect, it } from 'vitest';
import { frameToStreamFields } from '../../../src/can/frame.js';
import { encodeScd30 } from '../../../src/can/protocol.js';
import { openStore, StoreError } from '../../../src/store/index.js';
import { SqliteStore } from '../../../src/store/sqlite/store.js';
import { register } from '../../support/cleanup.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { until } from '../automation/helpers.js';

const CLI = path.resolve('dist/src/cli/main.js');
const BATCHES = 6;

describe('SQLite synchronous setting', () => {
  it('NORMAL by default, FULL when asked, anything else refused', async () => {
    const dir = tempDir();
    const normal = await openStore(`sqlite:${path.join(dir, 'a.db')}`, { sweepIntervalMs: 0 });
    const full = await openStore(`sqlite:${path.join(dir, 'b.db')}`, { sweepIntervalMs: 0, sqliteSynchronous: 'FULL' });
    expect((normal as SqliteStore).synchronousLevel()).toBe(1);
    expect((full as SqliteStore).synchronousLevel()).toBe(2);
    await normal.close();
    await full.close();
    await expect(
      openStore(`sqlite:${path.join(dir, 'c.db')}`, { sqliteSynchronous: 'OFF' as 'FULL' }),
    ).rejects.toBeInstanceOf(StoreError);
  });
});

describe('the worker commits durably before it acks', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });

  /** Runs `canopy worker` under strace, feeds it BATCHES separate batches, and counts its fsync/fdatasync calls. */
  async function syncsFor(mode: string): Promise<{ syncs: number; stored: number }> {
    const dir = tempDir();
    const db = path.join(dir, 'canopy.db');
    const trace = path.join(dir, 'strace.out');
    const c = createClient({ url: redis.url });
    c.on('error', () => undefined);
    await c.connect();
    const child = spawn(
      'strace',
      [
        '-f',
        '-qq',
        // paths with the fds: only syncs of the database files count (not heartbeat or spool files)
        '-y',
        '-e',
        'trace=fsync,fdatasync',
        '-o',
        trace,
        process.execPath,
        CLI,
        'worker',
        '--name',
        `w-${mode}`,
        '--sqlite-synchronous',
        mode,
      ],
      {
        env: {
          ...process.env,
          REDIS_URL: redis.url,
          DATABASE_URL: `sqlite:${db}`,
          CANOPY_DATA_DIR: dir,
          LOG_LEVEL: 'warn',
        },
        stdio: ['ignore', 'ignore', fs.openSync(path.join(dir, 'worker.err'), 'w')],
        detached: true, // its own process group: SIGTERM reaches the worker, not only strace (which would detach)
      },
    );
    register({
      stop: async () => void (child.exitCode === null && process.kill(-child.pid!, 'SIGKILL')),
      killSync: () => void (child.exitCode === null && process.kill(-child.pid!, 'SIGKILL')),
    });
    await until(async () => (await c.exists(`heartbeat:w-${mode}`)) === 1, 'worker up', 30_000);
    const base = fs.existsSync(trace)
      ? fs
          .readFileSync(trace, 'utf8')
          .split('\n')
          .filter((l) => /sync\(/.test(l) && l.includes(db)).length
      : 0;
    for (let b = 0; b < BATCHES; b++) {
      const f = encodeScd30(1, 700 + b, 22, 60, Date.now());
      const id = String(
        await c.sendCommand(['XADD', 'can:raw', '*', ...Object.entries(frameToStreamFields(f)).flat()]),
      );
      // one batch at a time: delivered, stored and acked before the next is sent
      await until(
        async () => {
          const groups = (await c.xInfoGroups('can:raw')) as unknown as {
            name: string;
            pending: number;
            'last-delivered-id': string;
          }[];
          const g = groups.find((x) => x.name === 'can-worker');
          return g !== undefined && g['last-delivered-id'] === id && Number(g.pending) === 0;
        },
        `batch ${b} acked (${fs.readFileSync(path.join(dir, 'worker.err'), 'utf8').slice(-600)})`,
        20_000,
      );
    }
    const syncs =
      fs
        .readFileSync(trace, 'utf8')
        .split('\n')
        .filter((l) => /sync\(/.test(l) && l.includes(db)).length - base;
    const exited = new Promise((r) => child.once('exit', r));
    process.kill(-child.pid!, 'SIGTERM');
    await exited;
    const store = await openStore(`sqlite:${db}`, { sweepIntervalMs: 0 });
    const stored = await store.countReadings();
    await store.close();
    await c.close();
    return { syncs, stored };
  }

  it('with FULL (its default) every batch commit is synced before the ack; NORMAL skips those syncs', async () => {
    const haveStrace = spawnSync('strace', ['-V']).status === 0;
    expect(haveStrace, 'strace is needed (scripts/install-deps.sh installs it)').toBe(true);
    const full = await syncsFor('FULL');
    const normal = await syncsFor('NORMAL');
    expect(full.stored).toBeGreaterThan(0);
    expect(normal.stored).toBeGreaterThan(0);
    // each acked batch cost at least one sync of the WAL with FULL; with NORMAL a commit is not synced
    expect(full.syncs).toBeGreaterThanOrEqual(BATCHES);
    expect(full.syncs - normal.syncs).toBeGreaterThanOrEqual(BATCHES);
  }, 180_000);
});
