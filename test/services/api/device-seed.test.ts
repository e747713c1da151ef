import { describe, expect, it } from 'vitest';
import { deviceLastKey } from '../../../src/contracts/names.js';
import { startRedis } from '../../support/redis.js';
import { getJson, startApi } from './helpers.js';

describe('device states at start', () => {
  it('an API started after the automation lists every device from its last update; a key that is not a valid update is skipped', async () => {
    const redis = await startRedis();
    const t0 = await startApi({}, redis);
    const heater = {
      location: 'Flower Room',
      cluster: 'front',
      device: 'heater_f',
      state: 1,
      mode: 'manual',
      timestamp: '2026-12-01T10:00:00.000Z',
      label: 'Heater (front)',
      expires_at: '2026-12-01T11:00:00.000Z',
    };
    await t0.client.set(deviceLastKey('heater_f'), JSON.stringify(heater));
    await t0.client.set(deviceLastKey('lights_f'), '{"device": "lights_f", "state": "on"}');
    await t0.client.set(deviceLastKey('water_heater'), 'not json');
    await t0.api.stop();

    // the shipped devices file names heater_f, lights_f and water_heater
    const t = await startApi({}, redis);
    const { status, body } = await getJson(t.api, '/api/devices');
    expect(status).toBe(200);
    const devices = body.devices as Array<Record<string, unknown>>;
    expect(devices).toEqual([heater]);
  });
});
