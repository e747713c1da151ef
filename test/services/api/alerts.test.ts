import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertEngine } from '../../../src/cea/alerts/engine.js';
import { start as startAlerts, type AlertsHandle } from '../../../src/services/alerts/index.js';
import type { ApiHandle } from '../../../src/services/api/index.js';
import { createLogger } from '../../../src/util/log.js';
import { tempDir } from '../../support/tmp.js';
import { getJson, publishSensor, startApi, VIEWER_TOKEN, WsProbe } from './helpers.js';

const OPERATOR_TOKEN = 'operator-token-for-alert-tests-42';
let api: ApiHandle;
let alerts: AlertsHandle;
let client: Awaited<ReturnType<typeof startApi>>['client'];
let probe: WsProbe;

type Alert = { id: string; location?: string; cluster?: string; sensor?: string; acknowledged?: { by: string } };
type Body = { active: Alert[]; acknowledged: Alert[]; history: { type: string; alert: Alert }[] };

const alertsNow = async () => (await getJson(api, '/api/alerts')).body as unknown as Body;
const ack = (id: string, token: string) =>
  fetch(`${api.url}/api/alerts/${encodeURIComponent(id)}/ack`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}` },
  });

beforeAll(async () => {
  const started = await startApi({
    tokens: `viewer@test-viewer:${VIEWER_TOKEN},operator@grower:${OPERATOR_TOKEN}`,
  });
  api = started.api;
  client = started.client;
  const rules = path.join(tempDir(), 'alerts.yaml');
  fs.writeFileSync(
    rules,
    [
      'stale_after_s: 0',
      'reminder_interval_s: 3600',
      'watch_services: [worker]',
      'rules:',
      '  - { id: temp-high, sensor: dry_bulb_f, above: 30, severity: warning }',
    ].join('\n'),
  );
  alerts = await startAlerts({
    configPath: rules,
    tickMs: 100,
    presencePollMs: 100,
    runtime: { connection: { url: started.redis.url }, log: createLogger('alerts', 'silent') },
  });
  probe = await WsProbe.open(`${api.url.replace('http', 'ws')}/ws`);
}, 60_000);

afterAll(async () => {
  probe?.close();
  await alerts?.stop();
});

describe('GET /api/alerts and acknowledging (real Redis, real alerts service)', () => {
  it('an out-of-range reading shows as an active alert of its room, live on /ws', async () => {
    await expect.poll(async () => (await getJson(api, '/api/alerts')).status).toBe(200);
    expect(await alertsNow()).toMatchObject({ active: [], acknowledged: [] });
    await expect
      .poll(
        async () => {
          await publishSensor(client, 'Flower Room', 'front', { dry_bulb_f: 34.5 });
          return (await alertsNow()).active.map((a) => a.id);
        },
        { timeout: 20_000, interval: 300 },
      )
      .toEqual(['temp-high:dry_bulb_f']);
    const a = (await alertsNow()).active[0];
    expect(a).toMatchObject({
      sensor: 'dry_bulb_f',
      location: 'Flower Room',
      cluster: 'front',
      severity: 'warning',
      value: 34.5,
      limit: 30,
      direction: 'above',
      unit: '°C',
    });
    expect((a as unknown as { text: string }).text).toMatch(/ 34\.5 °C — above 30 °C$/);
    const m = await probe.waitFor((x) => x.type === 'alert', 20_000);
    expect(m.data).toMatchObject({ type: 'fired', alert: { id: 'temp-high:dry_bulb_f', location: 'Flower Room' } });
  });

  it('a viewer may not acknowledge; an unknown alert is a 404', async () => {
    expect((await ack('temp-high:dry_bulb_f', VIEWER_TOKEN)).status).toBe(403);
    expect((await ack('temp-high:nothing', OPERATOR_TOKEN)).status).toBe(404);
    expect((await alertsNow()).acknowledged).toEqual([]);
  });

  it('an operator acknowledges: it moves to acknowledged (with who) and the transition goes out on /ws', async () => {
    const res = await ack('temp-high:dry_bulb_f', OPERATOR_TOKEN);
    expect(res.status).toBe(202);
    expect(await res.json()).toMatchObject({ accepted: true });
    await expect
      .poll(async () => (await alertsNow()).acknowledged.map((a) => a.acknowledged?.by), { timeout: 20_000 })
      .toEqual(['grower']);
    const now = await alertsNow();
    expect(now.active).toEqual([]);
    expect(now.history.map((t) => t.type).slice(0, 2)).toEqual(['acknowledged', 'fired']);
    const m = await probe.waitFor((x) => x.type === 'alert' && (x.data as { type: string }).type === 'acknowledged');
    expect(m.data).toMatchObject({ alert: { acknowledged: { by: 'grower' } } });
    // acknowledging again changes nothing
    const again = await ack('temp-high:dry_bulb_f', OPERATOR_TOKEN);
    expect(again.status).toBe(202);
    expect(await again.json()).toMatchObject({ accepted: false });
    expect(alerts.engine.active()).toHaveLength(1);
  });

  it('it leaves acknowledged once it resolves', async () => {
    await expect
      .poll(
        async () => {
          await publishSensor(client, 'Flower Room', 'front', { dry_bulb_f: 24 });
          return (await alertsNow()).history[0]?.type;
        },
        { timeout: 20_000, interval: 300 },
      )
      .toBe('resolved');
    expect(await alertsNow()).toMatchObject({ active: [], acknowledged: [] });
  });
});

describe('AlertEngine.acknowledge', () => {
  it('stops reminders, and an acknowledgement of an earlier firing does not apply', () => {
    const e = new AlertEngine({ reminder_interval_s: 10, rules: [{ id: 'hot', sensor: 't', above: 30 }] });
    const first = e.reading('t', 31, 0);
    const since = first[0]?.alert.started_at as string;
    expect(e.tick(10_000).map((t) => t.type)).toEqual(['reminder']);
    expect(e.acknowledge('hot:t', since, 'grower', 11_000).map((t) => t.type)).toEqual(['acknowledged']);
    expect(e.acknowledge('hot:t', since, 'grower', 12_000)).toEqual([]);
    expect(e.tick(30_000)).toEqual([]);
    e.reading('t', 20, 31_000);
    e.reading('t', 32, 40_000);
    expect(e.acknowledge('hot:t', since, 'grower', 41_000)).toEqual([]);
    expect(e.tick(50_000).map((t) => t.type)).toEqual(['reminder']);
  });
});
