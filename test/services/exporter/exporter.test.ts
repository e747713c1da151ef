import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Connection } from '../../../src/bus/connection.js';
import { Publisher } from '../../../src/bus/topics.js';
import { start, type ExporterHandle } from '../../../src/services/exporter/index.js';
import { createLogger } from '../../../src/util/log.js';
import { startMosquitto, type TestMosquitto } from '../../support/mosquitto.js';
import { startRedis } from '../../support/redis.js';

let conn: Connection;
let broker: TestMosquitto;
let ex: ExporterHandle;

beforeAll(async () => {
  const redis = await startRedis();
  conn = await Connection.connect({ url: redis.url });
  broker = await startMosquitto();
  ex = await start({
    mqttUrl: broker.url,
    runtime: { connection: { url: redis.url }, log: createLogger('exporter', 'silent') },
  });
});
afterAll(async () => {
  await ex.stop();
  await conn.close();
});

const until = async (cond: () => boolean, what: string) => {
  const deadline = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('canopy exporter (real mosquitto broker)', () => {
  it('publishes Home Assistant discovery configs (retained), states and availability', async () => {
    const seen = new Map<string, { payload: string; retain: boolean }[]>();
    const watcher = await mqtt.connectAsync(broker.url);
    watcher.on('message', (topic, payload, packet) => {
      const l = seen.get(topic) ?? [];
      l.push({ payload: payload.toString(), retain: packet.retain });
      seen.set(topic, l);
    });
    await watcher.subscribeAsync(['homeassistant/#', 'canopy/#']);
    const pub = new Publisher(conn);
    const ts = new Date().toISOString();
    await pub.publishTopic('sensor:update', ['Flower Room', 'front'], {
      location: 'Flower Room',
      cluster: 'front',
      sensor_data: { dry_bulb_f: 24.5, co2_f: 812 },
      timestamp: ts,
    });
    await pub.publishTopic('sensor:update', ['Flower Room', 'front'], {
      location: 'Flower Room',
      cluster: 'front',
      sensor_data: { dry_bulb_f: 24.6 },
      timestamp: ts,
    });
    await pub.publishTopic('device:update', ['Flower Room', 'front'], {
      location: 'Flower Room',
      cluster: 'front',
      device: 'heater_1',
      state: 1,
      mode: 'auto',
      timestamp: ts,
    });
    await until(
      () => (seen.get('canopy/sensor/dry_bulb_f/state')?.length ?? 0) >= 2 && seen.has('canopy/device/heater_1/state'),
      'the states',
    );
    const cfg = JSON.parse(seen.get('homeassistant/sensor/canopy_dry_bulb_f/config')?.[0]?.payload ?? '{}') as Record<
      string,
      unknown
    >;
    expect(cfg).toMatchObject({
      name: 'dry_bulb_f',
      unique_id: 'canopy_dry_bulb_f',
      state_topic: 'canopy/sensor/dry_bulb_f/state',
      unit_of_measurement: '°C',
      device_class: 'temperature',
      state_class: 'measurement',
      availability: [{ topic: 'canopy/bridge/availability' }, { topic: 'canopy/flower_room_front/availability' }],
      device: { identifiers: ['canopy_flower_room_front'], name: 'Canopy Flower Room front' },
    });
    expect(seen.get('homeassistant/sensor/canopy_dry_bulb_f/config')).toHaveLength(1);
    expect(JSON.parse(seen.get('homeassistant/sensor/canopy_co2_f/config')?.[0]?.payload ?? '{}')).toMatchObject({
      unit_of_measurement: 'ppm',
    });
    expect(seen.get('canopy/sensor/dry_bulb_f/state')?.map((m) => m.payload)).toEqual(['24.5', '24.6']);
    expect(seen.get('canopy/device/heater_1/state')?.map((m) => m.payload)).toEqual(['ON']);
    expect(
      JSON.parse(seen.get('homeassistant/binary_sensor/canopy_heater_1/config')?.[0]?.payload ?? '{}'),
    ).toMatchObject({
      state_topic: 'canopy/device/heater_1/state',
      payload_on: 'ON',
    });
    expect(seen.get('canopy/flower_room_front/availability')?.map((m) => m.payload)).toEqual(['online']);
    await watcher.endAsync();

    // a client that connects later (Home Assistant after a restart) gets the retained configs and states
    const late = await mqtt.connectAsync(broker.url);
    const retained = new Map<string, string>();
    late.on('message', (topic, payload, packet) => {
      if (packet.retain) retained.set(topic, payload.toString());
    });
    await late.subscribeAsync(['homeassistant/#', 'canopy/#']);
    await until(
      () => retained.has('homeassistant/sensor/canopy_dry_bulb_f/config') && retained.has('canopy/bridge/availability'),
      'retained messages',
    );
    expect(retained.get('canopy/sensor/dry_bulb_f/state')).toBe('24.6');
    expect(retained.get('canopy/bridge/availability')).toBe('online');
    await late.endAsync();
  });
});
