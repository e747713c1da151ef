import { beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { Registry } from '../../../src/bus/registry.js';
import { getJson, startApi } from './helpers.js';

type Ctx = Awaited<ReturnType<typeof startApi>>;
let t: Ctx;
let registry: Registry;

beforeAll(async () => {
  t = await startApi();
  const conn = await Connection.connect({ url: t.redis.url, healthCheckIntervalMs: 0 });
  conn.on('error', () => undefined);
  registry = new Registry(conn);
  return () => conn.close();
});

/** An analytics:latest snapshot of the shape canopy analytics writes. */
function snapshot(now = Date.now()) {
  return {
    timestamp: new Date(now).toISOString(),
    sensors: {
      dry_bulb_f: {
        location: 'Flower Room',
        cluster: 'front',
        last: 27.4,
        last_at: new Date(now - 1000).toISOString(),
        trend: { window_s: 3600, points: 120, span_s: 3500, slope_per_h: 3.5, r2: 0.97 },
        thresholds: [
          {
            name: 'high limit',
            value: 30,
            crossing: 'above',
            source: 'config',
            crossed: false,
            eta_s: 2674,
            eta_at: new Date(now + 2674_000).toISOString(),
          },
        ],
        next: {
          name: 'high limit',
          value: 30,
          crossing: 'above',
          source: 'config',
          crossed: false,
          eta_s: 2674,
          eta_at: new Date(now + 2674_000).toISOString(),
        },
      },
      co2_f: { location: 'Flower Room', cluster: 'front', last: 900, trend: { slope_per_h: null }, thresholds: [] },
    },
    rooms: { 'Flower Room': { vpd_band: [0.8, 1.2], vpd_in_band_share: 0.5, vpd_tracked_s: 100, day: '2026-12-01' } },
  };
}

describe('GET /api/relays', () => {
  it('lists the relays the gateway registered (identity:relay:*), by user, and skips records without a user', async () => {
    const empty = await getJson(t.api, '/api/relays');
    expect(empty.status).toBe(200);
    expect(empty.body).toMatchObject({ relays: [], users: [], total: 0, truncated: false });
    // what the gateway writes on connect (gateway.ts #identity)
    await registry.touch('relay', 'c0ffee000001', {
      user: 'jamie',
      received: 12,
      published: 12,
      unpublished: 0,
      rejected: 1,
      delivered: 3,
      replayed: 0,
      remote: '192.168.1.40',
      codec: 'msgpack',
      connected_at: '2026-12-01T09:00:00.000Z',
    });
    await registry.touch('relay', 'c0ffee000002', {
      user: 'alex',
      remote: '::1',
      codec: 'json',
      version: '1.2.0',
      connected_at: '2026-12-01T09:30:00.000Z',
    });
    await registry.touch('relay', 'c0ffee000003', { remote: 'nobody' });
    // another scope is not a relay
    await registry.touch('can-node', '1', { user: 'not-a-relay' });
    const r = await getJson(t.api, '/api/relays');
    expect(r.status).toBe(200);
    expect(r.body.users).toEqual(['alex', 'jamie']);
    expect(r.body.total).toBe(2);
    const relays = r.body.relays as Array<Record<string, unknown>>;
    expect(relays.map((x) => x.user)).toEqual(['alex', 'jamie']);
    expect(relays[1]).toMatchObject({
      connection: 'c0ffee000001',
      user: 'jamie',
      remote: '192.168.1.40',
      codec: 'msgpack',
      version: null,
      connected_at: '2026-12-01T09:00:00.000Z',
      stale: false,
      received: 12,
      rejected: 1,
      delivered: 3,
    });
    expect(relays[0]).toMatchObject({ user: 'alex', version: '1.2.0', codec: 'json' });
    // limit
    const one = await getJson(t.api, '/api/relays?limit=1');
    expect((one.body.relays as unknown[]).length).toBe(1);
    expect(one.body.truncated).toBe(true);
    expect((await getJson(t.api, '/api/relays?limit=0')).status).toBe(400);
    // a relay not refreshed for long (a gateway that died) is flagged stale
    await registry.write('relay', 'c0ffee000004', {
      user: 'sam',
      connected_at: '2026-11-30T09:00:00.000Z',
      last_seen: new Date(Date.now() - 10 * 60_000).toISOString(),
    });
    const s = await getJson(t.api, '/api/relays');
    const sam = (s.body.relays as Array<Record<string, unknown>>).find((x) => x.user === 'sam');
    expect(sam?.stale).toBe(true);
    // a disconnect removes the record; the list follows
    await registry.remove('relay', 'c0ffee000004');
    await registry.remove('relay', 'c0ffee000002');
    expect((await getJson(t.api, '/api/relays')).body.users).toEqual(['jamie']);
  });
});

describe('GET /api/analytics', () => {
  it('is empty (running: false) while analytics does not run, then serves analytics:latest with its age', async () => {
    const none = await getJson(t.api, '/api/analytics');
    expect(none.status).toBe(200);
    expect(none.body).toEqual({ running: false, timestamp: null, age_ms: null, sensors: {}, rooms: {} });
    await t.client.set('analytics:latest', JSON.stringify(snapshot(Date.now() - 2000)), { EX: 60 });
    const r = await getJson(t.api, '/api/analytics');
    expect(r.status).toBe(200);
    expect(r.body.running).toBe(true);
    expect(r.body.age_ms).toBeGreaterThanOrEqual(2000);
    const sensors = r.body.sensors as Record<string, { trend: { slope_per_h: number }; next: { eta_s: number } }>;
    expect(sensors.dry_bulb_f?.trend.slope_per_h).toBe(3.5);
    expect(sensors.dry_bulb_f?.next.eta_s).toBe(2674);
    expect(Object.keys(r.body.rooms as object)).toEqual(['Flower Room']);
    const one = await getJson(t.api, '/api/analytics?sensor=co2_f');
    expect(Object.keys(one.body.sensors as object)).toEqual(['co2_f']);
  });

  it('answers 503 API_BAD_RECORD when the key holds something else, and keeps serving', async () => {
    await t.client.set('analytics:latest', 'not json', { EX: 60 });
    const bad = await getJson(t.api, '/api/analytics');
    expect(bad.status).toBe(503);
    expect(bad.body.code).toBe('API_BAD_RECORD');
    await t.client.set('analytics:latest', JSON.stringify({ timestamp: 'x', sensors: [] }), { EX: 60 });
    expect((await getJson(t.api, '/api/analytics')).body.code).toBe('API_BAD_RECORD');
    await t.client.set('analytics:latest', JSON.stringify(snapshot()), { EX: 60 });
    expect((await getJson(t.api, '/api/analytics')).status).toBe(200);
  });

  it('needs a viewer token when reads do', async () => {
    const own = await startApi({ readAccess: 'viewer' }, t.redis);
    expect((await getJson(own.api, '/api/analytics', '')).status).toBe(401);
    expect((await getJson(own.api, '/api/relays', '')).status).toBe(401);
    expect((await getJson(own.api, '/api/relays')).status).toBe(200);
  });
});
