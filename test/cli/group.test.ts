import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../src/bus/connection.js';
import { listInstances } from '../../src/bus/presence.js';
import { parseGroup, stopMembers, type GroupMember } from '../../src/cli/commands/group.js';
import type { Logger } from '../../src/util/log.js';
import { heartbeatServices, upServices } from '../../src/ops/services-list.js';
import { packageRoot } from '../../src/services/api/options.js';
import { freePort } from '../../src/ops/ports.js';
import { register } from '../support/cleanup.js';
import { startRedis, type TestRedis } from '../support/redis.js';
import { spawnSync } from '../support/run-sync.js';
import { tempDir } from '../support/tmp.js';

const CLI = path.join(packageRoot(), 'dist', 'src', 'cli', 'main.js');

describe('canopy group: light services in one process', () => {
  let redis: TestRedis;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('canopy up runs alerts, recorder and analytics as one group process unless told otherwise; every child has a capped young generation', () => {
    const grouped = upServices();
    expect(grouped.filter((s) => s.args[0] === 'group')).toEqual([
      {
        name: 'alerts+recorder+analytics',
        args: ['group', 'alerts,recorder,analytics'],
        nodeArgs: ['--max-semi-space-size=1'],
      },
    ]);
    expect(grouped.map((s) => s.args[0])).not.toContain('alerts');
    const separate = upServices({ group: false });
    expect(separate.map((s) => s.args[0])).toEqual(expect.arrayContaining(['alerts', 'recorder', 'analytics']));
    expect(separate.map((s) => s.args[0])).not.toContain('group');
    for (const s of [...grouped, ...separate]) expect(s.nodeArgs?.[0], s.name).toMatch(/^--max-semi-space-size=[12]$/);
    // canopy doctor expects the heartbeats of the services inside the group, one by one
    expect(heartbeatServices(grouped).sort()).toEqual(heartbeatServices(separate).sort());
    expect(heartbeatServices(upServices({ workers: 3 }))).toEqual(
      expect.arrayContaining(['worker', 'alerts', 'recorder']),
    );
    expect(heartbeatServices(upServices({ workers: 3 }))).not.toContain('worker-1');
  });

  it('parses names given as words or a comma list, once each, and refuses services that must keep their own process', () => {
    expect(parseGroup(['alerts,recorder', 'analytics', 'alerts'])).toEqual(['alerts', 'recorder', 'analytics']);
    for (const bad of [['automation'], ['api'], ['worker'], ['alerts,scanner'], [',']]) {
      expect(() => parseGroup(bad)).toThrow(/cannot run in a group|at least one/);
    }
  });

  /** `canopy <args>` on `redisUrl` with its own data directory and SQLite file; JSON logs captured. */
  function startCanopy(
    args: string[],
    redisUrl: string,
    logLevel = 'warn',
  ): { child: ChildProcess; stderr: () => string; stdout: () => string } {
    const dir = tempDir();
    const child: ChildProcess = spawn(process.execPath, [CLI, ...args], {
      env: {
        ...process.env,
        REDIS_URL: redisUrl,
        CANOPY_DATA_DIR: dir,
        DATABASE_URL: `sqlite:${path.join(dir, 'canopy.db')}`,
        LOG_LEVEL: logLevel,
        LOG_FORMAT: 'json',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    let out = '';
    child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    register({ stop: async () => void child.kill('SIGKILL'), killSync: () => child.kill('SIGKILL') });
    return { child, stderr: () => err, stdout: () => out };
  }

  const startGroupProcess = (redisUrl = redis.url, services = ['alerts,recorder,analytics']) =>
    startCanopy(['group', ...services], redisUrl);

  const servicesOf = async (conn: Connection, pid: number | undefined) =>
    (await listInstances(conn))
      .filter((i) => i.info?.pid === pid)
      .map((i) => i.info?.service)
      .sort();

  it('runs alerts, recorder and analytics in one process, each with its own heartbeat, and stops them on SIGTERM', async () => {
    const { child, stderr } = startGroupProcess();
    const conn = await Connection.connect({ url: redis.url });
    try {
      await expect
        .poll(() => servicesOf(conn, child.pid), { timeout: 45_000, interval: 250 })
        .toEqual(['alerts', 'analytics', 'recorder']);
      const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exit, stderr()).toBe(0);
      expect(await servicesOf(conn, child.pid)).toEqual([]);
    } finally {
      await conn.close();
    }
  });

  it('a SIGTERM while the group is still starting stops what started and what was starting: a clean exit 0, no heartbeat left', async () => {
    const { child, stderr } = startGroupProcess();
    const conn = await Connection.connect({ url: redis.url });
    try {
      // the first heartbeat: the process is starting its services, and later ones are not up yet
      await expect
        .poll(async () => (await servicesOf(conn, child.pid)).length, { timeout: 45_000, interval: 20 })
        .toBeGreaterThan(0);
      const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      expect(await exit, stderr()).toBe(0);
      expect(await servicesOf(conn, child.pid)).toEqual([]);
    } finally {
      await conn.close();
    }
  });

  it('a hang-up (SIGHUP, a dropped SSH session) stops every service cleanly: no heartbeat left, ended by SIGHUP', async () => {
    const { child, stderr } = startGroupProcess();
    const conn = await Connection.connect({ url: redis.url });
    try {
      await expect
        .poll(async () => (await servicesOf(conn, child.pid)).length, { timeout: 45_000, interval: 50 })
        .toBe(3);
      const exit = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_code, sig) => r(sig)));
      child.kill('SIGHUP');
      // stopped first (heartbeats deleted), then it dies of the hang-up as a hung-up program does
      expect(await exit, stderr()).toBe('SIGHUP');
      expect(await servicesOf(conn, child.pid)).toEqual([]);
    } finally {
      await conn.close();
    }
  });

  it('a SIGTERM while a service waits for a Redis that is not there ends the start: exit 0 within the stop bound, not never', async () => {
    // nothing listens there: the first service retries its connection for as long as it takes
    const { child, stderr, stdout } = startGroupProcess(`redis://127.0.0.1:${await freePort()}`);
    await expect.poll(() => stderr(), { timeout: 30_000, interval: 50 }).toMatch(/Redis not reachable/);
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    // before, the start held the signal until Redis came back: this waited forever
    expect(await exit, stderr()).toBe(0);
    // and the stop ends the start's connect retries: nothing is left waiting out the group's stop bound
    expect(stdout() + stderr()).not.toMatch(/was still starting/);
  }, 60_000);

  it('with Redis gone (kill -9), a SIGTERM stops worker, automation and alerts without waiting for it: none runs into the stop bound', async () => {
    const own = await startRedis();
    const { child, stderr, stdout } = startGroupProcess(own.url, ['worker,automation,alerts', '--compact']);
    const conn = await Connection.connect({ url: own.url });
    try {
      await expect
        .poll(() => servicesOf(conn, child.pid), { timeout: 60_000, interval: 250 })
        .toEqual(['alerts', 'automation', 'worker']);
    } finally {
      await conn.close();
    }
    await own.kill();
    await expect.poll(() => stdout() + stderr(), { timeout: 30_000, interval: 100 }).toMatch(/cannot reach Redis/);
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    expect(await exit, stderr()).toBe(0);
    // before, each waited out one command timeout after another until the group's bound cut it off
    expect(stdout() + stderr()).not.toMatch(/did not stop in time/);
  }, 120_000);

  it.each(['alerts', 'worker'])(
    'canopy %s on its own, asked to stop while it waits for Redis at start, ends its retries: "stopped while starting", exit 0',
    async (service) => {
      const { child, stdout, stderr } = startCanopy([service], `redis://127.0.0.1:${await freePort()}`, 'info');
      const out = () => stdout() + stderr();
      await expect.poll(out, { timeout: 30_000, interval: 50 }).toMatch(/Redis not reachable yet/);
      const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      child.kill('SIGTERM');
      // before, the retries went on (30 attempts, up to 5 s apart) until the 25-s hard bound exited 1:
      // under systemd, a unit stopped while Redis was down ended "failed"
      expect(await exit, out()).toBe(0);
      expect(out()).toMatch(/stopped while starting/);
      expect(out()).not.toMatch(/did not stop within/);
    },
    60_000,
  );

  it('stops every member at once; one whose stop hangs or fails is logged by name and the others do not wait', async () => {
    const logged: string[] = [];
    const order: string[] = [];
    const member = (name: string, stop: () => Promise<void>): GroupMember => ({
      name,
      handle: { stop },
      log: {
        error: (_o: unknown, msg: string) => logged.push(msg),
        debug: () => undefined,
      } as unknown as Logger,
    });
    const members = [
      member('automation', async () => void order.push('automation')),
      member('worker', () => new Promise<void>(() => undefined)), // waits on a Redis that is gone, forever
      member('api', async () => {
        throw new Error('socket gone');
      }),
      member('scanner', () => new Promise<void>((r) => setTimeout(() => r(void order.push('scanner')), 50))),
    ];
    await stopMembers(members, 300); // resolves although the worker's stop never does
    expect(order).toEqual(['automation', 'scanner']);
    expect(logged.sort()).toEqual([
      'api did not stop cleanly',
      'worker did not stop in time; the others go on without it',
    ]);
  });

  it('refuses a service that cannot be grouped with a one-line error and exit 1, starting nothing', () => {
    const r = spawnSync(process.execPath, [CLI, 'group', 'alerts,automation'], {
      env: { ...process.env, REDIS_URL: redis.url, CANOPY_DATA_DIR: tempDir() },
      encoding: 'utf8',
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/"automation" cannot run in a group/);
  });
});
