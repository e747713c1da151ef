import { spawn } from 'node:child_process';
import { spawnSync } from '../../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import { withTransferTimeout } from '../../../src/hw/i2c.js';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { start, type AutomationHandle } from '../../../src/services/automation/index.js';
import { ControlWatchdog, type WatchdogSink } from '../../../src/services/automation/watchdog.js';
import type { Logger } from '../../../src/util/log.js';
import { register } from '../../support/cleanup.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { until, writeDevices } from './helpers.js';

const CLI = path.resolve('dist/src/cli/main.js');
const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;

function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', ...extra };
  for (const k of ['INVOCATION_ID', 'NODE_ENV', 'CANOPY_I2C', 'CANOPY_WATCHDOG_MS']) if (!(k in extra)) delete env[k];
  return env;
}

describe('ControlWatchdog', () => {
  it('pings only while control cycles complete, and says READY=1 first and STOPPING=1 last', async () => {
    const sent: string[] = [];
    const sink: WatchdogSink = { name: 'test', intervalMs: 20, send: async (s) => void sent.push(s) };
    const wd = new ControlWatchdog([sink, undefined], { stallMs: 200 }, log);
    expect(wd.sinks).toEqual(['test']);
    const cycles = setInterval(() => wd.progress(), 10);
    wd.ready();
    await until(() => sent.filter((s) => s === 'WATCHDOG=1').length >= 3, 'pings while cycles complete');
    expect(sent[0]).toBe('READY=1');
    clearInterval(cycles); // the loop stops completing cycles
    await until(() => wd.stats.withheld >= 3, 'pings withheld once the last cycle is older than stallMs');
    const pings = sent.length;
    await until(() => wd.stats.withheld >= 6, 'still withheld');
    expect(sent.length).toBe(pings);
    wd.progress(); // progress again: pings again
    await until(() => sent.length > pings, 'pings resume');
    wd.stop();
    expect(sent.at(-1)).toBe('STOPPING=1');
    expect(() => new ControlWatchdog([], { stallMs: 0 }, log)).toThrow(RangeError);
  });
});

describe('the automation watchdog', () => {
  let redis: TestRedis;
  let handle: AutomationHandle | undefined;

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await handle?.stop();
  });

  it('stops vouching for the loop while a relay write hangs on the bus, and vouches again once it fails over', async () => {
    const sim = new Mcp23017Simulator({ addresses: [0x20, 0x21] });
    handle = await start({
      devicesFile: writeDevices(),
      bus: withTransferTimeout(sim, 1500),
      store: null,
      redisUrl: redis.url,
      tickMs: 50,
      stallMs: 1000,
      logger: log,
      env: {},
    });
    await until(() => handle!.watchdog.healthy(), 'healthy after start');
    // the next three transfers (every attempt of the next write) never complete
    sim.injectFault({ op: 'any', hang: true, count: 3 });
    const { Connection } = await import('../../../src/bus/connection.js');
    const conn = await Connection.connect({ url: redis.url });
    await conn.run('PUBLISH', (c) =>
      c.xAdd('actuators:commands', '*', {
        command: JSON.stringify({ device: 'lights_f', state: 1, mode: 'manual', by: 'erin' }),
      }),
    );
    await until(() => !handle!.watchdog.healthy(), 'unhealthy while the write hangs', 15_000);
    // each attempt times out (HW_TIMEOUT) and the driver retries on a working bus: progress resumes
    await until(() => handle!.watchdog.healthy(), 'healthy again', 30_000);
    await until(() => sim.output(0x20, 'A', 1) === 1, 'lights on after the hang');
    await conn.close();
    await handle.stop();
    handle = undefined;
  });

  it('under systemd (NOTIFY_SOCKET) says READY=1 through systemd-notify, then WATCHDOG=1 every half WATCHDOG_USEC', async () => {
    const dir = tempDir();
    const devices = writeDevices(dir);
    const bin = path.join(dir, 'bin');
    fs.mkdirSync(bin);
    const got = path.join(dir, 'notify.log');
    fs.writeFileSync(path.join(bin, 'systemd-notify'), `#!/bin/sh\necho "$NOTIFY_SOCKET $*" >> '${got}'\n`, {
      mode: 0o755,
    });
    const child = spawn(process.execPath, [CLI, 'automation', '--devices', devices, '--i2c', `sim:${dir}/mcp.json`], {
      env: cleanEnv({
        REDIS_URL: redis.url,
        CANOPY_DATA_DIR: dir,
        NOTIFY_SOCKET: '/run/systemd/notify-test',
        WATCHDOG_USEC: '400000',
        PATH: `${bin}:${process.env.PATH}`,
      }),
      stdio: 'ignore',
    });
    register({
      stop: async () => void (child.exitCode === null && child.kill('SIGKILL')),
      killSync: () => void (child.exitCode === null && child.kill('SIGKILL')),
    });
    const lines = () => (fs.existsSync(got) ? fs.readFileSync(got, 'utf8').trim().split('\n') : []);
    await until(() => lines().filter((l) => l.endsWith(' WATCHDOG=1')).length >= 3, 'pings', 30_000);
    expect(lines()[0]).toBe('/run/systemd/notify-test --ready');
    const exited = new Promise((r) => child.once('exit', (c) => r(c)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    await until(() => lines().at(-1)?.endsWith('STOPPING=1'), 'STOPPING=1 on a clean stop');
  });

  it('--safe-state works from the last good configuration when devices.yaml has been broken since', async () => {
    const dir = tempDir();
    const devices = writeDevices(dir);
    const simFile = path.join(dir, 'mcp.json');
    const child = spawn(process.execPath, [CLI, 'automation', '--devices', devices, '--i2c', `sim:${simFile}`], {
      env: cleanEnv({ REDIS_URL: redis.url, CANOPY_DATA_DIR: dir }),
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    await until(() => out.includes('under control'), 'running', 30_000);
    expect(fs.readFileSync(path.join(dir, 'devices.last-good.yaml'), 'utf8')).toBe(fs.readFileSync(devices, 'utf8'));
    const { Connection } = await import('../../../src/bus/connection.js');
    const conn = await Connection.connect({ url: redis.url });
    await conn.run('PUBLISH', (c) =>
      c.xAdd('actuators:commands', '*', {
        command: JSON.stringify({ device: 'lights_f', state: 1, mode: 'manual', by: 'erin' }),
      }),
    );
    const lights = () => new Mcp23017Simulator({ addresses: [0x20, 0x21], stateFile: simFile }).output(0x20, 'A', 1);
    await until(() => lights() === 1, 'lights on');
    await conn.close();
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    fs.writeFileSync(devices, 'devices:\n  - { name: broken'); // someone is editing it
    const r = spawnSync(
      process.execPath,
      [CLI, 'automation', '--safe-state', '--devices', devices, '--i2c', `sim:${simFile}`],
      {
        encoding: 'utf8',
        env: cleanEnv({ CANOPY_DATA_DIR: dir }),
      },
    );
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/used the last good configuration .*devices\.last-good\.yaml/);
    expect(r.stdout).toMatch(/5 device\(s\): every output in its safe state/);
    expect(lights()).toBe(0);
    // without a last good copy it fails loudly instead
    fs.rmSync(path.join(dir, 'devices.last-good.yaml'));
    const r2 = spawnSync(
      process.execPath,
      [CLI, 'automation', '--safe-state', '--devices', devices, '--i2c', `sim:${simFile}`],
      {
        encoding: 'utf8',
        env: cleanEnv({ CANOPY_DATA_DIR: dir }),
      },
    );
    expect(r2.status).toBe(1);
  });
});
