/**
 * `canopy scanner` as a real process under libfaketime, against a real Redis
 * on the real clock. The scanner gives its entries their stream ids itself
 * (`<ms>-<seq>` from its wall clock, see src/bus/streams/id-clock.ts); these
 * tests step that clock back, as a Raspberry Pi without a real-time clock
 * does after a reboot until NTP answers, and check that every frame still
 * reaches `can:raw` exactly once.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register } from '../../support/cleanup.js';
import { fakeClock } from '../../support/faketime.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { rawClient, waitFor, type Raw } from './helpers.js';
import { present } from '../../support/narrow.js';

const CLI = path.resolve('dist/src/cli/main.js');
const HOUR_MS = 3_600_000;

interface ScannerRun {
  child: ChildProcess;
  /** Stops the process (SIGTERM) and returns the stats it logged when its source finished. */
  stop: () => Promise<Record<string, number>>;
}

function startScanner(redisUrl: string, env: NodeJS.ProcessEnv = {}): ScannerRun {
  const dir = tempDir();
  const child = spawn(process.execPath, [CLI, 'scanner', '--source', 'sim:200'], {
    env: { ...process.env, REDIS_URL: redisUrl, CANOPY_DATA_DIR: dir, LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const kill = () => void (child.exitCode === null && child.signalCode === null && child.kill('SIGKILL'));
  register({ stop: async () => kill(), killSync: kill });
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  return {
    child,
    stop: async () => {
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exited, out.slice(-3000)).toBe(0);
      const line = out.split('\n').find((l) => l.includes('scanner: source finished'));
      expect(line, out.slice(-3000)).toBeDefined();
      expect(out).not.toMatch(/"level":50/); // nothing logged as an error
      return JSON.parse(line!) as Record<string, number>;
    },
  };
}

const msOf = (id: string) => Number(id.split('-')[0]);

async function lastId(c: Raw): Promise<string> {
  return present(await c.xRevRange('can:raw', '+', '-', { COUNT: 1 }), 'the XREVRANGE reply')[0]!.id;
}

describe('canopy scanner under wall-clock steps (libfaketime, real process)', () => {
  let redis: TestRedis;
  let c: Raw;

  beforeAll(async () => {
    redis = await startRedis();
    c = await rawClient(redis.url);
  });
  afterAll(() => c?.destroy());

  it('started with its clock an hour behind the stream (a Pi without RTC after a reboot): every frame is added once, above the ids already there', async () => {
    await c.del('can:raw');
    const first = startScanner(redis.url);
    await waitFor('frames from the first run', async () => (await c.xLen('can:raw')) >= 50);
    await first.stop();
    const before = await lastId(c);
    const n0 = await c.xLen('can:raw');

    const clock = fakeClock(path.join(tempDir(), 'faketime'), -3600);
    const behind = startScanner(redis.url, clock.env);
    await waitFor('frames from the run an hour behind', async () => (await c.xLen('can:raw')) >= n0 + 200);
    const stats = await behind.stop();

    const added = present(await c.xRange('can:raw', `(${before}`, '+'), 'the XRANGE reply');
    // every frame the scanner read is in the stream, once; nothing left in its spool
    expect(added).toHaveLength(stats.frames!);
    expect(stats).toMatchObject({ spooled: 0, pending: 0, dropped: 0, reassigned: 0 });
    // its first proposals were below the stream's last id: Redis gave others, and the scanner went on above them
    expect(stats.idsMoved).toBeGreaterThanOrEqual(1);
    expect(stats.idsMoved).toBeLessThan(stats.frames!);
    // the frames carry the scanner's clock (an hour behind); their ids are above the first run's
    for (const e of added) {
      expect(Number(e.message.ts)).toBeLessThan(Date.now() - HOUR_MS + 60_000);
      expect(msOf(e.id)).toBeGreaterThanOrEqual(msOf(before));
    }
  });

  it('its clock stepped back an hour while it runs, then forward again: ids keep growing, none is moved, every frame is added once', async () => {
    await c.del('can:raw');
    const clock = fakeClock(path.join(tempDir(), 'faketime'), 0);
    const run = startScanner(redis.url, clock.env);
    await waitFor('frames before the step', async () => (await c.xLen('can:raw')) >= 50);
    const atStep = await lastId(c);
    clock.set(-3600);
    const n1 = await c.xLen('can:raw');
    await waitFor('frames after the step back', async () => (await c.xLen('can:raw')) >= n1 + 150);
    const heldAt = await lastId(c);
    clock.set(0);
    const n2 = await c.xLen('can:raw');
    await waitFor('frames after the step forward', async () => (await c.xLen('can:raw')) >= n2 + 150);
    const stats = await run.stop();

    const all = present(await c.xRange('can:raw', '-', '+'), 'the XRANGE reply');
    expect(all).toHaveLength(stats.frames!);
    expect(stats).toMatchObject({ spooled: 0, pending: 0, dropped: 0, idsMoved: 0, reassigned: 0 });
    const stepped = all.filter((e) => Number(e.message.ts) < Date.now() - HOUR_MS + 60_000);
    expect(stepped.length).toBeGreaterThanOrEqual(100);
    // while the clock was behind, the ids' time stayed where it was (as Redis's own `*` ids do)
    for (const e of stepped) expect(msOf(e.id)).toBeGreaterThanOrEqual(msOf(atStep));
    expect(msOf(heldAt)).toBeLessThan(msOf(atStep) + 60_000);
    // once the clock is right again, the ids follow it
    const last = all[all.length - 1]!;
    expect(Math.abs(msOf(last.id) - Number(last.message.ts))).toBeLessThan(5_000);
    expect(Number(last.message.ts)).toBeGreaterThan(Date.now() - 60_000);
  });
});
