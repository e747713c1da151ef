import { spawn, type ChildProcess } from 'node:child_process';
import { spawnSync } from '../../support/run-sync.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { RelayBusFileLock, RelayBusLockedError } from '../../../src/services/automation/lock.js';
import { relayBusId } from '../../../src/services/automation/relay-bus.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { until, writeDevices } from './helpers.js';

const CLI = path.resolve('dist/src/cli/main.js');

/** The test runner's environment without anything that would make the CLI think it runs on a real install. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', ...extra };
  for (const k of ['INVOCATION_ID', 'NODE_ENV', 'CANOPY_I2C', 'CANOPY_ALLOW_SIMULATED_RELAYS', 'NOTIFY_SOCKET']) {
    if (!(k in extra)) delete env[k];
  }
  return env;
}

const lights = (simFile: string) =>
  new Mcp23017Simulator({ addresses: [0x20, 0x21], stateFile: simFile }).output(0x20, 'A', 1);

describe('relay bus selection on a real install', () => {
  it('refuses to start under systemd or NODE_ENV=production unless CANOPY_I2C is set, saying what to set', () => {
    const dir = tempDir();
    const devices = writeDevices(dir);
    for (const marker of [{ INVOCATION_ID: 'abc123' }, { NODE_ENV: 'production' }]) {
      for (const args of [[], ['--safe-state']]) {
        const r = spawnSync(process.execPath, [CLI, 'automation', '--devices', devices, ...args], {
          encoding: 'utf8',
          env: cleanEnv({ ...marker, CANOPY_DATA_DIR: dir, REDIS_URL: 'redis://127.0.0.1:1' }),
          timeout: 30_000,
        });
        expect(r.status, r.stderr).toBe(2);
        const line = r.stderr.trim().split('\n').at(-1)!;
        expect(line).toMatch(
          /^canopy automation( --safe-state)?: no relay bus chosen (under systemd|with NODE_ENV=production): set CANOPY_I2C=1 /,
        );
      }
    }
    // nothing was simulated either: no register file appeared
    expect(fs.existsSync(path.join(dir, 'mcp23017-sim.json'))).toBe(false);
  });

  it('refuses the simulated chip there unless CANOPY_ALLOW_SIMULATED_RELAYS=1', () => {
    const dir = tempDir();
    const devices = writeDevices(dir);
    const r = spawnSync(process.execPath, [CLI, 'automation', '--devices', devices], {
      encoding: 'utf8',
      env: cleanEnv({ INVOCATION_ID: 'abc', CANOPY_I2C: `sim:${dir}/mcp.json`, CANOPY_DATA_DIR: dir }),
      timeout: 30_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(
      /is the simulated relay chip, refused under systemd: set CANOPY_I2C=1 .*CANOPY_ALLOW_SIMULATED_RELAYS=1/,
    );
    expect(fs.existsSync(path.join(dir, 'mcp.json'))).toBe(false);
  });
});

describe('one automation per relay bus', () => {
  let redis: TestRedis;
  let cli: RedisClientType;
  const children: ChildProcess[] = [];

  const spawnAutomation = (dataDir: string, devices: string, simFile: string, extra: NodeJS.ProcessEnv = {}) => {
    const child = spawn(process.execPath, [CLI, 'automation', '--devices', devices, '--i2c', `sim:${simFile}`], {
      env: cleanEnv({ REDIS_URL: redis.url, CANOPY_DATA_DIR: dataDir, ...extra }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-8000)));
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    return Object.assign(child, { out: () => out, err: () => err, exited });
  };

  beforeAll(async () => {
    redis = await startRedis();
    cli = createClient({ url: redis.url });
    await cli.connect();
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await cli?.close();
  });

  it('a second process on the same bus is refused by the lock file, naming the running one, and touches no relay', async () => {
    const dir = tempDir();
    const devices = writeDevices(dir);
    const simFile = path.join(dir, 'mcp.json');
    const a = spawnAutomation(dir, devices, simFile, {
      CANOPY_I2C: '',
      INVOCATION_ID: 'unit-a',
      CANOPY_ALLOW_SIMULATED_RELAYS: '1',
    });
    await until(() => a.out().includes('under control'), 'first automation running', 30_000);
    expect(a.out()).toMatch(/relays SIMULATED/);
    const beat = await until(async () => (await cli.keys(`heartbeat:*:automation:${a.pid}`))[0], 'heartbeat');
    expect(JSON.parse((await cli.get(beat))!)).toMatchObject({ simulatedRelays: true });
    await cli.xAdd('actuators:commands', '*', {
      command: JSON.stringify({ device: 'lights_f', state: 1, mode: 'manual', by: 'erin' }),
    });
    await until(() => lights(simFile) === 1, 'lights on');
    const lock = path.join(dir, `relay-bus-${relayBusId(`sim:${simFile}`)}.lock`);
    expect(JSON.parse(fs.readFileSync(lock, 'utf8'))).toMatchObject({ pid: a.pid, host: os.hostname() });

    const b = spawnAutomation(dir, devices, simFile);
    expect(await b.exited).toBe(1);
    expect(b.err()).toMatch(
      new RegExp(
        `canopy automation: relay bus sim-\\w+ is already controlled by canopy automation pid ${a.pid} on host `,
      ),
    );
    expect(lights(simFile)).toBe(1); // the refused one never initialised the chips
    expect(a.exitCode).toBeNull();

    // a clean stop releases the lock and the lease
    a.kill('SIGTERM');
    expect(await a.exited).toBe(0);
    expect(fs.existsSync(lock)).toBe(false);
    expect(await cli.keys('automation:lease:*')).toEqual([]);
  });

  it('a second process with another data directory is refused by the Redis lease, naming the holder', async () => {
    const dirA = tempDir();
    const dirB = tempDir();
    const devices = writeDevices(dirA);
    const simFile = path.join(dirA, 'mcp.json');
    const a = spawnAutomation(dirA, devices, simFile);
    await until(() => a.out().includes('under control'), 'first automation running', 30_000);
    await cli.xAdd('actuators:commands', '*', {
      command: JSON.stringify({ device: 'lights_f', state: 1, mode: 'manual', by: 'erin' }),
    });
    await until(() => lights(simFile) === 1, 'lights on');
    const key = `automation:lease:${relayBusId(`sim:${simFile}`)}`;
    const holder = JSON.parse((await cli.get(key))!) as { pid: number; host: string; instance: string };
    expect(holder).toMatchObject({ pid: a.pid, host: os.hostname(), instance: `${os.hostname()}:automation:${a.pid}` });
    expect(await cli.pTTL(key)).toBeGreaterThan(0);

    const b = spawnAutomation(dirB, devices, simFile);
    expect(await b.exited).toBe(1);
    expect(b.err()).toMatch(
      new RegExp(`already controlled by canopy automation pid ${a.pid} on host .*Redis lease ${key}`),
    );
    expect(lights(simFile)).toBe(1); // refused before touching any relay
    // the lock file of the refused one is gone again
    expect(fs.readdirSync(dirB).filter((f) => f.endsWith('.lock'))).toEqual([]);

    // kill -9: the lock file and the lease stay behind, but a new start takes both over (the holder is gone)
    a.kill('SIGKILL');
    await a.exited;
    const c = spawnAutomation(dirA, devices, simFile);
    await until(() => c.out().includes('under control'), 'restarted automation running', 30_000);
    expect(JSON.parse((await cli.get(key))!)).toMatchObject({ pid: c.pid });
    c.kill('SIGTERM');
    expect(await c.exited).toBe(0);
  });

  it('the lock file is exclusive within one process tree too, and a stale one (dead pid) is taken over', () => {
    const dir = tempDir();
    const first = RelayBusFileLock.acquire(dir, 'i2c-7');
    // our own pid holds it: a lock file naming a *live other* process refuses
    const other = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)'], { stdio: 'ignore' });
    children.push(other);
    const file = first.file;
    fs.writeFileSync(file, JSON.stringify({ ...first.holder, pid: other.pid, startTicks: null }));
    expect(() => RelayBusFileLock.acquire(dir, 'i2c-7')).toThrow(RelayBusLockedError);
    other.kill('SIGKILL');
    const dead = other.pid!;
    return new Promise<void>((resolve) => other.once('exit', () => resolve())).then(() => {
      expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(dead);
      const again = RelayBusFileLock.acquire(dir, 'i2c-7');
      expect(JSON.parse(fs.readFileSync(file, 'utf8')).pid).toBe(process.pid);
      again.release();
      expect(fs.existsSync(file)).toBe(false);
    });
  });
});
