import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, type RedisClientType } from 'redis';
import { silentLogger } from '../../../src/bus/log.js';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { start as startApi, type ApiHandle } from '../../../src/services/api/index.js';
import { start, type AutomationHandle } from '../../../src/services/automation/index.js';
import type { Logger } from '../../../src/util/log.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';
import { until } from './helpers.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;
const OPERATOR = 'operator-token-0123456789';
const VIEWER = 'viewer-token-0123456789ab';

/** `HH:MM` (UTC) `h` hours from now. */
const hhmm = (h: number) => new Date(Date.now() + h * 3600_000).toISOString().slice(11, 16);

function writeDevices(dir: string): string {
  const file = path.join(dir, 'devices.yaml');
  fs.writeFileSync(
    file,
    `
timeZone: UTC
safety: { minOnS: 0, minOffS: 0, maxStarts: 0, staleAfterS: 5 }
setpoints:
  temp_f: { value: 22, min: 10, max: 30 }
devices:
  - name: lights_f
    location: Flower Room
    cluster: front
    kind: lights
    output: { address: 0x20, port: A, pin: 1 }
    safeState: 0
    control: { type: schedule, on: "${hhmm(2)}", off: "${hhmm(4)}" }
  - name: pump_f
    location: Flower Room
    cluster: front
    kind: pump
    output: { address: 0x20, port: A, pin: 2 }
    safeState: 0
`,
  );
  return file;
}

describe('schedules and rules changed through the API, applied without a restart', () => {
  let api: ApiHandle;
  let automation: AutomationHandle;
  let cli: RedisClientType;
  const sim = new Mcp23017Simulator({ addresses: [0x20] });
  const lights = () => sim.output(0x20, 'A', 1);
  const pump = () => sim.output(0x20, 'A', 2);

  beforeAll(async () => {
    const redis = await startRedis();
    const dir = tempDir();
    const devicesFile = writeDevices(dir);
    const databaseUrl = `sqlite:${path.join(dir, 'canopy.db')}`;
    process.env.AUTOMATION_DEVICES = devicesFile;
    cli = createClient({ url: redis.url });
    await cli.connect();
    automation = await start({ devicesFile, bus: sim, databaseUrl, redisUrl: redis.url, tickMs: 100, logger: log });
    api = await startApi({
      port: 0,
      redisUrl: redis.url,
      databaseUrl,
      tokens: `operator:${OPERATOR},viewer:${VIEWER}`,
      logger: log,
    });
  }, 60_000);

  afterAll(async () => {
    await api?.stop();
    await automation?.stop();
    await cli?.close();
  });

  const call = async (method: string, url: string, body?: unknown, token?: string) => {
    const r = await fetch(`${api.url}${url}`, {
      method,
      headers: {
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await r.text();
    return { status: r.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };

  it('seeds the lighting schedule from the devices file on first start; a viewer reads it', async () => {
    await until(() => automation.stats().programLoads >= 1, 'first load', 30_000);
    const r = await call('GET', '/api/schedules', undefined, VIEWER);
    expect(r.status).toBe(200);
    expect(r.body.schedules).toEqual([
      expect.objectContaining({
        id: 'lights-lights_f',
        config: { type: 'lighting', device: 'lights_f', on: hhmm(2), off: hhmm(4) },
        enabled: true,
        by: 'devices.yaml',
      }),
    ]);
    expect((await call('GET', '/api/schedules')).status).toBe(401);
    expect(lights()).toBe(0);
  });

  it('refuses a viewer (403) and invalid schedules (400, one problem per field); nothing changes', async () => {
    const good = { config: { type: 'lighting', device: 'lights_f', on: hhmm(-1), off: hhmm(1) } };
    expect((await call('PUT', '/api/schedules/lights-lights_f', good, VIEWER)).status).toBe(403);
    const bad = await call(
      'PUT',
      '/api/schedules/lights-lights_f',
      { config: { type: 'lighting', device: 'ghost', on: '24:00', off: '06:00' } },
      OPERATOR,
    );
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('API_BAD_PARAMETER');
    expect(bad.body.problems).toEqual([{ field: '/on', message: 'must be a time HH:MM' }]);
    const ghost = await call(
      'PUT',
      '/api/schedules/x',
      { config: { type: 'lighting', device: 'ghost', on: '05:00', off: '06:00' } },
      OPERATOR,
    );
    expect(ghost.body.problems).toEqual([{ field: '/device', message: 'no device named "ghost"' }]);
    expect(automation.engine.programs().lighting).toEqual([expect.objectContaining({ on: hhmm(2) })]);
    expect(lights()).toBe(0);
  });

  it('an operator moves the lighting schedule: the relay register follows without a restart', async () => {
    const loads = automation.stats().programLoads;
    const r = await call(
      'PUT',
      '/api/schedules/lights-lights_f',
      { config: { type: 'lighting', device: 'lights_f', on: hhmm(-1), off: hhmm(1) } },
      OPERATOR,
    );
    expect(r.status).toBe(200);
    expect(r.body.by).toMatch(/^api:operator:[0-9a-f]{8}$/);
    await until(() => lights() === 1, 'lights on by the new schedule', 30_000);
    expect(automation.stats().programLoads).toBeGreaterThan(loads);
    expect(automation.status().find((d) => d.name === 'lights_f')!.reason).toBe(`schedule ${hhmm(-1)}–${hhmm(1)} UTC`);
    // deleting it hands the device back to the devices file's schedule (off now)
    expect((await call('DELETE', '/api/schedules/lights-lights_f', undefined, OPERATOR)).status).toBe(200);
    await until(() => lights() === 0, 'lights back on the file schedule', 30_000);
    expect((await call('DELETE', '/api/schedules/lights-lights_f', undefined, OPERATOR)).status).toBe(404);
  });

  it('an operator adds a rule; it switches its device through the engine once its sensor qualifies', async () => {
    const added = await call(
      'POST',
      '/api/rules',
      { config: { sensor: 'dry_bulb_f', above: 30, forMin: 0, device: 'pump_f', state: 1 } },
      OPERATOR,
    );
    expect(added.status).toBe(201);
    const id = String(added.body.id);
    await until(() => automation.engine.programs().rules.some((x) => x.id === id), 'rule loaded', 30_000);
    const feed = async (v: number) => {
      await cli.set('sensor:dry_bulb_f', String(v), { EX: 10 });
      await cli.set('sensor:dry_bulb_f:ts', String(Date.now()), { EX: 10 });
    };
    await feed(25);
    await new Promise((r) => setTimeout(r, 1500)); // at least one poll of the live keys
    expect(pump()).toBe(0);
    await feed(31);
    await until(async () => (await feed(31), pump() === 1), 'pump on by the rule', 30_000);
    expect(automation.status().find((d) => d.name === 'pump_f')!.reason).toBe(
      `rule ${id}: dry_bulb_f above 30 for 0 min`,
    );
    const rules = await call('GET', '/api/rules', undefined, VIEWER);
    expect((rules.body.rules as { id: string }[]).map((x) => x.id)).toEqual([id]);
    expect((await call('DELETE', `/api/rules/${id}`, undefined, OPERATOR)).status).toBe(200);
    await until(async () => (await feed(31), pump() === 0), 'pump off once the rule is gone', 30_000);
  });
});
