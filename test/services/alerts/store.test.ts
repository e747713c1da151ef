import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { start, type AlertsHandle } from '../../../src/services/alerts/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { createLogger } from '../../../src/util/log.js';
import { startRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';

let conn: Connection;
let store: Store;
let alerts: AlertsHandle;

beforeAll(async () => {
  const redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
  const dir = tempDir();
  store = await openStore(`sqlite:${path.join(dir, 'canopy.db')}`);
  const rules = path.join(dir, 'alerts.yaml');
  fs.writeFileSync(rules, 'stale_after_s: 0\nrules:\n  - { id: co2-high, sensor: co2_f, above: 2000 }\n');
  alerts = await start({
    configPath: rules,
    store,
    runtime: { connection: { url: redis.url }, log: createLogger('alerts', 'silent') },
  });
});
afterAll(async () => {
  await alerts.stop();
  await store.close();
  await conn.close();
});

const send = (v: number) =>
  conn.client.publish(
    'sensor:update',
    JSON.stringify({
      location: 'Flower Room',
      cluster: 'front',
      sensor_data: { co2_f: v },
      timestamp: new Date().toISOString(),
    }),
  );

describe('alerts in the store', () => {
  it('a fired alert is a row in the alerts table, resolved when the condition clears', async () => {
    await send(2500);
    let active = await store.listAlerts({ state: 'active' });
    for (let i = 0; i < 200 && active.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      active = await store.listAlerts({ state: 'active' });
    }
    expect(active).toHaveLength(1);
    expect(active[0]).toMatchObject({ rule: 'co2-high', sensor: 'co2_f', severity: 'warning' });
    const redisActive = JSON.parse(String(await conn.client.get('alerts:active'))) as { id?: number }[];
    expect(redisActive[0]?.id).toBe(active[0]?.id);
    await send(800);
    let resolved = await store.listAlerts({ state: 'resolved' });
    for (let i = 0; i < 200 && resolved.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
      resolved = await store.listAlerts({ state: 'resolved' });
    }
    expect(resolved.map((a) => a.id)).toEqual([active[0]?.id]);
  });
});
