import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import { sendAdminMessage } from '../../../src/bus/mailbox.js';
import { Connection } from '../../../src/bus/connection.js';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { start, type AutomationHandle } from '../../../src/services/automation/index.js';
import type { Logger } from '../../../src/util/log.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { publishSensorUpdate, until } from './helpers.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;
const INSTANCE = 'testhost:automation:4242';
const run = promisify(execFile);

/** heater_f on 0x20 A0 (active low: level 0 = on); fan_f on 0x20 B0, safe on. */
const devices = (o: { temp: number; maxOnS: number; address?: string; extra?: string }) => `
timeZone: Europe/Berlin
safety: { minOnS: 0, minOffS: 0, maxStarts: 0, staleAfterS: 600 }
setpoints:
  temp_f: { value: ${o.temp}, min: 10, max: 30 }
devices:
  - name: heater_f
    location: Flower Room
    cluster: front
    kind: heater
    output: { address: ${o.address ?? '0x20'}, port: A, pin: 0, activeLow: true }
    safeState: 0
    safety: { maxOnS: ${o.maxOnS} }
    control: { type: hysteresis, sensor: dry_bulb_f, setpoint: temp_f, band: 1, action: raise }
  - name: fan_f
    location: Flower Room
    cluster: front
    kind: exhaust_fan
    output: { address: 0x20, port: B, pin: 0 }
    safeState: 1
${o.extra ?? ''}`;

describe('canopy admin automation reload-config (devices.yaml) on a real Redis', () => {
  let redis: TestRedis;
  let cli: RedisClientType;
  let admin: Connection;
  let sim: Mcp23017Simulator;
  let h: AutomationHandle;
  let file: string;
  /** Heater pin level after every write to 0x20 port A (OLAT/GPIO). */
  const heaterLevels: number[] = [];

  const heaterOn = () => sim.output(0x20, 'A', 0) === 0;
  const sensorUpdate = (value: number) => publishSensorUpdate(cli, { dry_bulb_f: value });
  /** A fresh sample taken and every decision it led to applied: the control loop ran under the configuration in force. */
  const settled = async () => {
    const n = h.stats().readings;
    await sensorUpdate(20);
    await until(() => h.stats().readings > n, 'a fresh reading taken');
    await h.idle();
  };
  const reload = async () => {
    const { reply } = await sendAdminMessage(admin, INSTANCE, 'reload-config', {}, { replyTimeoutMs: 10_000 });
    return reply!;
  };

  beforeAll(async () => {
    redis = await startRedis();
    cli = createClient({ url: redis.url });
    await cli.connect();
    admin = await Connection.connect({ url: redis.url });
    file = path.join(tempDir(), 'devices.yaml');
    fs.writeFileSync(file, devices({ temp: 22, maxOnS: 3600 }));
    sim = new Mcp23017Simulator({ addresses: [0x20, 0x21] });
    sim.onWrite((w) => {
      if (w.address === 0x20 && w.port === 'A' && (w.name === 'OLAT' || w.name === 'GPIO'))
        heaterLevels.push(w.value & 1);
    });
    h = await start({
      devicesFile: file,
      bus: sim,
      store: null,
      redisUrl: redis.url,
      tickMs: 100,
      pollMs: 200,
      logger: log,
      runtime: { instance: INSTANCE },
    });
    await sensorUpdate(20);
    await until(heaterOn, 'heater on at 20 °C below 22');
  }, 60_000);

  afterAll(async () => {
    await h?.stop();
    await admin?.close();
    await cli?.close();
  });

  it('applies a new setpoint and limit without the heater relay ever going off', async () => {
    const writesBefore = heaterLevels.length;
    fs.writeFileSync(file, devices({ temp: 21, maxOnS: 7200 }));
    const reply = await reload();
    expect(reply).toMatchObject({ ok: true, result: { devices: 2, setpoints: { temp_f: 21 } } });
    await settled();
    expect(h.engine.setpoints().temp_f).toBe(21);
    expect(h.config.devices.find((d) => d.name === 'heater_f')!.safety.maxOnMs).toBe(7_200_000);
    expect(heaterOn()).toBe(true);
    // at register level: no write since the reload put the active-low heater pin high (off)
    expect(heaterLevels.slice(writesBefore)).not.toContain(1);
    expect(h.engine.status().find((d) => d.name === 'heater_f')).toMatchObject({ state: 1, mode: 'auto' });
  });

  it('a new setpoint that the reading satisfies switches the heater off (the file is in force)', async () => {
    fs.writeFileSync(file, devices({ temp: 15, maxOnS: 7200 }));
    expect(await reload()).toMatchObject({ ok: true, result: { setpoints: { temp_f: 15 } } });
    await until(() => !heaterOn(), 'heater off at 20 °C above 15');
  });

  it('a broken file is refused with the reason in the reply; the running configuration stays', async () => {
    fs.writeFileSync(file, devices({ temp: 15, maxOnS: 7200 }).replace('band: 1', 'band: "wide"'));
    const bad = await reload();
    expect(bad.ok).toBe(false);
    expect(bad.error).toMatch(/band/);
    fs.writeFileSync(file, devices({ temp: 15, maxOnS: 7200, extra: 'surprise: true\n' }));
    const unknown = await reload();
    expect(unknown.ok).toBe(false);
    expect(unknown.error).toMatch(/surprise/);
    expect(h.engine.setpoints().temp_f).toBe(15);
    expect(h.config.devices).toHaveLength(2);
  });

  it('a change of wiring needs a restart: refused, nothing switched', async () => {
    fs.writeFileSync(file, devices({ temp: 25, maxOnS: 7200, address: '0x21' }));
    const r = await reload();
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/needs a restart.*heater_f/);
    // relay addresses read as on the board and in devices.yaml: hex
    expect(r.error).toMatch(/0x20\/A0.*0x21\/A0/);
    await settled();
    expect(h.engine.setpoints().temp_f).toBe(15);
    expect(h.config.devices.find((d) => d.name === 'heater_f')!.output.address).toBe(0x20);
    expect(heaterOn()).toBe(false); // 25 would have switched it on
  });

  it('through the CLI: canopy admin automation reload-config prints the reply; pause is refused', async () => {
    fs.writeFileSync(file, devices({ temp: 16, maxOnS: 7200 }));
    const canopy = (args: string[]) =>
      run(process.execPath, ['dist/src/cli/main.js', ...args], {
        env: { ...process.env, REDIS_URL: redis.url },
        timeout: 60_000,
      }).catch((e: { stdout: string; stderr: string; code: number }) => e);
    const ok = await canopy(['admin', 'automation', 'reload-config']);
    expect(ok.stdout).toContain(`${INSTANCE}: ok {"devices":2,"setpoints":{"temp_f":16}}`);
    const paused = await canopy(['admin', INSTANCE, 'pause']);
    expect(paused.stdout).toContain(`${INSTANCE}: error "the automation cannot be paused`);
    expect((paused as { code?: number }).code).toBe(1);
  });
});
