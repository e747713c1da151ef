import { beforeAll, describe, expect, it } from 'vitest';
import { DeviceUpdateSchema } from '../../../src/contracts/updates.js';
import { getJson, publishSensor, startApi } from './helpers.js';

type Ctx = Awaited<ReturnType<typeof startApi>>;
let t: Ctx;

beforeAll(async () => {
  t = await startApi();
});

interface LiveRow {
  name: string;
  value: number | null;
  ts: number | null;
  ageMs: number | null;
  stale: boolean;
  location: string;
}

describe('catalogue and live values (real Redis)', () => {
  it('GET /api/sensors lists the catalogue with units and valid ranges', async () => {
    const { status, body } = await getJson(t.api, '/api/sensors');
    expect(status).toBe(200);
    const sensors = body.sensors as Array<Record<string, unknown>>;
    const dry = sensors.find((s) => s.name === 'dry_bulb_f');
    expect(dry).toMatchObject({
      location: 'Flower Room',
      cluster: 'front',
      unit: '°C',
      base: 'dry_bulb',
      kind: 'air_temperature',
    });
    expect(typeof dry?.min).toBe('number');
    expect(sensors.map((s) => s.name)).toContain('water_temp');
  });

  it('GET /api/sensors/live reads the Redis keys with age and stale flag', async () => {
    const now = Date.now();
    await t.client.set('sensor:dry_bulb_f', '24.55', { EX: 10 });
    await t.client.set('sensor:dry_bulb_f:ts', String(now - 1000), { EX: 10 });
    await t.client.set('sensor:co2_f', '812', { EX: 10 });
    await t.client.set('sensor:co2_f:ts', String(now - 60_000), { EX: 10 });
    await t.client.set('sensor:rh_f', 'garbage', { EX: 10 });
    const { status, body } = await getJson(t.api, '/api/sensors/live');
    expect(status).toBe(200);
    const rows = body.sensors as LiveRow[];
    const dry = rows.find((r) => r.name === 'dry_bulb_f')!;
    expect(dry.value).toBe(24.55);
    expect(dry.ts).toBe(now - 1000);
    expect(dry.ageMs).toBeGreaterThanOrEqual(1000);
    expect(dry.stale).toBe(false);
    const co2 = rows.find((r) => r.name === 'co2_f')!;
    expect(co2.value).toBe(812);
    expect(co2.stale).toBe(true);
    const rh = rows.find((r) => r.name === 'rh_f')!;
    expect(rh).toMatchObject({ value: null, stale: true });
    const vpd = rows.find((r) => r.name === 'vpd_v')!;
    expect(vpd).toMatchObject({ value: null, ts: null, ageMs: null, stale: true });
  });

  it('GET /api/rooms and /api/rooms/:location/:cluster give the live picture of a room', async () => {
    await t.client.set('sensor:dry_bulb_v', '21.5', { EX: 10 });
    await t.client.set('sensor:dry_bulb_v:ts', String(Date.now()), { EX: 10 });
    const all = await getJson(t.api, '/api/rooms');
    expect(all.status).toBe(200);
    const rooms = all.body.rooms as Array<{ location: string; cluster: string }>;
    expect(rooms.map((r) => `${r.location}/${r.cluster}`)).toEqual([
      'Flower Room/front',
      'Flower Room/back',
      'Veg Room/main',
      'Lab/main',
    ]);
    const one = await getJson(t.api, `/api/rooms/${encodeURIComponent('Veg Room')}/main`);
    expect(one.status).toBe(200);
    const sensors = one.body.sensors as LiveRow[];
    expect(sensors.every((s) => s.location === 'Veg Room')).toBe(true);
    expect(sensors.find((s) => s.name === 'dry_bulb_v')?.value).toBe(21.5);
    const missing = await getJson(t.api, `/api/rooms/Nowhere/main`);
    expect(missing.status).toBe(404);
    expect(String(missing.body.message)).toMatch(/unknown room/);
  });

  it('device states from device:update are shown read-only; malformed updates are counted', async () => {
    const dev = {
      location: 'Flower Room',
      cluster: 'front',
      device: 'heater_1',
      state: 1,
      mode: 'auto',
      timestamp: new Date().toISOString(),
    };
    await t.client.publish('device:update', JSON.stringify(dev));
    await t.client.publish('device:update', 'not json');
    await t.client.publish('sensor:update', JSON.stringify({ location: 'x' }));
    let devices: unknown[] = [];
    for (let i = 0; i < 100 && devices.length === 0; i++) {
      devices = (await getJson(t.api, '/api/devices')).body.devices as unknown[];
      if (devices.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(devices).toEqual([dev]);
    const room = await getJson(t.api, `/api/rooms/${encodeURIComponent('Flower Room')}/front`);
    expect(room.body.devices).toEqual([dev]);
    const metrics = await (await fetch(`${t.api.url}/metrics`)).text();
    expect(metrics).toMatch(/canopy_api_malformed_updates_total 2/);
  });
});

describe('bad parameters get 400 naming the parameter', () => {
  it.each([
    ['/api/sensors/dry_bulb_f/history?points=0', /query parameter "points" must be >= 1/],
    ['/api/sensors/dry_bulb_f/history?points=5001', /query parameter "points" must be <= 5000/],
    ['/api/sensors/dry_bulb_f/history?points=abc', /query parameter "points" must be integer/],
    ['/api/sensors/dry_bulb_f/history?from=yesterday', /query parameter "from" must be an ISO-8601 time/],
    ['/api/sensors/dry_bulb_f/history?from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z', /"from" must be before "to"/],
    ['/api/export?from=1&to=2', /query parameter "sensors" is required/],
    ['/api/export?sensors=dry_bulb_f,nope', /unknown sensors: nope/],
    ['/api/export?sensors=dry_bulb_f&format=xml', /query parameter "format" must be one of csv, json/],
    ['/ws?location=', /query parameter "location" must NOT have fewer than 1 characters/],
  ])('%s', async (url, why) => {
    const { status, body } = await getJson(t.api, url);
    expect(status).toBe(400);
    expect(body.code).toBe('API_BAD_PARAMETER');
    expect(String(body.message)).toMatch(why);
  });

  it('an unknown sensor is a 404', async () => {
    const { status, body } = await getJson(t.api, '/api/sensors/nope/history');
    expect(status).toBe(404);
    expect(String(body.message)).toMatch(/unknown sensor "nope"/);
  });
});

describe('docs and metrics', () => {
  it('serves an OpenAPI document at /docs covering every route', async () => {
    const { status, body } = await getJson(t.api, '/docs/json');
    expect(status).toBe(200);
    expect(String(body.openapi)).toMatch(/^3\./);
    const paths = Object.keys(body.paths as object);
    for (const p of [
      '/health',
      '/api/sensors',
      '/api/sensors/live',
      '/api/sensors/{name}/history',
      '/api/export',
      '/api/rooms',
      '/api/rooms/{location}/{cluster}',
      '/metrics',
    ]) {
      expect(paths).toContain(p);
    }
  });

  it("derives route schemas from the contracts: /api/devices answers the DeviceUpdate message's fields", async () => {
    const { body } = await getJson(t.api, '/docs/json');
    type Node = { [k: string]: Node } & { required?: string[] };
    const paths = body.paths as Node;
    const items =
      paths['/api/devices']!.get!.responses!['200']!.content!['application/json']!.schema!.properties!.devices!.items!;
    expect(Object.keys(items.properties!)).toEqual(Object.keys(DeviceUpdateSchema.properties));
    expect(items.required).toEqual(DeviceUpdateSchema.required);
    const history = paths['/api/sensors/{name}/history']!.get!.parameters as unknown as { name: string; in: string }[];
    expect(history.map((p) => `${p.in}:${p.name}`)).toEqual(
      expect.arrayContaining(['path:name', 'query:from', 'query:to', 'query:points']),
    );
  });

  it('reports request counts and the stream lag of can-worker on can:raw', async () => {
    await t.client.xGroupCreate('can:raw', 'can-worker', '$', { MKSTREAM: true });
    for (let i = 0; i < 7; i++) {
      await t.client.xAdd('can:raw', '*', { id: '0x101', data: '00 01', ts: String(Date.now()), dlc: '2' });
    }
    // the worker's counters (its HINCRBY hash)
    await t.client.hSet('stats:worker', { frames: '12', stored: '10', rejected_range: '2', rejected_rate: '1' });
    await getJson(t.api, '/api/sensors');
    const res = await fetch(`${t.api.url}/metrics`);
    expect(res.headers.get('content-type')).toMatch(/text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/canopy_stream_lag\{stream="can:raw",group="can-worker"\} 7/);
    expect(text).toMatch(/canopy_stream_length\{stream="can:raw"\} 7/);
    expect(text).toMatch(/canopy_api_http_requests_total\{method="GET",route="\/api\/sensors",status="200"\} \d+/);
    expect(text).toMatch(/canopy_api_http_request_duration_seconds_bucket/);
    expect(text).toMatch(/^canopy_worker_frames_total 12$/m);
    expect(text).toMatch(/^canopy_worker_frames_stored_total 10$/m);
    expect(text).toMatch(/^canopy_worker_rejections_total\{reason="range"\} 2$/m);
    expect(text).toMatch(/^canopy_worker_rejections_total\{reason="rate"\} 1$/m);
  });
});

describe('Redis down', () => {
  it('live and rooms answer 503 while Redis is down and recover when it returns', async () => {
    await t.client.set('sensor:dry_bulb_b', '20.5', { EX: 60 });
    await t.client.set('sensor:dry_bulb_b:ts', String(Date.now()), { EX: 60 });
    await t.redis.kill();
    let live = await getJson(t.api, '/api/sensors/live');
    for (let i = 0; i < 50 && live.status === 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      live = await getJson(t.api, '/api/sensors/live');
    }
    expect(live.status).toBe(503);
    expect(live.body.code).toBe('API_REDIS_DOWN');
    expect((await getJson(t.api, '/api/rooms')).status).toBe(503);
    const health = await getJson(t.api, '/health');
    expect(health.status).toBe(503);
    expect((health.body.redis as { status: string }).status).toBe('down');
    // the catalogue does not need Redis
    expect((await getJson(t.api, '/api/sensors')).status).toBe(200);
    await t.redis.restart();
    for (let i = 0; i < 100 && live.status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      live = await getJson(t.api, '/api/sensors/live');
    }
    expect(live.status).toBe(200);
    // the subscription is restored: updates flow again
    await t.client.connect().catch(() => undefined);
    let seen = false;
    t.api.ctx.feed?.once('sensor', () => (seen = true));
    for (let i = 0; i < 100 && !seen; i++) {
      await publishSensor(t.client, 'Veg Room', 'main', { co2_v: 700 }).catch(() => undefined);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toBe(true);
  });
});
