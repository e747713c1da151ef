import { spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import type { AnalyticsSnapshot } from '../../../src/services/analytics/index.js';
import { register } from '../../support/cleanup.js';
import { startRedis, type TestRedis } from '../../support/redis.js';
import { tempDir } from '../../support/tmp.js';

const CLI = path.resolve('dist/src/cli/main.js');
let redis: TestRedis;
let conn: Connection;

beforeAll(async () => {
  redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
});
afterAll(async () => {
  await conn.close();
});

describe('canopy analytics (process)', () => {
  it('--limit and --trend-window: a falling sensor gets its time to the limit in analytics:latest', async () => {
    const child = spawn(
      process.execPath,
      [CLI, 'analytics', '--interval', '300', '--trend-window', '30', '--limit', 'water_temp=18:', '--no-alert-rules'],
      { env: { ...process.env, REDIS_URL: redis.url, CANOPY_DATA_DIR: tempDir() }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const unregister = register({
      stop: async () => void child.kill('SIGKILL'),
      killSync: () => void child.kill('SIGKILL'),
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

    const deadline = Date.now() + 60_000;
    const waitFor = async (what: string, cond: () => Promise<boolean>) => {
      while (!(await cond())) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; output:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    await waitFor('the subscription', async () => {
      const n = await conn.client.pubSubNumSub('sensor:update');
      return (n['sensor:update'] ?? 0) > 0;
    });
    // water cooling 1 °C per hour: 20 readings over the last 19 minutes, from 20.3 down to ~20.0
    const end = Date.now();
    for (let m = 0; m < 20; m++) {
      const msg = {
        location: 'Lab',
        cluster: 'main',
        sensor_data: { water_temp: 20.3 - m / 60 },
        timestamp: new Date(end - (19 - m) * 60_000).toISOString(),
      };
      await conn.client.publish('sensor:update', JSON.stringify(msg));
    }
    let snap: AnalyticsSnapshot | undefined;
    await waitFor('the snapshot', async () => {
      const raw = await conn.client.get('analytics:latest');
      snap = raw ? (JSON.parse(String(raw)) as AnalyticsSnapshot) : undefined;
      return snap?.sensors.water_temp?.trend.points === 20;
    });
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    unregister();

    const w = snap!.sensors.water_temp!;
    expect(w.trend.window_s).toBe(1800);
    expect(w.trend.slope_per_h).toBeCloseTo(-1, 3);
    // from 19.983 (20.3 - 19/60) to 18 at 1 °C/h: 1.983 h = 7140 s
    expect(w.next).toMatchObject({ name: 'low limit', source: 'config', crossing: 'below', value: 18 });
    expect(w.next?.eta_s).toBeGreaterThan(7100);
    expect(w.next?.eta_s).toBeLessThan(7180);
  });
});
