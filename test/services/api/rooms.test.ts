import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { localDate } from '../../../src/cea/cycle.js';
import { tempDir } from '../../support/tmp.js';
import { bearer, getJson, startApi, VIEWER_TOKEN } from './helpers.js';
import { present } from '../../support/narrow.js';

const OPERATOR = 'operator-token-for-rooms-0123456789';
/** The shipped devices file without its targets: and energy: blocks (each test brings its own). */
const shipped = fs
  .readFileSync(new URL('../../../config/devices.yaml', import.meta.url), 'utf8')
  .replace(/^targets:\n(?: .*\n)*/m, '')
  .replace(/^energy:.*\n/m, '');

let t: Awaited<ReturnType<typeof startApi>>;

interface Key {
  quantity: string;
  value: number | null;
  status: string;
  stale: boolean;
  target?: number;
  low?: number;
  high?: number;
  alarmHigh?: number;
  text?: string;
}
interface RoomBody {
  label: string;
  status: string;
  stage: string | null;
  cycle: { stage: string; start: string; week: number; day: number; label: string } | null;
  key: Key[];
  alerts: { id: string; severity: string; message: string; location?: string }[];
  energy: { kwh: number; cost: number | null; currency: string | null; since: string } | null;
  sensors: { name: string; label: string }[];
}

const FLOWER_FRONT = `/api/rooms/${encodeURIComponent('Flower Room')}/front`;
const room = async () => (await getJson(t.api, FLOWER_FRONT)).body as unknown as RoomBody;
const key = (r: RoomBody, q: string) => r.key.find((k) => k.quantity === q)!;

async function setLive(values: Record<string, number>, ageMs = 0): Promise<void> {
  const ts = String(Date.now() - ageMs);
  for (const [name, v] of Object.entries(values)) {
    await t.client.set(`sensor:${name}`, String(v), { EX: 600 });
    await t.client.set(`sensor:${name}:ts`, ts, { EX: 600 });
  }
}

beforeAll(async () => {
  const file = path.join(tempDir(), 'devices.yaml');
  fs.writeFileSync(
    file,
    `${shipped}\ntargets:\n  Flower Room:\n    flower:\n      rh: { low: 45, high: 65, alarmLow: 35, alarmHigh: 75 }\nenergy: { pricePerKwh: 0.25, currency: EUR }\n`,
  );
  t = await startApi({
    devicesFile: file,
    tokens: `viewer@test-viewer:${VIEWER_TOKEN},operator@olga:${OPERATOR}`,
    staleAfterMs: 30_000,
  });
});

describe('GET /api/rooms: room health', () => {
  it('a room is ok inside its bands and turns to alarm when a reading leaves its band', async () => {
    await setLive({ dry_bulb_f: 25, rh_f: 55, co2_f: 1200, vpd_f: 1.4 });
    let r = await room();
    expect(r.label).toBe('Flower Room · front');
    expect(r.stage).toBe('flower');
    const temp = key(r, 'temperature');
    expect(temp).toMatchObject({ value: 25, status: 'ok', target: 25, low: 23, high: 27, alarmHigh: 29 });
    expect(key(r, 'rh')).toMatchObject({ value: 55, status: 'ok', low: 45, high: 65 });
    // leaf VPD with the controller's −2 °C leaf offset, not the air VPD sensor
    const leaf = key(r, 'vpd_leaf');
    expect(leaf.value).toBeCloseTo(1.07, 1);
    expect(leaf.status).toBe('ok');
    expect(r.key.some((k) => k.quantity === 'vpd_air')).toBe(false);
    expect(r.status).toBe('ok');

    await setLive({ dry_bulb_f: 27.6 });
    r = await room();
    expect(key(r, 'temperature')).toMatchObject({ status: 'attention', text: 'above 27.0 °C' });
    expect(r.status).toBe('attention');

    await setLive({ dry_bulb_f: 30.2 });
    r = await room();
    expect(key(r, 'temperature')).toMatchObject({ status: 'alarm', text: 'above alarm limit 29.0 °C' });
    expect(r.status).toBe('alarm');
    // the other rooms are judged on their own
    const all = (await getJson(t.api, '/api/rooms')).body.rooms as RoomBody[];
    expect(all.find((x) => x.label === 'Flower Room · back')?.status).not.toBe('alarm');
  });

  it('a stale reading is stale and makes the room need attention', async () => {
    await setLive({ dry_bulb_f: 25, rh_f: 55, co2_f: 1200 });
    await setLive({ co2_f: 1200 }, 120_000);
    const r = await room();
    expect(key(r, 'co2')).toMatchObject({ status: 'stale', stale: true });
    expect(r.status).toBe('attention');
  });

  it('lights show their state and until when, from the schedule', async () => {
    await t.client.publish(
      'device:update',
      JSON.stringify({
        location: 'Flower Room',
        cluster: 'front',
        device: 'lights_f',
        state: 1,
        mode: 'auto',
        timestamp: new Date().toISOString(),
      }),
    );
    await expect.poll(async () => key(await room(), 'lights').text, { timeout: 10_000 }).toBe('on until 18:00');
    expect(key(await room(), 'lights').value).toBe(1);
  });

  it('active alerts of the room are listed and raise its status', async () => {
    await setLive({ dry_bulb_f: 25, rh_f: 55, co2_f: 1200 });
    expect((await room()).status).toBe('ok');
    const alert = {
      key: 'co2-high:co2_f',
      rule: 'co2-high',
      subject: 'co2_f',
      kind: 'threshold',
      severity: 'critical',
      message: 'CO2 above 1800 ppm',
      started_at: new Date().toISOString(),
      id: 7,
    };
    const other = { ...alert, key: 'x:dry_bulb_v', subject: 'dry_bulb_v', id: 8 };
    await t.client.set('alerts:active', JSON.stringify([alert, other]));
    const r = await room();
    expect(r.alerts).toEqual([
      expect.objectContaining({
        id: '7',
        severity: 'critical',
        message: 'CO2 above 1800 ppm',
        location: 'Flower Room',
      }),
    ]);
    expect(r.status).toBe('alarm');
    await t.client.del('alerts:active');
    expect((await room()).status).toBe('ok');
  });

  it('sensors carry friendly labels', async () => {
    const s = (await getJson(t.api, '/api/sensors')).body.sensors as { name: string; label: string }[];
    expect(s.find((x) => x.name === 'dry_bulb_f')?.label).toBe('Temperature');
    expect(s.find((x) => x.name === 'secondary_rh_f')?.label ?? 'Humidity (SCD30)').toBe('Humidity (SCD30)');
    const r = await room();
    expect(r.sensors.find((x) => x.name === 'rh_f')?.label).toBe('Humidity');
  });
});

describe('grow cycle', () => {
  const put = (location: string, body: unknown, token = OPERATOR) =>
    fetch(`${t.api.url}/api/rooms/${encodeURIComponent(location)}/cycle`, {
      method: 'PUT',
      headers: { ...bearer(token), 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });

  it('PUT sends the cycle command on actuators:commands (operator only, stage and date checked)', async () => {
    const res = await put('Flower Room', { stage: 'veg', start: '2026-11-01' });
    expect(res.status).toBe(202);
    const body = (await res.json()) as { id: string; command: { cycle: unknown; by: string } };
    expect(body.command.cycle).toEqual({ location: 'Flower Room', stage: 'veg', start: '2026-11-01' });
    const entries = present(await t.client.xRange('actuators:commands', body.id, body.id), 'the XRANGE reply');
    const sent = JSON.parse(entries[0]!.message.command!) as { cycle: unknown; by: string };
    expect(sent.cycle).toEqual({ location: 'Flower Room', stage: 'veg', start: '2026-11-01' });
    expect(sent.by).toMatch(/^api:operator:[0-9a-f]{8}$/);

    const badStage = await put('Flower Room', { stage: 'fruiting', start: '2026-11-01' });
    expect(badStage.status).toBe(400);
    expect(((await badStage.json()) as { message: string }).message).toMatch(/not a stage of Flower Room.*flower/);
    const badDate = await put('Flower Room', { stage: 'veg', start: '2026-02-30' });
    expect(badDate.status).toBe(400);
    expect((await put('Nowhere', { stage: 'veg', start: '2026-11-01' })).status).toBe(404);
    expect((await put('Flower Room', { stage: 'veg', start: '2026-11-01' }, VIEWER_TOKEN)).status).toBe(403);
    expect((await put('Flower Room', { stage: 'veg', start: '2026-11-01' }, '')).status).toBe(401);
  });

  it('GET shows the stage and week/day the automation keeps; the stage selects the targets', async () => {
    const start = localDate(Date.now() - 19 * 86_400_000, 'Europe/Berlin');
    await t.client.hSet(
      'automation:state',
      '_cycles',
      JSON.stringify({ 'Flower Room': { stage: 'veg', start, by: 'x', at: '' } }),
    );
    const r = await room();
    expect(r.stage).toBe('veg');
    expect(r.cycle).toMatchObject({ stage: 'veg', start, week: 3, day: 6, label: 'week 3, day 6' });
    // veg VPD targets (0.9 by day, 0.7 by night), not flower's
    expect([0.9, 0.7]).toContain(key(r, 'vpd_leaf').target);
  });
});

describe('energy', () => {
  it('kWh and cost per room since the cycle start, per device and day', async () => {
    const today = localDate(Date.now(), 'Europe/Berlin');
    const start = localDate(Date.now() - 2 * 86_400_000, 'Europe/Berlin');
    await t.client.hSet(
      'automation:state',
      '_cycles',
      JSON.stringify({ 'Flower Room': { stage: 'flower', start, by: 'x', at: '' } }),
    );
    // lights_f 600 W: 12 h today, 12 h before the cycle; heater_f 1500 W: 2 h today
    await t.client.hSet(
      'automation:state',
      '_ontime',
      JSON.stringify({
        lights_f: { [today]: 12 * 3_600_000, '2020-01-01': 12 * 3_600_000 },
        heater_f: { [today]: 2 * 3_600_000 },
      }),
    );
    const e = (await getJson(t.api, '/api/energy')).body as {
      pricePerKwh: number;
      currency: string;
      rooms: { label: string; since: string; kwh: number; cost: number; devices: { device: string; kwh: number }[] }[];
    };
    expect(e).toMatchObject({ pricePerKwh: 0.25, currency: 'EUR' });
    const front = e.rooms.find((r) => r.label === 'Flower Room · front')!;
    expect(front.since).toBe(start);
    expect(front.kwh).toBeCloseTo(7.2 + 3, 3);
    expect(front.cost).toBeCloseTo(10.2 * 0.25, 2);
    expect(front.devices.find((d) => d.device === 'lights_f')?.kwh).toBeCloseTo(7.2, 3);
    const r = await room();
    expect(r.energy).toMatchObject({ since: start, currency: 'EUR' });
    expect(r.energy?.kwh).toBeCloseTo(10.2, 3);
  });
});
