import { spawn, type ChildProcess } from 'node:child_process';
import Database from 'better-sqlite3';
import { createClient, type RedisClientType } from 'redis';
import { expect } from 'vitest';
import type { CanFrame } from '../../../src/can/frame.js';
import { frameToStreamFields } from '../../../src/can/frame.js';
import { encodePt100 } from '../../../src/can/protocol.js';
import { WORKER_NODE_ARGS } from '../../../src/ops/services-list.js';
import { createLogger } from '../../../src/util/log.js';
import { register } from '../../support/cleanup.js';
import { CLI, sqliteCount } from '../../support/cli-procs.js';

export type Raw = RedisClientType;

export async function rawClient(url: string): Promise<Raw> {
  const c = createClient({ url });
  c.on('error', () => undefined);
  await c.connect();
  return c;
}

/**
 * `n` PT100 frames of nodes 1–3, 1 ms apart and ending now: every frame has
 * its own timestamp, so `COUNT(DISTINCT timestamp)` tells duplicates apart.
 */
export function pt100Frames(n: number): CanFrame[] {
  const t0 = Date.now() - n;
  return Array.from({ length: n }, (_, i) =>
    encodePt100(1 + (i % 3), 20 + (i % 50) / 10, 18 + (i % 40) / 10, 0, t0 + i),
  );
}

/** XADDs frames with exactly the contract fields, pipelined. */
export async function xaddFrames(c: Raw, frames: CanFrame[], stream = 'can:raw'): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < frames.length; i += 1000) {
    const m = c.multi();
    for (const f of frames.slice(i, i + 1000)) {
      m.xAdd(stream, '*', frameToStreamFields(f) as unknown as Record<string, string>);
    }
    ids.push(...((await m.execAsPipeline()) as unknown as string[]));
  }
  return ids;
}

/** Polls `fn` until it returns true; fails with `what` after `timeoutMs`. */
export async function waitFor(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const quietLogger = () => createLogger('test', 'silent');

/**
 * The store "goes away": another connection takes the SQLite write lock
 * (`BEGIN EXCLUSIVE`) until `release()`.
 */
export function lockSqlite(dbPath: string): { release: () => void } {
  const lock = new Database(dbPath);
  lock.exec('BEGIN EXCLUSIVE');
  const release = () => {
    if (!lock.open) return;
    lock.exec('ROLLBACK');
    lock.close();
  };
  // released when the test file ends too: a failed assertion must not leave the store locked (the
  // services under test then could not finish their shutdown and would be killed, orphaning their Redis)
  register({ stop: async () => release(), killSync: release });
  return { release };
}

/** Waits until `n` frames are in `can_messages`, then checks there are exactly `n` (none twice). */
export async function expectAllStored(dbPath: string, n: number, timeoutMs = 60_000): Promise<void> {
  const rows = () => sqliteCount(dbPath, 'SELECT COUNT(*) AS n FROM can_messages');
  await waitFor(`all ${n} frames stored`, () => rows() >= n, timeoutMs);
  expect(rows()).toBe(n);
  expect(sqliteCount(dbPath, 'SELECT COUNT(DISTINCT timestamp) AS n FROM can_messages')).toBe(n);
}

/** `canopy worker --name <name>` in its own process with the field's V8 limits (WORKER_NODE_ARGS), killed when the file ends. */
export function spawnWorkerProcess(
  name: string,
  env: NodeJS.ProcessEnv,
  stdio: 'ignore' | 'pipe' = 'ignore',
): ChildProcess {
  const worker = spawn(process.execPath, [...WORKER_NODE_ARGS, CLI, 'worker', '--name', name], {
    env: { ...process.env, LOG_LEVEL: 'error', ...env },
    stdio: ['ignore', stdio, stdio === 'pipe' ? 'pipe' : 'inherit'],
  });
  const kill = () => void (worker.exitCode === null && worker.kill('SIGKILL'));
  register({ stop: async () => kill(), killSync: kill });
  return worker;
}

/** Waits until the worker has migrated the SQLite store (its tables exist). */
export function storeMigrated(dbPath: string): Promise<void> {
  return waitFor(
    'the worker migrated the store',
    () => sqliteCount(dbPath, 'SELECT COUNT(*) AS n FROM can_messages') >= 0,
    30_000,
  );
}
