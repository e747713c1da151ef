import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../src/bus/log.js';
import { Mcp23017Simulator } from '../../../src/hw/mcp23017-sim.js';
import { start as startApi, type ApiHandle } from '../../../src/services/api/index.js';
import { start, type AutomationHandle } from '../../../src/services/automation/index.js';
import type { Logger } from '../../../src/util/log.js';
import { startRedis } from '../../support/redis.js';
import { until, writeDevices } from './helpers.js';

const log = { ...silentLogger, fatal: () => undefined, trace: () => undefined } as unknown as Logger;
const OPERATOR = 'operator-token-0123456789';
const VIEWER = 'viewer-token-0123456789ab';

describe('device and setpoint control through the API', () => {
  let api: ApiHandle;
  let automation: AutomationHandle;
  const sim = new Mcp23017Simulator({ addresses: [0x20, 0x21] });

  beforeAll(async () => {
    const redis = await startRedis();
    const devicesFile = writeDevices();
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
    api = await startApi({
      port: 0,
      redisUrl: redis.url,
      tokens: `operator:${OPERATOR},viewer:${VIEWER}`,
      logger: log,
    });
  });

  afterAll(async () => {
    await api?.stop();
    await automation?.stop();
  });

  const call = (method: string, url: string, body: unknown, token?: string) =>
    fetch(`${api.url}${url}`, {
      method,
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });

  it('refuses a command without a token (401) or with a viewer token (403), and nothing switches', async () => {
    const r = await call('POST', '/api/devices/lights_f', { state: 1, mode: 'manual' });
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toBe('Bearer');
    const bad = await call('POST', '/api/devices/lights_f', { state: 1 }, 'not-a-valid-token-at-all');
    expect(bad.status).toBe(401);
    const v = await call('PUT', '/api/setpoints/temp_f', { value: 25 }, VIEWER);
    expect(v.status).toBe(403);
    expect(sim.output(0x20, 'A', 1)).toBe(0);
  });

  it('an operator switches a device; the command reaches the relay and names who sent it', async () => {
    const r = await call('POST', '/api/devices/lights_f', { state: 1, mode: 'manual' }, OPERATOR);
    expect(r.status).toBe(202);
    const body = (await r.json()) as { id: string; command: { by: string } };
    expect(body.id).toMatch(/^\d+-\d+$/);
    expect(body.command.by).toMatch(/^api:operator:[0-9a-f]{8}$/);
    expect(JSON.stringify(body)).not.toContain(OPERATOR);
    await until(() => sim.output(0x20, 'A', 1) === 1, 'lights on');
    expect(automation.status().find((d) => d.name === 'lights_f')!.modeBy).toBe(body.command.by);
  });

  it('validates names and bodies', async () => {
    expect((await call('POST', '/api/devices/ghost', { state: 1 }, OPERATOR)).status).toBe(404);
    expect((await call('POST', '/api/devices/lights_f', { state: 3 }, OPERATOR)).status).toBe(400);
    expect((await call('POST', '/api/devices/lights_f', { mode: 'manual' }, OPERATOR)).status).toBe(400);
    expect((await call('PUT', '/api/setpoints/temp_f', { value: 99 }, OPERATOR)).status).toBe(400);
    expect((await call('PUT', '/api/setpoints/nope', { value: 1 }, OPERATOR)).status).toBe(404);
  });

  it('an operator changes a setpoint; the automation uses it and GET /api/setpoints shows it', async () => {
    const r = await call('PUT', '/api/setpoints/temp_f', { value: 25.5 }, OPERATOR);
    expect(r.status).toBe(202);
    await until(() => automation.engine.setpoints().temp_f === 25.5, 'setpoint applied');
    await until(async () => {
      const s = (await (await fetch(`${api.url}/api/setpoints`)).json()) as {
        setpoints: { name: string; value: number }[];
      };
      return s.setpoints.find((x) => x.name === 'temp_f')?.value === 25.5;
    }, 'setpoint persisted and listed');
    const ot = (await (await fetch(`${api.url}/api/on-time`)).json()) as { devices: Record<string, unknown[]> };
    expect(Object.keys(ot.devices)).toContain('heater_f');
  });
});
