import { describe, expect, it } from 'vitest';
import { FabricFiles } from '../../src/bus/fallback/records.js';
import { getJson, startApi } from '../services/api/helpers.js';
import { tempDir } from '../support/tmp.js';

describe('the API health check and the fallback heartbeats', () => {
  it('lists services whose heartbeat is in a file, with Redis up and with Redis down', async () => {
    const fabricDir = tempDir('canopy-fabric-');
    const t = await startApi({ fabricDir });
    const files = new FabricFiles({ dir: fabricDir });
    const info = (instance: string) => ({
      service: 'offline',
      instance,
      pid: 1,
      host: 'h',
      version: '1',
      started_at: new Date().toISOString(),
      updated_at: new Date().toISOString(),
    });
    await files.writeHeartbeat(info('h:offline:1'), 600_000);
    await files.writeHeartbeat(info('h:offline:2'), -1); // expired: not listed
    type Svc = { service?: string; instance: string; source: string };
    const up = await getJson(t.api, '/health');
    expect(up.status).toBe(200);
    const listed = (up.body.services as Svc[]).map((s) => [s.service ?? '', s.instance, s.source]);
    expect(listed).toContainEqual(['offline', 'h:offline:1', 'file']);
    expect(listed.map((l) => l[1])).not.toContain('h:offline:2');
    expect((up.body.services as Svc[]).some((s) => s.source === 'redis')).toBe(true); // the API's own heartbeat

    await t.redis.stop();
    const down = await getJson(t.api, '/health');
    expect(down.status).toBe(503);
    expect((down.body.services as Svc[]).map((s) => [s.instance, s.source])).toContainEqual(['h:offline:1', 'file']);
  });
});
