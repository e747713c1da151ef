import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { fakeClock } from '../../support/faketime.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { collect, sendCommand, until } from './helpers.js';

/**
 * `canopy automation` as a real process under libfaketime, whose wall clock
 * (CLOCK_REALTIME only; the monotonic clock is left alone) the test steps
 * through a timestamp file. Redis and the test run on the real clock. Every
 * assertion is on the simulated MCP23017's registers as the process wrote
 * them to its state file.
 */
const CLI = path.resolve('dist/src/cli/main.js');

const HOUR = 3600;
const DAY = 86_400;
const MIN_OFF_S = 3;
const MAX_ON_S = 5;
const STALE_S = 3;
const TTL_S = 4;

/** `HH:MM` in UTC, `minutes` from now. */
function clockIn(minutes: number): string {
  const d = new Date(Date.now() + minutes * 60_000);
  return `${String(d.getUTCHours()).padStart(2, '0')}:${String(d.getUTCMinutes()).padStart(2, '0')}`;
}

/** Lights whose schedule window the step moves the wall clock into (±1 h) or leaves alone (±1 d: same time of day). */
function devicesYaml(stepS: number): string {
  const [on, off] = stepS > 0 ? [clockIn(30), clockIn(90)] : [clockIn(-90), clockIn(-30)];
  return `
timeZone: UTC
safety: { minOnS: 0, minOffS: 0, maxStarts: 0, staleAfterS: ${STALE_S} }
devices:
  - name: heater_f
    location: Flower Room
    cluster: front
    kind: heater
    output: { address: 0x20, port: A, pin: 0, activeLow: true }
    safeState: 0
    safety: { minOnS: 1, minOffS: ${MIN_OFF_S}, maxOnS: ${MAX_ON_S} }
    control: { type: hysteresis, sensor: dry_bulb_f, setpoint: 22, band: 1, action: raise }
  - name: lights_f
    location: Flower Room
    cluster: front
    kind: lights
    output: { address: 0x20, port: A, pin: 1 }
    safeState: 0
    control: { type: schedule, on: '${on}', off: '${off}' }
  - name: pump_f
    location: Flower Room
    cluster: front
    kind: pump
    output: { address: 0x20, port: A, pin: 2 }
    safeState: 0
`;
}

/** The relays as the process left them in the simulator's register file. */
function hw(file: string) {
  if (!fs.existsSync(file)) return { heater: false, lights: false, pump: false };
  const sim = new Mcp23017Simulator({ addresses: [0x20], stateFile: file });
  return {
    heater: sim.output(0x20, 'A', 0) === 0, // active-low
    lights: sim.output(0x20, 'A', 1) === 1,
    pump: sim.output(0x20, 'A', 2) === 1,
  };
}

/** Watches one relay every 25 ms and keeps when it switched (real clock of the test). */
function watch(file: string, which: 'heater' | 'lights' | 'pump') {
  const edges: { on: boolean; at: number }[] = [];
  let last: boolean | undefined;
  const timer = setInterval(() => {
    let v: boolean;
    try {
      v = hw(file)[which];
    } catch {
      return; // the file is being replaced
    }
    if (v !== last) edges.push({ on: v, at: Date.now() });
    last = v;
  }, 25);
  return { edges, stop: () => clearInterval(timer) };
}

/** Waits until the watched relay's latest edge is `on`, and returns that edge. */
async function reach(w: ReturnType<typeof watch>, on: boolean, what: string) {
  return until(
    () => {
      const e = w.edges.at(-1);
      return e && e.on === on ? e : undefined;
    },
    what,
    30_000,
  );
}

describe('automation under wall-clock steps (libfaketime, real process)', () => {
  let redis: TestRedis;
  let cli: RedisClientType;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    redis = await startRedis();
    cli = createClient({ url: redis.url });
    await cli.connect();
  });

  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await cli?.close();
  });

  it.each([
    ['+1 h', HOUR, /clock step: the wall clock moved \+1 h/],
    ['-1 h', -HOUR, /clock step: the wall clock moved -1 h/],
    ['+1 d', DAY, /clock step: the wall clock moved \+1 d/],
    ['-1 d', -DAY, /clock step: the wall clock moved -1 d/],
  ])(
    'a %s step: schedules re-evaluated at once; max-on, min off, manual expiry and the stale failsafe keep real time',
    async (_label, stepS, logged) => {
      const dir = tempDir();
      const devices = path.join(dir, 'devices.yaml');
      fs.writeFileSync(devices, devicesYaml(stepS));
      const simFile = path.join(dir, 'mcp.json');
      const clock = fakeClock(path.join(dir, 'faketime'));
      const step = (n: number) => clock.set(n * stepS);
      await cli.del('automation:state'); // each run starts from the configuration
      const child = spawn(process.execPath, [CLI, 'automation', '--devices', devices, '--i2c', `sim:${simFile}`], {
        env: {
          ...process.env,
          REDIS_URL: redis.url,
          CANOPY_DATA_DIR: dir,
          LOG_LEVEL: 'warn',
          ...clock.env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      let stderr = '';
      let stdout = '';
      child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
      child.stdout!.on('data', (b: Buffer) => (stdout += b.toString()));
      const sub = await collect(redis.url, ['device:update']);
      const heater = watch(simFile, 'heater');
      const pump = watch(simFile, 'pump');
      let feeding = true;
      const feed = (async () => {
        while (feeding) {
          await cli.publish(
            'sensor:update',
            JSON.stringify({ sensor_data: { dry_bulb_f: 18 }, timestamp: new Date().toISOString() }),
          );
          await new Promise((r) => setTimeout(r, 250));
        }
      })();
      try {
        await until(() => stdout.includes('under control'), 'automation running', 30_000);
        // Cold room: the heater turns on; a manual pump-on for TTL_S seconds.
        const heaterOn = await reach(heater, true, 'heater on');
        await sendCommand(cli, { device: 'pump_f', state: 1, ttl_s: TTL_S, by: 'clock-test' });
        const pumpOn = await reach(pump, true, 'pump on');

        // Step 1, while the heater is on and the pump is in manual mode.
        step(1);
        await until(() => logged.test(stderr), 'clock step logged', 20_000);
        if (Math.abs(stepS) === HOUR) await until(() => hw(simFile).lights, 'schedule re-evaluated: lights on', 20_000);
        else expect(hw(simFile).lights).toBe(false); // same time of day

        // Max-on trips on real time though readings keep saying "cold".
        const maxOn = await reach(heater, false, 'heater off by max-on');
        expect(maxOn.at - heaterOn.at).toBeGreaterThanOrEqual(MAX_ON_S * 1000 - 300);
        await until(
          () =>
            sub.got.some((g) => g.message.device === 'heater_f' && /maximum on time/.test(String(g.message.reason))),
          'device:update with the max-on reason',
        );

        // The manual pump-on ends after its ttl, not ttl ± the step.
        const pumpOff = await reach(pump, false, 'manual pump-on expired');
        expect(pumpOff.at - pumpOn.at).toBeGreaterThanOrEqual(TTL_S * 1000 - 300);

        // Step 2 during the heater's min off: it comes back only after MIN_OFF_S of real time.
        step(2);
        const backOn = await reach(heater, true, 'heater back on after min off');
        expect(backOn.at - maxOn.at).toBeGreaterThanOrEqual(MIN_OFF_S * 1000 - 300);

        // A command sent after the steps is accepted: its age is measured on the Redis server's clock.
        await sendCommand(cli, { device: 'pump_f', state: 1, ttl_s: 600, by: 'clock-test' });
        await reach(pump, true, 'pump on by a command sent after the steps');

        // Readings stop right after step 3: the stale failsafe still turns the heater off.
        feeding = false;
        await feed;
        step(3);
        await reach(heater, false, 'heater off by the stale failsafe');
        await until(
          () =>
            sub.got.some(
              (g) => g.message.device === 'heater_f' && g.message.state === 0 && /stale/.test(String(g.message.reason)),
            ),
          'device:update with the failsafe reason',
        );
      } finally {
        feeding = false;
        heater.stop();
        pump.stop();
        await sub.close();
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }
      expect(hw(simFile)).toEqual({ heater: false, lights: false, pump: false });
    },
    120_000,
  );
});
