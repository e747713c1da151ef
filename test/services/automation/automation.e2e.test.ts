import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Mcp23017Simulator, type SimWrite } from '../../../src/hw/mcp23017-sim.js';
import { start, type AutomationHandle } from '../../../src/services/automation/index.js';
import { silentLogger } from '../../../src/bus/log.js';
import type { Logger } from '../../../src/util/log.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { collect, publishSensorUpdate, sendCommand, until, writeDevices } from './helpers.js';
import path from 'node:path';
import { openStore, type Store } from '../../../src/store/index.js';
import { tempDir } from '../../support/tmp.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;
const HEATER = { a: 0x20, port: 'A' as const, pin: 0 }; // active-low: level 0 = on

describe('automation end to end on a real Redis', () => {
  let redis: TestRedis;
  let cli: RedisClientType;
  let sim: Mcp23017Simulator;
  let handle: AutomationHandle;
  let devicesFile: string;
  let databaseUrl: string;
  const writes: SimWrite[] = [];

  const heaterOn = () => sim.output(HEATER.a, HEATER.port, HEATER.pin) === 0;
  const sensorUpdate = (data: Record<string, number>, ts = Date.now()) => publishSensorUpdate(cli, data, ts);

  beforeAll(async () => {
    redis = await startRedis();
    cli = createClient({ url: redis.url });
    await cli.connect();
    devicesFile = writeDevices();
    databaseUrl = `sqlite:${path.join(tempDir(), 'canopy.db')}`;
    sim = new Mcp23017Simulator({ addresses: [0x20, 0x21] });
    sim.setBank(0x20, 1); // as another program may have left it
    sim.onWrite((w) => writes.push(w));
    handle = await start({
      devicesFile,
      bus: sim,
      redisUrl: redis.url,
      databaseUrl,
      tickMs: 100,
      pollMs: 200,
      persistMs: 50,
      logger: log,
    });
  });

  afterAll(async () => {
    await handle?.stop();
    await cli?.close();
  });

  it('starts with every output in its safe state', () => {
    expect(sim.bankOf(0x20)).toBe(0);
    expect(sim.output(0x20, 'A', 0)).toBe(1); // heater off (active-low)
    expect(sim.output(0x20, 'A', 1)).toBe(0); // lights off
    expect(sim.output(0x20, 'B', 0)).toBe(1); // fan safe on
    expect(handle.status().map((d) => d.state)).toEqual([0, 0, 1, 0, 0]);
  });

  it('a live update drives the relay register and publishes device:update on its three levels', async () => {
    const sub = await collect(redis.url, [
      'device:update',
      'device:update:Flower Room',
      'device:update:Flower Room:front',
    ]);
    await sensorUpdate({ dry_bulb_f: 20.0, rh_f: 60 });
    await until(heaterOn, 'heater on');
    const last = writes.filter((w) => w.port === 'A').at(-1)!;
    expect(last).toMatchObject({ address: 0x20, name: 'OLAT', port: 'A' });
    expect(last.value & 1).toBe(0);
    await until(
      () => sub.got.filter((g) => g.message.device === 'heater_f').length >= 3,
      'three device:update messages',
    );
    const msgs = sub.got.filter((g) => g.message.device === 'heater_f');
    expect(msgs.map((m) => m.channel).sort()).toEqual([
      'device:update',
      'device:update:Flower Room',
      'device:update:Flower Room:front',
    ]);
    expect(msgs[0]!.message).toEqual({
      location: 'Flower Room',
      cluster: 'front',
      device: 'heater_f',
      state: 1,
      mode: 'auto',
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      reason: 'dry_bulb_f 20 < 21.5 (setpoint 22)',
      simulated: true,
      // what the dashboard shows beside the state: no label in this file, so the name
      label: 'heater_f',
      kind: 'heater',
      since: msgs[0]!.message.timestamp,
      source: 'rule',
    });
    await sub.close();
  });

  it('reads the live keys too (sensor:<name> and :ts), without a publish', async () => {
    await cli.set('sensor:dry_bulb_f', '23.5', { EX: 10 });
    await cli.set('sensor:dry_bulb_f:ts', String(Date.now()), { EX: 10 });
    await until(() => !heaterOn(), 'heater off from the live key');
  });

  it('bad input is counted and rejected, and the service keeps running', async () => {
    const ev = await collect(redis.url, ['automation:events']);
    await cli.publish('sensor:update', 'not json');
    await cli.publish('sensor:update', JSON.stringify({ location: 'x' }));
    await sendCommand(cli, '{"device":"heater_f","state":7,"by":"mallory"}');
    await sendCommand(cli, '{"device":"nope","state":1,"by":"mallory"}');
    await until(() => ev.got.filter((g) => String(g.message.message).startsWith('rejected')).length >= 2, 'rejections');
    await until(() => handle.stats().malformedUpdates >= 2, 'malformed updates counted');
    expect(handle.stats().rejectedCommands).toBeGreaterThanOrEqual(2);
    await sensorUpdate({ dry_bulb_f: 20.0 });
    await until(heaterOn, 'heater on again');
    await ev.close();
  });

  it('commands on actuators:commands switch devices and record who sent them; control:command is no input', async () => {
    const sub = await collect(redis.url, ['device:update:Flower Room:front', 'automation:events']);
    await cli.publish('control:command', JSON.stringify({ device: 'lights_f', state: 1, mode: 'manual', by: 'eve' }));
    await sendCommand(cli, { device: 'lights_f', state: 1, mode: 'manual', by: 'alice' });
    await until(() => sim.output(0x20, 'A', 1) === 1, 'lights on');
    await cli.xAdd('actuators:commands', '*', {
      command: JSON.stringify({ device: 'lights_f', mode: 'off', by: 'bob' }),
    });
    await until(() => sim.output(0x20, 'A', 1) === 0, 'lights off by stream command');
    await cli.xAdd('actuators:commands', '*', {
      device: 'heater_f',
      state: '0',
      mode: 'manual',
      ttl_s: '1',
      by: 'carol',
    });
    await until(() => !heaterOn(), 'heater forced off');
    expect(handle.status().find((d) => d.name === 'heater_f')).toMatchObject({ mode: 'manual', modeBy: 'carol' });
    // the ttl expires: back to auto, and the (still cold) room turns the heater on again
    await sensorUpdate({ dry_bulb_f: 20.0 });
    await until(() => handle.status().find((d) => d.name === 'heater_f')!.mode === 'auto', 'manual mode expired');
    await sensorUpdate({ dry_bulb_f: 20.0 });
    await until(heaterOn, 'heater back in auto');
    const updates = sub.got.filter((g) => g.channel.startsWith('device:update') && g.message.device === 'lights_f');
    expect(updates.map((u) => [u.message.state, u.message.mode])).toEqual([
      [1, 'manual'],
      [0, 'off'],
    ]);
    const cmds = sub.got.filter(
      (g) => g.message.type === 'command' && !String(g.message.message).startsWith('rejected'),
    );
    expect(cmds.map((c) => c.message.by)).toEqual(['alice', 'bob', 'carol']);
    await sub.close();
  });

  it('data stops → every sensor-driven device goes to its safe state with an event saying why', async () => {
    const sub = await collect(redis.url, ['automation:events', 'device:update']);
    await sensorUpdate({ dry_bulb_f: 29.5 }); // heater off, fan on (its safe state anyway)
    const lastReading = Date.now(); // ages count from receipt, which is after this
    await sensorUpdate({ dry_bulb_f: 20.0 }); // heater on, fan off (leaves its safe state)
    await until(() => heaterOn() && sim.output(0x20, 'B', 0) === 0, 'heater on and fan off');
    await cli.del(['sensor:dry_bulb_f', 'sensor:dry_bulb_f:ts']);
    await until(() => !heaterOn() && sim.output(0x20, 'B', 0) === 1, 'failsafe', 10_000);
    await until(() => sub.got.filter((g) => g.message.type === 'failsafe').length >= 2, 'failsafe events');
    const fs = sub.got.filter((g) => g.message.type === 'failsafe');
    expect(fs.map((f) => f.message.device).sort()).toEqual(['fan_f', 'heater_f']);
    expect(String(fs[0]!.message.message)).toMatch(/dry_bulb_f is stale .*limit 2 s.*safe state/);
    await until(
      () =>
        sub.got.some((g) => g.channel === 'device:update' && g.message.device === 'heater_f' && g.message.state === 0),
      'failsafe update',
    );
    const change = sub.got.filter((g) => g.channel === 'device:update' && g.message.device === 'heater_f').at(-1)!;
    expect(change.message.state).toBe(0);
    // not before the limit
    expect(Date.parse(String(change.message.timestamp))).toBeGreaterThanOrEqual(lastReading + 2000 - 50);
    await sub.close();
  });

  it('changes, commands and failsafes are in the store: device_states and control_history rows', async () => {
    await handle.idle();
    await handle.recorder.flush();
    const store: Store = await openStore(databaseUrl);
    try {
      const rows = await store.controlHistory({ device: 'heater_f', limit: 1000 });
      const sources = new Set(rows.map((r) => r.source));
      for (const s of ['startup', 'rule', 'manual', 'failsafe', 'command']) expect(sources).toContain(s);
      const on = rows.find((r) => r.source === 'rule' && r.toState === 1)!;
      expect(on).toMatchObject({ fromState: 0, toState: 1, toMode: 'auto', by: 'automation' });
      expect(on.reason).toMatch(/dry_bulb_f 20 < 21.5 \(setpoint 22\)/);
      const manual = rows.find((r) => r.source === 'manual')!;
      expect(manual).toMatchObject({ toState: 0, toMode: 'manual', by: 'carol' });
      const fs = rows.find((r) => r.source === 'failsafe' && r.toState === 0)!;
      expect(fs.reason).toMatch(/stale/);
      const lightsCmd = (await store.controlHistory({ device: 'lights_f', limit: 100 })).filter(
        (r) => r.source === 'command',
      );
      expect(lightsCmd.map((r) => r.by)).toEqual(expect.arrayContaining(['alice', 'bob']));
      const states = await store.getDeviceStates();
      expect(states.find((d) => d.device === 'heater_f')).toMatchObject({
        state: 0,
        mode: 'auto',
        location: 'Flower Room',
      });
    } finally {
      await store.close();
    }
  });

  it('a restart persists, drives safe states first, then restores states and modes', async () => {
    await sendCommand(cli, { device: 'lights_f', state: 1, mode: 'manual', by: 'dave' });
    await until(() => sim.output(0x20, 'A', 1) === 1, 'lights on');
    await handle.idle();
    await handle.stop();
    expect(sim.output(0x20, 'A', 1)).toBe(0); // stopped → safe
    const persisted = await cli.hGetAll('automation:state');
    expect(JSON.parse(persisted.lights_f!)).toMatchObject({ mode: 'manual', manualState: 1, state: 1, modeBy: 'dave' });
    // simulate a power cycle of the chip in the BANK=1 layout and the lights latch left on
    sim.setBank(0x20, 1);
    await sim.writeByte(0x20, 0x0a, 0x02);
    const from = writes.length;
    handle = await start({
      devicesFile,
      bus: sim,
      redisUrl: redis.url,
      databaseUrl,
      tickMs: 100,
      pollMs: 200,
      persistMs: 50,
      logger: log,
    });
    await until(() => sim.output(0x20, 'A', 1) === 1, 'lights restored');
    const mine = writes.slice(from).filter((w) => w.address === 0x20 && w.name === 'OLAT' && w.port === 'A');
    expect(mine[0]!.value & 0x02).toBe(0); // the first latch write is the safe state …
    expect(mine.at(-1)!.value & 0x02).toBe(0x02); // … the last the restored state
    expect(handle.status().find((d) => d.name === 'lights_f')).toMatchObject({
      mode: 'manual',
      modeBy: 'dave',
      state: 1,
    });
  });

  it('restores modes from the store when Redis lost the state hash', async () => {
    await handle.idle();
    await handle.stop();
    await cli.del('automation:state');
    handle = await start({ devicesFile, bus: sim, redisUrl: redis.url, databaseUrl, tickMs: 100, logger: log });
    await until(() => sim.output(0x20, 'A', 1) === 1, 'lights restored from the store');
    expect(handle.status().find((d) => d.name === 'lights_f')).toMatchObject({ mode: 'manual', state: 1 });
  });
});
