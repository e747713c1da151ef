/**
 * `canopy up` when its terminal goes away or it is killed outright — the SSH
 * session to the Pi that drops, the OOM killer. A hang-up (SIGHUP, from a real
 * pseudo-terminal closing under `script`) stops every service and Redis in
 * order, as Ctrl+C does; a kill -9 of `canopy up` takes its Redis down with it
 * (saved), and the next `canopy up` gets the same port back and stops on a
 * SIGTERM sent right as its start finishes.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../../src/ops/ports.js';
import { register } from '../support/cleanup.js';
import { tempDir } from '../support/tmp.js';
import { alive, spawnWatched, until } from './proc.js';

const CLI = path.resolve('dist/src/cli/main.js');
const ENV = { DATABASE_URL: '', REDIS_URL: '', LOG_LEVEL: 'warn' };

/** pids of `canopy up` (its own) and of what it started, from its output. */
function pidsOf(log: string): { redis: number; group: number } {
  const redis = Number(/^Redis started on .* \(pid (\d+)/m.exec(log)?.[1]);
  const group = Number(/^\S+ started \(pid (\d+)\)/m.exec(log.replace(/^Redis started.*$/m, ''))?.[1]);
  return { redis, group };
}

/** The pid of the process whose command line ends with `tail`. */
function pidByCommand(tail: string): number | undefined {
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      if (cmd.endsWith(tail) && !cmd.includes('script')) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

function killOnCleanup(...pids: number[]): void {
  const kill = () => {
    for (const p of pids) if (p > 0 && alive(p)) process.kill(p, 'SIGKILL');
  };
  register({ stop: async () => kill(), killSync: kill });
}

describe('canopy up: hang-up and kill -9', () => {
  it('a terminal hang-up stops every service and Redis cleanly (no crash at exit)', async () => {
    const dir = tempDir('canopy-hangup-');
    const log = path.join(dir, 'up.log');
    const port = await freePort();
    const tail = `up --compact --redis-port ${port}`;
    // `script` gives canopy up a real pseudo-terminal; killing script closes its master side: the kernel hangs up
    const term = spawn('script', ['-qfec', `'${process.execPath}' '${CLI}' ${tail} > '${log}' 2>&1`, '/dev/null'], {
      env: {
        ...process.env,
        ...ENV,
        CANOPY_DATA_DIR: path.join(dir, 'data'),
        CANOPY_API_PORT: String(await freePort()),
      },
      stdio: 'ignore',
    });
    killOnCleanup(term.pid as number);
    const read = () => (fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '');
    await until(() => /^Canopy is up/m.test(read()), 90_000, 'canopy up to start');
    const up = pidByCommand(tail) as number;
    const { redis, group } = pidsOf(read());
    killOnCleanup(up, redis, group);
    expect([up, redis, group].every((p) => p > 0 && alive(p))).toBe(true);

    process.kill(term.pid as number, 'SIGKILL');
    await until(() => /^all stopped$/m.test(read()), 60_000, `canopy up to stop; its output:\n${read()}`);
    const out = read();
    expect(out).toMatch(/^SIGHUP: stopping every service/m);
    expect(out).toMatch(/^Redis stopped$/m);
    // Node's exit would have asserted on the vanished terminal: no crash report after the stop
    expect(out).not.toMatch(/Assertion failed|Native stack trace/);
    await until(() => ![up, redis, group].some(alive), 10_000, 'every process to end');
    expect(fs.readFileSync(path.join(dir, 'data', 'redis', 'redis.log'), 'utf8')).toMatch(/DB saved on disk/);
  }, 180_000);

  it('kill -9 of canopy up: its Redis saves and exits; the next start gets the same port and stops on SIGTERM', async () => {
    const dir = tempDir('canopy-kill9-');
    const port = await freePort();
    const env = { ...ENV, CANOPY_DATA_DIR: dir, CANOPY_API_PORT: String(await freePort()) };
    const first = spawnWatched(process.execPath, [CLI, 'up', '--compact', '--redis-port', String(port)], env);
    await first.waitFor(/^Canopy is up/, 90_000);
    const { redis, group } = pidsOf(first.lines.join('\n'));
    killOnCleanup(redis, group);
    first.child.kill('SIGKILL');
    await until(() => !alive(redis), 10_000, 'the managed Redis to exit with canopy up');
    expect(fs.readFileSync(path.join(dir, 'redis', 'redis.log'), 'utf8')).toMatch(/DB saved on disk/);
    // its service process notices the supervisor is gone (SIGTERM to itself) and stops without its Redis:
    // under a second here (its connections fail fast once the stop begins, a start under way ends its
    // Redis waits); 10 s before, as some service always waited out the group's bound. 25 s is the hard bound.
    await until(() => !alive(group), 30_000, 'the orphaned service process to stop');

    const second = spawnWatched(process.execPath, [CLI, 'up', '--compact', '--redis-port', String(port)], env);
    await second.waitFor(/^Canopy is up/, 90_000);
    expect(second.lines.join('\n')).toContain(`Redis started on redis://127.0.0.1:${port} `);
    expect(second.lines.some((l) => /is taken/.test(l))).toBe(false);
    second.child.kill('SIGTERM');
    await second.waitFor(/^all stopped$/, 60_000);
    expect(await second.exited).toEqual({ code: 0, signal: null });
  }, 240_000);
});
