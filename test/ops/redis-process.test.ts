/**
 * The managed redis-server and the death of its owner: with `exitWithParent`
 * it saves and exits when the process that started it is killed -9; and a
 * server an owner left behind on a data directory is stopped (after saving)
 * by the next start on that directory instead of running beside it.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { hasPdeathsig, RedisProcess, stopStaleServer } from '../../src/ops/redis-process.js';
import { register } from '../support/cleanup.js';
import { tempDir } from '../support/tmp.js';
import { alive, until } from './proc.js';

const MODULE = path.resolve('dist/src/ops/redis-process.js');

/**
 * A separate Node process that starts a RedisProcess on `dir` and prints
 * `<redis pid> <port>`; the test kills it with SIGKILL.
 */
async function owner(
  dir: string,
  exitWithParent: boolean,
): Promise<{ ownerPid: number; redisPid: number; url: string }> {
  const code =
    `const { RedisProcess } = await import(${JSON.stringify(MODULE)});` +
    `const r = await RedisProcess.start({ dir: ${JSON.stringify(dir)}, exitWithParent: ${exitWithParent}, aof: false });` +
    'console.log(`${r.pid} ${r.port} ${r.exitsWithParent}`); setInterval(() => {}, 1000);';
  const child = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('\n')) resolve(out.trim());
    });
    child.once('exit', (c) => reject(new Error(`owner exited with ${c} before starting Redis`)));
  });
  const [pid, port, guarded] = line.split(' ');
  const redisPid = Number(pid);
  // whatever the test's outcome, nothing outlives the file
  register({
    stop: async () => {
      if (alive(redisPid)) process.kill(redisPid, 'SIGKILL');
    },
    killSync: () => {
      if (alive(redisPid)) process.kill(redisPid, 'SIGKILL');
    },
  });
  expect(guarded).toBe(String(exitWithParent && hasPdeathsig()));
  return { ownerPid: child.pid as number, redisPid, url: `redis://127.0.0.1:${port}` };
}

async function setKey(url: string, key: string, value: string): Promise<void> {
  const c = createClient({ url });
  await c.connect();
  await c.set(key, value);
  c.destroy();
}

/**
 * Starts a server on `dir` (after `before`, which sees it), reads `kept` from
 * it and stops it: what the previous server saved on the way out.
 */
async function keptAtNextStart(
  dir: string,
  before: (next: RedisProcess) => void = () => undefined,
): Promise<string | null> {
  const next = await RedisProcess.start({ dir, aof: false });
  try {
    before(next);
    const c = createClient({ url: next.url });
    await c.connect();
    const v = await c.get('kept');
    c.destroy();
    return v;
  } finally {
    await next.stop();
  }
}

describe('RedisProcess and the death of its owner', () => {
  it('this machine has util-linux setpriv with --pdeathsig (the guard canopy up relies on)', () => {
    expect(hasPdeathsig()).toBe(true);
  });

  it('exitWithParent: kill -9 of the owner → the server saves and exits; its data is there at the next start', async () => {
    const dir = tempDir('canopy-redis-owner-');
    const { ownerPid, redisPid, url } = await owner(dir, true);
    await setKey(url, 'kept', 'yes');
    process.kill(ownerPid, 'SIGKILL');
    await until(() => !alive(redisPid), 10_000, 'the orphaned Redis to exit');
    expect(fs.readFileSync(path.join(dir, 'redis.log'), 'utf8')).toMatch(/DB saved on disk/);
    expect(fs.existsSync(path.join(dir, 'redis.pid'))).toBe(false); // removed by a clean shutdown
    expect(await keptAtNextStart(dir)).toBe('yes');
  });

  it('without the guard a killed owner leaves its server running; the next start on the directory stops it (saved) first', async () => {
    const dir = tempDir('canopy-redis-stale-');
    const { ownerPid, redisPid, url } = await owner(dir, false);
    await setKey(url, 'kept', 'yes');
    process.kill(ownerPid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 500));
    expect(alive(redisPid)).toBe(true); // orphaned, still writing to dir
    const kept = await keptAtNextStart(dir, (next) => {
      expect(alive(redisPid)).toBe(false);
      expect(next.pid).not.toBe(redisPid);
    });
    expect(kept).toBe('yes');
  });

  it('a pid file naming a process that is not a Redis server on this directory is left alone', async () => {
    const dir = tempDir('canopy-redis-pidfile-');
    // a live process that is not redis-server
    fs.writeFileSync(path.join(dir, 'redis.pid'), `${process.pid}\n`);
    expect(await stopStaleServer(dir)).toBeUndefined();
    // a Redis server, but on another directory
    const other = await RedisProcess.start({ dir: tempDir('canopy-redis-other-'), aof: false });
    try {
      fs.writeFileSync(path.join(dir, 'redis.pid'), `${other.pid}\n`);
      expect(await stopStaleServer(dir)).toBeUndefined();
      expect(other.running).toBe(true);
      // garbage and a dead pid
      fs.writeFileSync(path.join(dir, 'redis.pid'), 'not a pid\n');
      expect(await stopStaleServer(dir)).toBeUndefined();
      fs.writeFileSync(path.join(dir, 'redis.pid'), '999999999\n');
      expect(await stopStaleServer(dir)).toBeUndefined();
    } finally {
      await other.stop();
    }
  });

  it('a left-behind server that ignores SIGTERM (it cannot save: a full disk) is killed after the grace', async () => {
    const dir = tempDir('canopy-redis-stuck-');
    // a process whose name is redis-server (node under that name), on this directory, deaf to SIGTERM
    const bin = path.join(tempDir('canopy-redis-bin-'), 'redis-server');
    fs.symlinkSync(process.execPath, bin);
    const stuck = spawn(
      bin,
      ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"],
      {
        cwd: dir,
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    register({ stop: async () => void stuck.kill('SIGKILL'), killSync: () => stuck.kill('SIGKILL') });
    await new Promise<void>((resolve) => stuck.stdout.once('data', () => resolve()));
    const exited = new Promise<NodeJS.Signals | null>((r) => stuck.once('exit', (_code, sig) => r(sig)));
    fs.writeFileSync(path.join(dir, 'redis.pid'), `${stuck.pid}\n`);
    expect(await stopStaleServer(dir, 300)).toBe(stuck.pid);
    expect(await exited).toBe('SIGKILL');
  });
});
