import { spawn, type ChildProcess } from 'node:child_process';
import { spawnSync } from '../../support/run-sync.js';
import fs from 'node:fs';
import path from 'node:path';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { upServices } from '../../../src/ops/services-list.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { sendCommand, until, writeDevices } from './helpers.js';

const CLI = path.resolve('dist/src/cli/main.js');

/** The "hardware" as another process left it: the simulator's register file. */
function hw(file: string) {
  const sim = new Mcp23017Simulator({ addresses: [0x20, 0x21], stateFile: file });
  return { heater: sim.output(0x20, 'A', 0), lights: sim.output(0x20, 'A', 1), fan: sim.output(0x20, 'B', 0) };
}

describe('canopy automation as a process', () => {
  let redis: TestRedis;
  let dir: string;
  let devices: string;
  let simFile: string;
  let cli: RedisClientType;
  const children: ChildProcess[] = [];

  const spawnAutomation = () => {
    const child = spawn(process.execPath, [CLI, 'automation', '--devices', devices, '--i2c', `sim:${simFile}`], {
      env: { ...process.env, REDIS_URL: redis.url, CANOPY_DATA_DIR: dir, LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(child);
    let out = '';
    let err = '';
    child.stderr!.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-4000)));
    const running = new Promise<void>((resolve) =>
      child.stdout!.on('data', (b: Buffer) => {
        out += b.toString();
        if (out.includes('under control')) resolve();
      }),
    );
    return Object.assign(child, { running, stderr: () => err });
  };

  beforeAll(async () => {
    redis = await startRedis();
    dir = tempDir();
    devices = writeDevices(dir);
    simFile = path.join(dir, 'mcp.json');
    cli = createClient({ url: redis.url });
    await cli.connect();
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await cli?.close();
  });

  it('when killed with SIGKILL its outputs stay put, and --safe-state (ExecStopPost, watchdog) drives them safe', async () => {
    const child = spawnAutomation();
    await child.running;
    expect(await cli.keys(`heartbeat:*:automation:${child.pid}`)).toHaveLength(1);
    expect(hw(simFile)).toEqual({ heater: 1, lights: 0, fan: 1 });
    await sendCommand(cli, { device: 'lights_f', state: 1, mode: 'manual', by: 'erin' });
    await until(() => fs.existsSync(simFile) && hw(simFile).lights === 1, 'lights on');
    const saved = JSON.parse((await cli.hGet('automation:state', 'lights_f')) ?? '{}') as { mode?: string };
    expect(saved.mode).toBe('manual'); // persisted before the relay moved
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGKILL');
    await exited;
    expect(hw(simFile).lights).toBe(1); // a dead process switches nothing …
    const r = spawnSync(
      process.execPath,
      [CLI, 'automation', '--safe-state', '--devices', devices, '--i2c', `sim:${simFile}`],
      {
        encoding: 'utf8',
        env: { ...process.env, CANOPY_DATA_DIR: dir },
      },
    );
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/5 device\(s\): every output in its safe state/);
    expect(hw(simFile)).toEqual({ heater: 1, lights: 0, fan: 1 }); // … the one-shot does
  });

  it('a clean stop (SIGTERM) also leaves every output safe; a restart restores the manual mode', async () => {
    const child = spawnAutomation();
    await child.running;
    await until(() => hw(simFile).lights === 1, 'persisted manual on restored');
    const code = new Promise((r) => child.once('exit', (c, sig) => r(`${c} ${sig}`)));
    child.kill('SIGTERM');
    const got = await code;
    if (got !== '0 null') console.log(child.stderr());
    expect(got).toBe('0 null');
    expect(hw(simFile)).toEqual({ heater: 1, lights: 0, fan: 1 });
  });

  it('refuses a bad devices file at start with every problem listed', () => {
    const bad = path.join(dir, 'bad.yaml');
    fs.writeFileSync(
      bad,
      'devices:\n  - { name: x, location: L, cluster: c, kind: k, safeState: 0, output: { address: 0x30, port: A, pin: 9 } }\n',
    );
    const r = spawnSync(process.execPath, [CLI, 'automation', '--devices', bad, '--i2c', 'sim'], {
      encoding: 'utf8',
      env: { ...process.env, REDIS_URL: redis.url },
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/devices\[0\] \(x\)\.output\.address must be <= 39/);
    expect(r.stderr).toMatch(/devices\[0\] \(x\)\.output\.pin must be <= 7/);
  });

  it('canopy up runs it with a watchdog that drives safe states when it crashes', () => {
    const entry = upServices().find((s) => s.name === 'automation');
    expect(entry).toMatchObject({ name: 'automation', args: ['automation'], onCrash: ['automation', '--safe-state'] });
  });
});
