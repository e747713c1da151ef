import fs from 'node:fs';
import path from 'node:path';
import { createClient, type RedisClientType } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { start as startApi, type ApiHandle } from '../../../src/services/api/index.js';
import { start, type AutomationHandle } from '../../../src/services/automation/index.js';
import type { Logger } from '../../../src/util/log.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { collect, sendCommand, until } from './helpers.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;
const OPERATOR = 'operator-token-answers-0123';

const DEVICES = `
timeZone: UTC
safety: { minOnS: 0, minOffS: 0, maxStarts: 0, staleAfterS: 30 }
manual: { defaultExpiryS: 3600, maxExpiryS: 7200 }
stages: { Flower Room: flower }
exclusive: [[humidifier_f, dehumidifier_f]]
devices:
  - name: heater_f
    label: Heater (front)
    location: Flower Room
    cluster: front
    kind: heater
    output: { address: 0x20, port: A, pin: 0 }
    safeState: 0
    safety: { maxOnS: 3600, minOffS: 6 }
    control: { type: hysteresis, sensor: dry_bulb_f, setpoint: 22, band: 1, action: raise }
  - name: humidifier_f
    label: Humidifier (front)
    location: Flower Room
    cluster: front
    kind: humidifier
    output: { address: 0x20, port: A, pin: 1 }
    safeState: 0
    safety: { maxOnS: 3600 }
    mode: off
  - name: dehumidifier_f
    label: Dehumidifier (front)
    location: Flower Room
    cluster: front
    kind: dehumidifier
    output: { address: 0x20, port: A, pin: 2 }
    safeState: 0
    control:
      type: vpd
      temp: dry_bulb_f
      rh: rh_f
      day: { on: '00:00', off: '23:59' }
      targets: { flower: { day: 1.2, night: 1.0 }, veg: { day: 0.9, night: 0.7 } }
      band: 0.05
      action: raise
`;

type Msg = Record<string, unknown> & { command?: { id: string; outcome: string; reason: string } };

describe('device updates answer commands (real Redis, simulated MCP23017, API)', () => {
  let redis: TestRedis;
  let cli: RedisClientType;
  let api: ApiHandle;
  let automation: AutomationHandle;
  const sim = new Mcp23017Simulator({ addresses: [0x20] });
  const readings = (t: number, rh: number) =>
    cli.publish(
      'sensor:update',
      JSON.stringify({
        location: 'Flower Room',
        cluster: 'front',
        sensor_data: { dry_bulb_f: t, rh_f: rh },
        timestamp: new Date().toISOString(),
      }),
    );
  const post = (device: string, body: unknown) =>
    fetch(`${api.url}/api/devices/${device}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR}` },
      body: JSON.stringify(body),
    });

  beforeAll(async () => {
    redis = await startRedis();
    cli = createClient({ url: redis.url });
    await cli.connect();
    const devicesFile = path.join(tempDir(), 'devices.yaml');
    fs.writeFileSync(devicesFile, DEVICES);
    process.env.AUTOMATION_DEVICES = devicesFile;
    automation = await start({
      devicesFile,
      bus: sim,
      store: null,
      redisUrl: redis.url,
      tickMs: 100,
      persistMs: 20,
      logger: log,
    });
    api = await startApi({ port: 0, redisUrl: redis.url, tokens: `operator:${OPERATOR}`, logger: log });
    await readings(25, 60);
  }, 60_000);

  afterAll(async () => {
    await api?.stop();
    await automation?.stop();
    await cli?.close();
  });

  it('a manual on held back by min off is answered "held" with the id the API returned, then applied', async () => {
    const sub = await collect(redis.url, ['device:update']);
    await readings(25, 60);
    const r = await post('heater_f', { state: 1, mode: 'manual', ttl_s: 600 });
    expect(r.status).toBe(202);
    const { id } = (await r.json()) as { id: string };
    const answers = () => sub.got.map((g) => g.message as Msg).filter((m) => m.command?.id === id);
    const answer = await until(() => answers()[0], 'the answering device:update');
    expect(answer).toMatchObject({ device: 'heater_f', label: 'Heater (front)', mode: 'manual', source: 'manual' });
    // the automation started a moment ago: the heater's 6 s minimum off time holds it back (or has just passed)
    if (answer.command!.outcome === 'held') {
      expect(answer.state).toBe(0);
      expect(answer.command!.reason).toMatch(/^manual ON held back: min off, [\d.]+ s left$/);
      expect(answer.held).toMatchObject({ want: 1, why: 'min off' });
      expect(Date.parse(String((answer.held as { until: string }).until))).toBeGreaterThan(
        Date.parse(String(answer.timestamp)) - 1,
      );
    } else {
      expect(answer.command!.outcome).toBe('applied');
    }
    const expires = Date.parse(String(answer.expires_at));
    expect(expires - Date.parse(String(answer.timestamp))).toBeGreaterThan(590_000);
    await readings(25, 60);
    const onUpdate = await until(
      () => sub.got.map((g) => g.message as Msg).find((m) => m.device === 'heater_f' && m.state === 1),
      'heater on',
      20_000,
    );
    expect(onUpdate).toMatchObject({ mode: 'manual', source: 'manual', label: 'Heater (front)' });
    expect(onUpdate.held).toBeUndefined();
    expect(sim.output(0x20, 'A', 0)).toBe(1);
    // GET /api/devices shows the same fields (the latest update of each device)
    const list = (await (await fetch(`${api.url}/api/devices`)).json()) as { devices: Msg[] };
    expect(list.devices.find((d) => d.device === 'heater_f')).toMatchObject({ state: 1, source: 'manual' });
    // and keeps it as the device's last update (an API started later reads it), without the command answer
    const last = await until(async () => {
      const raw = await cli.get('device:heater_f:last');
      const m = raw ? (JSON.parse(raw) as Msg) : undefined;
      return m?.state === 1 ? m : undefined;
    }, 'device:heater_f:last');
    expect(last).toMatchObject({ device: 'heater_f', mode: 'manual', source: 'manual' });
    expect(last.command).toBeUndefined();
    await sub.close();
  });

  it('a refused command is answered "refused" with why; an accepted one that changes nothing is still answered', async () => {
    const sub = await collect(redis.url, ['device:update']);
    const on = await post('humidifier_f', { state: 1, mode: 'manual', ttl_s: 600 });
    const onId = ((await on.json()) as { id: string }).id;
    const applied = await until(
      () => sub.got.map((g) => g.message as Msg).find((m) => m.command?.id === onId),
      'humidifier answered',
    );
    expect(applied.command).toMatchObject({ outcome: 'applied' });
    expect(applied.state).toBe(1);
    const r = await post('dehumidifier_f', { state: 1, mode: 'manual', ttl_s: 600 });
    const { id } = (await r.json()) as { id: string };
    const refused = await until(
      () => sub.got.map((g) => g.message as Msg).find((m) => m.command?.id === id),
      'dehumidifier answered',
    );
    expect(refused).toMatchObject({ device: 'dehumidifier_f', state: 0, mode: 'auto' });
    expect(refused.command!.outcome).toBe('refused');
    expect(refused.command!.reason).toMatch(/Humidifier \(front\) \(humidifier_f\) is on and never runs together/);
    expect(sim.output(0x20, 'A', 2)).toBe(0);
    const again = await post('humidifier_f', { state: 1, mode: 'manual', ttl_s: 600 });
    const againId = ((await again.json()) as { id: string }).id;
    const same = await until(
      () => sub.got.map((g) => g.message as Msg).find((m) => m.command?.id === againId),
      'second humidifier command answered',
    );
    expect(same.command).toMatchObject({ outcome: 'applied' });
    await sub.close();
  });

  it('a grow cycle selects the VPD targets and is kept in automation:state; an unknown stage is refused', async () => {
    const events = await collect(redis.url, ['automation:events']);
    await post('humidifier_f', { mode: 'off', ttl_s: 600 }); // its exclusive partner may run again
    await sendCommand(cli, { cycle: { location: 'Flower Room', stage: 'clone', start: '2026-11-01' }, by: 'op' });
    await until(
      () => events.got.some((e) => String(e.message.message).includes('stage "clone" has no VPD targets')),
      'refusal event',
    );
    await sendCommand(cli, { cycle: { location: 'Flower Room', stage: 'veg', start: '2026-11-01' }, by: 'op' });
    const saved = await until(async () => {
      const raw = await cli.hGet('automation:state', '_cycles');
      const v = raw ? (JSON.parse(raw) as Record<string, { stage: string }>) : {};
      return v['Flower Room']?.stage === 'veg' ? v : undefined;
    }, '_cycles persisted');
    expect(saved['Flower Room']).toMatchObject({ stage: 'veg', start: '2026-11-01', by: 'op' });
    // the dehumidifier (auto) now compares leaf VPD with the veg target
    await readings(24, 75);
    await until(() => {
      const d = automation.status().find((x) => x.name === 'dehumidifier_f')!;
      return d.state === 1 && /veg day target 0\.9/.test(d.reason);
    }, 'dehumidifier on against the veg target');
    // a reload of the devices file keeps the cycle
    await automation.reload('test');
    expect(automation.engine.stageOf('Flower Room')).toBe('veg');
    await events.close();
  });
});
