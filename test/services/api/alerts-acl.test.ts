import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { PermissionError } from '../../../src/bus/errors.js';
import { canopyUsers } from '../../../src/contracts/acl-users.js';
import { ALERTS_ACKS, ALERTS_ACTIVE } from '../../../src/contracts/names.js';
import { start as startAlerts, type AlertsHandle } from '../../../src/services/alerts/index.js';
import { start as startApiService, type ApiHandle } from '../../../src/services/api/index.js';
import { createLogger } from '../../../src/util/log.js';
import { startRedisWithUsers } from '../../support/redis-acl.js';
import { tempDir } from '../../support/tmp.js';
import { silent } from './helpers.js';

/** The acknowledgement round trip with the API and the alerts service each running as its own ACL user. */
const OPERATOR = 'operator-token-for-the-acl-test-01';
let api: ApiHandle | undefined;
let alerts: AlertsHandle | undefined;
let worker: Connection | undefined;

beforeAll(async () => {
  const { url } = await startRedisWithUsers(canopyUsers());
  const rules = path.join(tempDir(), 'alerts.yaml');
  fs.writeFileSync(
    rules,
    ['stale_after_s: 0', 'rules:', '  - { id: co2-high, sensor: co2_v, above: 1500, severity: critical }'].join('\n'),
  );
  alerts = await startAlerts({
    configPath: rules,
    tickMs: 100,
    runtime: {
      connection: { url: url('canopy-alerts'), healthCheckIntervalMs: 0 },
      log: createLogger('alerts', 'silent'),
    },
  });
  api = await startApiService({
    port: 0,
    redisUrl: url('canopy-api'),
    logger: silent,
    tokens: `operator@grower:${OPERATOR}`,
  });
  // readings come from the worker's user, as in production
  worker = await Connection.connect({ url: url('canopy-worker'), healthCheckIntervalMs: 0 });
}, 60_000);

afterAll(async () => {
  await api?.stop();
  await alerts?.stop();
  await worker?.close();
});

const activeNow = async () =>
  (await (await fetch(`${api!.url}/api/alerts`)).json()) as {
    active: { id: string }[];
    acknowledged: { id: string }[];
  };

describe('acknowledging under the generated ACL users', () => {
  it('the api may append to alerts:acks and read alerts:*; the alerts service reads the acks and keeps alerts:*', async () => {
    const msg = JSON.stringify({
      location: 'Veg Room',
      cluster: 'main',
      sensor_data: { co2_v: 1800 },
      timestamp: new Date().toISOString(),
    });
    await expect
      .poll(
        async () => {
          await worker!.run('PUBLISH', (c) => c.publish('sensor:update', msg));
          return (await activeNow()).active.map((a) => a.id);
        },
        { timeout: 20_000, interval: 300 },
      )
      .toEqual(['co2-high:co2_v']);
    const res = await fetch(`${api!.url}/api/alerts/${encodeURIComponent('co2-high:co2_v')}/ack`, {
      method: 'POST',
      headers: { authorization: `Bearer ${OPERATOR}` },
    });
    expect(res.status).toBe(202);
    await expect
      .poll(async () => (await activeNow()).acknowledged.map((a) => a.id), { timeout: 20_000 })
      .toEqual(['co2-high:co2_v']);
  });

  it('least privilege: the api may not write the alerts keys, the alerts service may not append acknowledgements', async () => {
    await expect(api!.ctx.conn.run('SET alerts:active', (c) => c.set(ALERTS_ACTIVE, '[]'))).rejects.toBeInstanceOf(
      PermissionError,
    );
    await expect(
      alerts!.runtime.conn.run('XADD alerts:acks', (c) => c.xAdd(ALERTS_ACKS, '*', { ack: '{}' })),
    ).rejects.toBeInstanceOf(PermissionError);
    // a worker may not acknowledge either
    await expect(
      worker!.run('XADD alerts:acks', (c) => c.xAdd(ALERTS_ACKS, '*', { ack: '{}' })),
    ).rejects.toBeInstanceOf(PermissionError);
  });
});
