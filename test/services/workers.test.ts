import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { ConfigError } from '../../src/bus/errors.js';
import { deleteEmptyConsumer } from '../../src/bus/streams/consumer-claims.js';
import { workerEnv } from '../../src/config/worker.js';
import { upServices } from '../../src/ops/services-list.js';
import { workerConsumerName } from '../../src/services/worker/index.js';
import { startPostgres } from '../support/postgres.js';
import { startRedis } from '../support/redis.js';
import { spawnSync } from '../support/run-sync.js';
import { randomPrefix, tempDir } from '../support/tmp.js';
import { pt100Frames, rawClient, waitFor, xaddFrames, type Raw } from './pipeline/helpers.js';
import { registerChild } from '../support/cleanup.js';

/**
 * Several `canopy worker` processes share the group `can-worker`, each under
 * its own stable name `worker-<host>-<instance>`; one is killed with kill -9
 * mid-run and the other takes over what it had read and not acknowledged.
 * Real processes, a real redis-server, one store written by both (a SQLite
 * file, a PostgreSQL database).
 */

const CLI = path.resolve('dist/src/cli/main.js');
const HOST = os.hostname();
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

/** What the workers wrote on stderr (warnings and errors), for the failure messages. */
const workerLog: string[] = [];

function spawnWorker(env: NodeJS.ProcessEnv, instance: number): ChildProcess {
  const child = spawn(process.execPath, [CLI, 'worker', '--instance', String(instance), '--batch', '200'], {
    env: { ...process.env, ...env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  registerChild(child);
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => workerLog.push(`[worker ${instance}] ${d}`));
  child.on('exit', (code, signal) => workerLog.push(`[worker ${instance}] exited: ${code ?? signal}\n`));
  children.push(child);
  return child;
}

/** waitFor, with the workers' own words when it times out. */
async function waitForWorkers(what: string, fn: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  try {
    await waitFor(what, fn, timeoutMs);
  } catch (err) {
    throw new Error(`${(err as Error).message}; workers said:\n${workerLog.slice(-20).join('')}`, { cause: err });
  }
}

/** A store the workers share, and how the test counts in it (-1 while its tables are not there yet). */
interface SharedStore {
  url: string;
  count(sql: string): Promise<number>;
  close(): Promise<void>;
}

async function sqliteStore(): Promise<SharedStore> {
  return sqliteStoreAt(path.join(tempDir(), 'canopy.db'));
}

async function sqliteStoreAt(file: string): Promise<SharedStore> {
  return {
    url: `sqlite:${file}`,
    count: async (sql) => {
      let db: Database.Database;
      try {
        db = new Database(file, { readonly: true, fileMustExist: true, timeout: 5000 });
      } catch {
        return -1; // not created yet
      }
      try {
        return (db.prepare(sql).get() as { n: number }).n;
      } catch {
        return -1; // schema not there yet
      } finally {
        db.close();
      }
    },
    close: async () => undefined,
  };
}

async function postgresStore(): Promise<SharedStore> {
  const url = await (await startPostgres()).createDatabase();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return {
    url,
    count: async (sql) => {
      try {
        return Number((await client.query<{ n: string }>(sql)).rows[0]?.n);
      } catch {
        return -1; // schema not there yet
      }
    },
    close: () => client.end(),
  };
}

async function consumers(raw: Raw): Promise<Map<string, number>> {
  const reply = (await raw.xInfoConsumers('can:raw', 'can-worker').catch(() => [])) as unknown[];
  const out = new Map<string, number>();
  for (const c of reply) {
    const rec = (c instanceof Map ? Object.fromEntries(c) : c) as Record<string, unknown>;
    out.set(String(rec.name), Number(rec.pending));
  }
  return out;
}

const exited = (c: ChildProcess) =>
  c.exitCode !== null || c.signalCode !== null
    ? Promise.resolve()
    : new Promise<void>((r) => c.once('exit', () => r()));

const stores: [string, () => Promise<SharedStore>][] = [
  ['SQLite (two writer processes on one file)', sqliteStore],
  ['PostgreSQL', postgresStore],
];

describe.each(stores)('two workers on one group, one killed with kill -9 mid-run, on %s', (_name, openStore) => {
  it('every frame is stored exactly once and nothing stays pending; the dead worker is handed off and removed', async () => {
    const redis = await startRedis();
    const dir = tempDir();
    const store = await openStore();
    const env = {
      REDIS_URL: redis.url,
      DATABASE_URL: store.url,
      CANOPY_DATA_DIR: dir,
      // the heartbeat TTL, i.e. when the survivor takes over the dead worker's entries
      CANOPY_WORKER_HANDOFF_S: '3',
    };
    const raw = await rawClient(redis.url);
    const N = 30_000;
    const frames = pt100Frames(N);
    // a first part before the workers start, the rest flows in while they run (and while one dies)
    await xaddFrames(raw, frames.slice(0, 20_000));
    let added = 20_000;
    const producing = (async () => {
      while (added < N) {
        await xaddFrames(raw, frames.slice(added, added + 250));
        added += 250;
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    const a = spawnWorker(env, 0);
    const b = spawnWorker(env, 1);
    const nameA = `worker-${HOST}-0`;
    const nameB = `worker-${HOST}-1`;
    const stored = () => store.count('SELECT COUNT(*) AS n FROM can_messages');

    // two services, each with its own heartbeat under its consumer name
    await waitForWorkers(
      'both heartbeats',
      async () => (await raw.exists([`heartbeat:${nameA}`, `heartbeat:${nameB}`])) === 2,
      120_000,
    );
    const beatA = JSON.parse((await raw.get(`heartbeat:${nameA}`)) ?? '{}') as { service?: string; instance?: string };
    expect(beatA).toMatchObject({ service: 'worker', instance: nameA });

    // kill A while it holds entries it read and has not acknowledged: freeze it at some moment, look, kill or go on
    let pendingOfA = 0;
    await waitForWorkers('worker 0 storing', async () => (await stored()) >= 1000, 90_000);
    await waitForWorkers(
      'worker 0 frozen with entries in hand',
      async () => {
        a.kill('SIGSTOP');
        pendingOfA = (await consumers(raw)).get(nameA) ?? 0;
        if (pendingOfA > 0) return true;
        a.kill('SIGCONT');
        if ((await stored()) >= N)
          throw new Error('every frame was stored before worker 0 could be caught holding entries');
        await new Promise((r) => setTimeout(r, Math.random() * 30));
        return false;
      },
      90_000,
    );
    a.kill('SIGKILL');
    await exited(a);
    const atKill = await stored();
    expect(atKill).toBeLessThan(N);
    // still holding entries when killed (the survivor's idle sweep may already have taken some over)
    const left = (await consumers(raw)).get(nameA) ?? 0;
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(pendingOfA);

    await producing;
    await waitForWorkers('every frame stored', async () => (await stored()) >= N, 120_000);
    await waitForWorkers(
      'nothing pending and the dead worker removed from the group',
      async () => {
        const cs = await consumers(raw);
        return !cs.has(nameA) && [...cs.values()].every((p) => p === 0);
      },
      120_000,
    );
    const summary = (await raw.sendCommand(['XPENDING', 'can:raw', 'can-worker'])) as unknown[];
    expect(Number(summary[0])).toBe(0);
    expect([...(await consumers(raw)).keys()]).toEqual([nameB]);
    expect(b.exitCode).toBeNull();

    b.kill('SIGTERM');
    await exited(b);
    expect(b.exitCode).toBe(0);
    expect(await stored()).toBe(N);
    // exactly once: every frame has its own timestamp, every stream entry was ingested once
    expect(await store.count('SELECT COUNT(DISTINCT timestamp) AS n FROM can_messages')).toBe(N);
    expect(await store.count('SELECT COUNT(*) AS n FROM ingested_entries')).toBe(N);
    raw.destroy();
    await store.close();
  }, 240_000);
});

describe('removing a worker that is gone from the group', () => {
  it('only when nothing is pending for it, checked and done in one step', async () => {
    const redis = await startRedis();
    const conn = await Connection.connect({ url: redis.url, healthCheckIntervalMs: 0 });
    try {
      const stream = `${randomPrefix()}can:raw`;
      await conn.run('setup', async (c) => {
        await c.xGroupCreate(stream, 'can-worker', '0', { MKSTREAM: true });
        await c.xAdd(stream, '*', { a: '1' });
        // a worker that came back under its old name and read an entry
        await c.xReadGroup('can-worker', 'worker-h-0', { key: stream, id: '>' });
        await c.xGroupCreateConsumer(stream, 'can-worker', 'worker-h-1');
      });
      expect(await deleteEmptyConsumer(conn, stream, 'can-worker', 'worker-h-0')).toBe(false);
      expect(await deleteEmptyConsumer(conn, stream, 'can-worker', 'worker-h-1')).toBe(true);
      const names = await conn.run('XINFO', (c) => c.xInfoConsumers(stream, 'can-worker'));
      expect(names.map((n) => n.name)).toEqual(['worker-h-0']);
    } finally {
      await conn.close();
    }
  });
});

describe('starting N workers', () => {
  it('canopy up starts instances 0 … N-1, each its own process and name', () => {
    const one = upServices().filter((s) => s.args[0] === 'worker');
    expect(one.map((s) => [s.name, s.args])).toEqual([['worker', ['worker', '--instance', '0']]]);
    const three = upServices({ workers: 3 }).filter((s) => s.args[0] === 'worker');
    expect(three.map((s) => [s.name, s.args.join(' ')])).toEqual([
      ['worker-0', 'worker --instance 0'],
      ['worker-1', 'worker --instance 1'],
      ['worker-2', 'worker --instance 2'],
    ]);
    expect(() => upServices({ workers: 0 })).toThrow(ConfigError);
    expect(workerEnv({ CANOPY_WORKERS: '4' }).workers).toBe(4);
    expect(() => workerEnv({ CANOPY_WORKERS: 'two' })).toThrow(ConfigError);
    expect(workerConsumerName('2', 'pi1')).toBe('worker-pi1-2');
  });

  it('an instance that cannot be a name is refused at start, saying what is allowed', () => {
    const r = spawnSync(process.execPath, [CLI, 'worker', '--instance', 'a b'], {
      env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1' },
      encoding: 'utf8',
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--instance must be 1–64 characters/);
    const e = spawnSync(process.execPath, [CLI, 'worker'], {
      env: { ...process.env, REDIS_URL: 'redis://127.0.0.1:1', CANOPY_WORKER_INSTANCE: 'x:y' },
      encoding: 'utf8',
    });
    expect(e.status).toBe(2);
    expect(e.stderr).toMatch(/CANOPY_WORKER_INSTANCE must be/);
  });
});

describe('workers starting at once on one new SQLite file', () => {
  it('each migrates it or finds it migrated: none fails (the check is repeated under the write lock)', async () => {
    const store = path.resolve('dist/src/store/index.js');
    const code = `
      const { openStore } = await import(${JSON.stringify(store)});
      const at = Number(process.argv[2]);
      while (Date.now() < at) {} // all start their migration at the same moment
      const s = await openStore('sqlite:' + process.argv[1]);
      try { await s.migrate(); } finally { await s.close(); }`;
    for (let round = 0; round < 4; round++) {
      const file = path.join(tempDir(), 'canopy.db');
      const at = String(Date.now() + 1500);
      const runs = Array.from(
        { length: 4 },
        () =>
          new Promise<{ code: number | null; err: string }>((resolve) => {
            const c = spawn(process.execPath, ['--input-type=module', '-e', code, file, at], {
              stdio: ['ignore', 'ignore', 'pipe'],
            });
            registerChild(c);
            children.push(c);
            let err = '';
            c.stderr!.on('data', (d: Buffer) => (err += d.toString()));
            c.on('exit', (code) => resolve({ code, err }));
          }),
      );
      for (const r of await Promise.all(runs)) expect(r, r.err).toEqual({ code: 0, err: '' });
      expect(await (await sqliteStoreAt(file)).count('SELECT COUNT(*) AS n FROM schema_migrations')).toBeGreaterThan(0);
    }
  }, 120_000);
});
