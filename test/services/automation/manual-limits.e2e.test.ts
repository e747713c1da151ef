import fs from 'node:fs';
import path from 'node:path';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import type { Clock } from '../../../src/cea/control/clock.js';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { start, type AutomationHandle } from '../../../src/services/automation/index.js';
import type { Logger } from '../../../src/util/log.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { collect, sendCommand, until } from './helpers.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;

const DEVICES = `
timeZone: UTC
safety: { minOnS: 0, minOffS: 0, maxStarts: 0, staleAfterS: 2 }
manual: { defaultExpiryS: 3600, maxExpiryS: 7200 }
rooms:
  Flower Room: { maxTemp: 28, co2Ceiling: 1500 }
devices:
  - name: heater_f
    location: Flower Room
    cluster: front
    kind: heater
    output: { address: 0x20, port: A, pin: 0 }
    safeState: 0
    safety: { maxOnS: 3600 }
    control: { type: hysteresis, sensor: dry_bulb_f, setpoint: 22, band: 1, action: raise }
  - name: lights_f
    location: Flower Room
    cluster: front
    kind: lights
    output: { address: 0x20, port: A, pin: 1 }
    safeState: 0
  - name: pump_f
    location: Flower Room
    cluster: front
    kind: pump
    output: { address: 0x20, port: A, pin: 2 }
    safeState: 0
    safety: { minOffS: 200 }
`;

/** The process's clocks with offsets a test can move (a reboot: monotonic restarts, wall may be off). */
function movableClock() {
  const c = { mono: 0, wall: 0 };
  const clock: Clock = { monoMs: () => performance.now() + c.mono, wallMs: () => Date.now() + c.wall };
  return { clock, c };
}

describe('manual mode within limits (real Redis, simulated relays)', () => {
  let redis: TestRedis;
  let cli: RedisClientType;
  let sim: Mcp23017Simulator;
  let handle: AutomationHandle;
  let devicesFile: string;
  const { clock, c } = movableClock();
  const on = (pin: number) => sim.output(0x20, 'A', pin) === 1;
  const status = (name: string) => handle.status().find((d) => d.name === name)!;
  const reading = (v: number) =>
    cli.publish(
      'sensor:update',
      JSON.stringify({ sensor_data: { dry_bulb_f: v }, timestamp: new Date().toISOString() }),
    );
  const startIt = async () => {
    handle = await start({
      devicesFile,
      bus: sim,
      redisUrl: redis.url,
      store: null,
      tickMs: 100,
      pollMs: 200,
      persistMs: 50,
      logger: log,
      clock,
    });
  };

  beforeAll(async () => {
    redis = await startRedis();
    cli = createClient({ url: redis.url });
    await cli.connect();
    const dir = tempDir();
    devicesFile = path.join(dir, 'devices.yaml');
    fs.writeFileSync(devicesFile, DEVICES);
    sim = new Mcp23017Simulator({ addresses: [0x20] });
    await startIt();
  });

  afterAll(async () => {
    await handle?.stop();
    await cli?.close();
  });

  it('refuses "until changed" for a heater\'s manual on and a ttl beyond the maximum, with a device:update saying why', async () => {
    const sub = await collect(redis.url, ['device:update', 'automation:events']);
    await sendCommand(cli, { device: 'heater_f', state: 1, until_changed: true, by: 'op' });
    await sendCommand(cli, { device: 'heater_f', state: 1, ttl_s: 9000, by: 'op' });
    const refusals = () =>
      sub.got.filter((g) => g.channel === 'device:update' && String(g.message.reason).startsWith('refused'));
    await until(() => refusals().length >= 2, 'two refusals on device:update');
    expect(refusals()[0]!.message).toMatchObject({ device: 'heater_f', state: 0, mode: 'auto', simulated: true });
    expect(String(refusals()[0]!.message.reason)).toMatch(/heater_f is a heater: manual on "until changed" is refused/);
    expect(String(refusals()[1]!.message.reason)).toMatch(
      /ttl_s 9000 is longer than the longest manual expiry, 7200 s/,
    );
    expect(sub.got.filter((g) => String(g.message.message).startsWith('rejected'))).toHaveLength(2);
    expect(on(0)).toBe(false);
    expect(status('heater_f').mode).toBe('auto');
    await sub.close();
  });

  it('a manual on without ttl gets the default expiry; "until changed" stays for lights', async () => {
    await reading(20);
    await sendCommand(cli, { device: 'heater_f', state: 1, by: 'op' });
    await until(() => status('heater_f').mode === 'manual', 'heater manual');
    const left = status('heater_f').modeExpiresAt! - clock.wallMs();
    expect(left).toBeGreaterThan(3590_000);
    expect(left).toBeLessThanOrEqual(3600_000);
    await sendCommand(cli, { device: 'lights_f', state: 1, until_changed: true, by: 'op' });
    await until(() => on(1), 'lights on');
    expect(status('lights_f')).toMatchObject({ mode: 'manual', modeExpiresAt: null });
  });

  it('hard limit: above the room maximum the heater goes off even in manual mode, and comes back below it', async () => {
    const sub = await collect(redis.url, ['device:update']);
    await reading(20);
    await until(() => on(0), 'manual heater on');
    await reading(29);
    await until(() => !on(0), 'heater off above the room maximum');
    await until(
      () =>
        sub.got.some((g) =>
          /hard limit: dry_bulb_f 29 above the Flower Room maximum temperature 28/.test(String(g.message.reason)),
        ),
      'device:update with the hard limit',
    ).catch((err: unknown) => {
      console.log(JSON.stringify(sub.got.map((g) => g.message)));
      throw err;
    });
    expect(status('heater_f').mode).toBe('manual');
    await reading(25);
    await until(() => on(0), 'heater back on (manual) below the limit');
    await sub.close();
  });

  it('stale data: a manual heater goes to its safe state when its sensor is stale, and resumes when data returns', async () => {
    const sub = await collect(redis.url, ['device:update', 'automation:events']);
    await reading(20);
    await until(() => on(0), 'manual heater on');
    await until(() => !on(0), 'heater off: sensor stale', 15_000);
    expect(status('heater_f')).toMatchObject({ mode: 'manual', failsafe: true });
    await until(
      () => sub.got.some((g) => g.channel === 'device:update' && /dry_bulb_f is stale/.test(String(g.message.reason))),
      'device:update with the failsafe reason',
    );
    expect(on(1)).toBe(true); // lights depend on no sensor: their manual on stays
    await reading(20);
    await until(() => on(0), 'heater on again with fresh data');
    await sub.close();
  });

  it('a hold-back is published with the time left', async () => {
    const sub = await collect(redis.url, ['device:update:Flower Room:front']);
    await sendCommand(cli, { device: 'pump_f', state: 1, ttl_s: 600, by: 'op' });
    await until(
      () => sub.got.find((g) => g.message.device === 'pump_f' && /held back/.test(String(g.message.reason))),
      'hold-back on device:update',
    );
    const m = sub.got.find((g) => g.message.device === 'pump_f' && /held back/.test(String(g.message.reason)))!.message;
    expect(m).toMatchObject({ state: 0, mode: 'manual' });
    expect(String(m.reason)).toMatch(/^on held back: min off, (3 min \d+ s|\d+ min) left$/);
    expect(on(2)).toBe(false);
    await sub.close();
  });

  it('after a reboot a manual mode comes back only until its deadline, never longer than granted', async () => {
    await sendCommand(cli, { device: 'lights_f', state: 1, ttl_s: 600, by: 'op' });
    await until(() => status('lights_f').modeExpiresAt !== null, 'lights manual for 600 s');
    const deadline = status('lights_f').modeExpiresAt!;
    await handle.idle();
    await handle.stop();
    expect(on(1)).toBe(false);

    // Reboot 5 min later: monotonic time restarted, the deadline is still ahead.
    c.mono -= 1e9;
    c.wall += 300_000;
    await startIt();
    await until(() => on(1), 'manual lights restored');
    expect(Math.abs(status('lights_f').modeExpiresAt! - deadline)).toBeLessThan(5000);
    await handle.idle();
    await handle.stop();

    // A clock that is a day behind after the reboot would stretch the deadline: it runs at most what was granted.
    c.wall -= 86_400_000 + 300_000;
    await startIt();
    await until(() => on(1), 'manual lights restored');
    expect(status('lights_f').modeExpiresAt! - clock.wallMs()).toBeLessThanOrEqual(600_000);
    await handle.idle();
    await handle.stop();

    // Reboot after the deadline: not restored.
    c.wall += 86_400_000 + 3_600_000;
    const ev = await collect(redis.url, ['automation:events']);
    await startIt();
    await until(
      () =>
        ev.got.some(
          (g) =>
            g.message.device === 'lights_f' && /expired while automation was stopped/.test(String(g.message.message)),
        ),
      'expiry noticed at start',
    );
    expect(status('lights_f')).toMatchObject({ mode: 'auto', state: 0 });
    expect(on(1)).toBe(false);
    await ev.close();
  });
});
