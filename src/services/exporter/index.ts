import { DEVICE_UPDATE, SENSOR_UPDATE } from '../../contracts/names.js';
import mqtt, { type MqttClient } from 'mqtt';
import { ConfigError } from '../../bus/errors.js';
import type { Subscription } from '../../bus/subscriber.js';
import { startServiceRuntime, type ServiceRuntime, type ServiceRuntimeOptions } from '../common/runtime.js';
import {
  checkDeviceUpdate,
  checkSensorUpdate,
  readingsOf,
  type DeviceUpdate,
  type SensorUpdate,
} from '../common/updates.js';
import type { ServiceHandle } from '../types.js';
import { addBounded, setBounded } from '../../util/bounded.js';

/** Caps on the Home Assistant entities (sensors + devices) and nodes the bridge announces from outside input. */
export const EXPORTER_LIMITS = { entities: 4096, nodes: 1024 };

/** Options of `canopy exporter`. */
export interface ExporterConfig {
  /** @defaultValue `MQTT_URL` or `mqtt://127.0.0.1:1883` — credentials in the URL or `MQTT_USERNAME`/`MQTT_PASSWORD`. */
  mqttUrl: string;
  /** @defaultValue `MQTT_USERNAME` */
  username: string | undefined;
  /** @defaultValue `MQTT_PASSWORD` */
  password: string | undefined;
  /** @defaultValue `homeassistant` — Home Assistant's discovery prefix. */
  discoveryPrefix: string;
  /** @defaultValue `canopy` — state and availability topics are under it. */
  baseTopic: string;
  /** @defaultValue 60000 — a node with no reading for this long is reported offline. */
  staleAfterMs: number;
  /** @defaultValue `{}` — passed to {@link startServiceRuntime}. */
  runtime: Partial<Omit<ServiceRuntimeOptions, 'service'>>;
}

/** `Flower Room` → `flower_room`. */
export function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '');
}

/** Home Assistant unit and device class of a Canopy sensor, from its name. */
export function sensorClass(name: string): { unit?: string; device_class?: string } {
  if (/^(dry_bulb|wet_bulb|secondary_temp|lab_temp|water_temp)/.test(name))
    return { unit: '°C', device_class: 'temperature' };
  if (/^(rh|secondary_rh)(_|$)/.test(name)) return { unit: '%', device_class: 'humidity' };
  if (/^co2(_|$)/.test(name)) return { unit: 'ppm', device_class: 'carbon_dioxide' };
  if (/^pressure(_|$)/.test(name)) return { unit: 'hPa', device_class: 'atmospheric_pressure' };
  if (/^vpd(_|$)/.test(name)) return { unit: 'kPa', device_class: 'pressure' };
  return {};
}

export interface ExporterHandle extends ServiceHandle {
  readonly runtime: ServiceRuntime;
  readonly mqtt: MqttClient;
  readonly stats: { sensorConfigs: number; deviceConfigs: number; states: number; errors: number };
}

/**
 * `canopy exporter`: bridges sensor and device updates to MQTT with Home
 * Assistant discovery. Each sensor gets a retained
 * `homeassistant/sensor/canopy_<sensor>/config` the first time it is seen,
 * and its value on `canopy/sensor/<sensor>/state` (retained); each device a
 * `homeassistant/binary_sensor/canopy_<device>/config` and `ON`/`OFF` on
 * `canopy/device/<device>/state` (read-only: no commands from MQTT).
 * Availability: `canopy/bridge/availability` (the broker publishes
 * `offline` as our last will) and `canopy/<location>_<cluster>/availability`
 * per sensor node, `offline` after `staleAfterMs` without a reading.
 */
export async function start(config: Partial<ExporterConfig> = {}): Promise<ExporterHandle> {
  const c: ExporterConfig = {
    mqttUrl: 'mqtt://127.0.0.1:1883',
    username: undefined,
    password: undefined,
    discoveryPrefix: 'homeassistant',
    baseTopic: 'canopy',
    staleAfterMs: 60_000,
    runtime: {},
    ...config,
  };
  if (!/^mqtts?:\/\/|^wss?:\/\//.test(c.mqttUrl))
    throw new ConfigError(`MQTT_URL must be mqtt://, mqtts://, ws:// or wss://`);
  const stats = { sensorConfigs: 0, deviceConfigs: 0, states: 0, errors: 0, untracked: 0 };
  const rt = await startServiceRuntime({ ...c.runtime, service: 'exporter', counters: () => ({ ...stats }) });
  const bridgeTopic = `${c.baseTopic}/bridge/availability`;
  let client: MqttClient;
  try {
    client = await mqtt.connectAsync(c.mqttUrl, {
      clientId: `canopy-exporter-${process.pid}-${Math.random().toString(36).slice(2, 8)}`,
      ...(c.username ? { username: c.username } : {}),
      ...(c.password ? { password: c.password } : {}),
      will: { topic: bridgeTopic, payload: Buffer.from('offline'), retain: true, qos: 1 },
      reconnectPeriod: 2000,
      connectTimeout: 10_000,
    });
  } catch (err) {
    await rt.close();
    throw new ConfigError(`cannot connect to the MQTT broker: ${(err as Error).message}`);
  }
  client.on('error', (err) => {
    stats.errors++;
    rt.log.warn({ err: err.message }, 'mqtt error');
  });
  const pub = (topic: string, payload: string, retain = true) => {
    client.publish(topic, payload, { retain, qos: 1 }, (err) => {
      if (err) {
        stats.errors++;
        rt.log.warn({ topic, err: err.message }, 'mqtt publish failed');
      }
    });
  };
  pub(bridgeTopic, 'online');
  client.on('connect', () => pub(bridgeTopic, 'online'));

  const announced = new Set<string>();
  const nodes = new Map<string, { last: number; online: boolean }>();
  // a name beyond the caps is neither announced nor bridged, and counted
  const known = (set: Set<string>, k: string) => {
    if (addBounded(set, k, EXPORTER_LIMITS.entities)) return true;
    stats.untracked++;
    return false;
  };
  const nodeTopic = (loc: string, cl: string) => `${c.baseTopic}/${slug(loc)}_${slug(cl)}/availability`;
  const deviceInfo = (loc: string, cl: string) => ({
    identifiers: [`canopy_${slug(loc)}_${slug(cl)}`],
    name: `Canopy ${loc} ${cl}`,
    manufacturer: 'Canopy',
    model: 'CAN sensor node',
    suggested_area: loc,
  });

  const onSensor = (u: SensorUpdate) => {
    if (rt.paused) return;
    const avail = nodeTopic(u.location, u.cluster);
    const key = `${u.location}\u0000${u.cluster}`;
    const node = nodes.get(key);
    if (!setBounded(nodes, key, { last: Date.now(), online: true }, EXPORTER_LIMITS.nodes)) {
      stats.untracked++;
      return;
    }
    if (!node || !node.online) pub(avail, 'online');
    for (const [name, value] of readingsOf(u)) {
      if (!announced.has(`s:${name}`)) {
        if (!known(announced, `s:${name}`)) continue;
        const cls = sensorClass(name);
        const cfg = {
          name,
          unique_id: `canopy_${slug(name)}`,
          object_id: `canopy_${slug(name)}`,
          state_topic: `${c.baseTopic}/sensor/${name}/state`,
          ...(cls.unit ? { unit_of_measurement: cls.unit } : {}),
          ...(cls.device_class ? { device_class: cls.device_class } : {}),
          state_class: 'measurement',
          availability: [{ topic: bridgeTopic }, { topic: avail }],
          availability_mode: 'all',
          device: deviceInfo(u.location, u.cluster),
        };
        pub(`${c.discoveryPrefix}/sensor/canopy_${slug(name)}/config`, JSON.stringify(cfg));
        stats.sensorConfigs++;
      }
      pub(`${c.baseTopic}/sensor/${name}/state`, String(value));
      stats.states++;
    }
  };
  const onDevice = (u: DeviceUpdate) => {
    if (rt.paused) return;
    const id = slug(u.device);
    const state = `${c.baseTopic}/device/${u.device}/state`;
    const attrs = `${c.baseTopic}/device/${u.device}/attributes`;
    if (!announced.has(`d:${u.device}`)) {
      if (!known(announced, `d:${u.device}`)) return;
      const cfg = {
        name: u.device,
        unique_id: `canopy_${id}`,
        object_id: `canopy_${id}`,
        state_topic: state,
        payload_on: 'ON',
        payload_off: 'OFF',
        device_class: 'power',
        json_attributes_topic: attrs,
        availability: [{ topic: bridgeTopic }],
        device: { ...deviceInfo(u.location, u.cluster), model: 'Canopy relay output' },
      };
      pub(`${c.discoveryPrefix}/binary_sensor/canopy_${id}/config`, JSON.stringify(cfg));
      stats.deviceConfigs++;
    }
    pub(state, u.state ? 'ON' : 'OFF');
    pub(attrs, JSON.stringify({ mode: u.mode, location: u.location, cluster: u.cluster, timestamp: u.timestamp }));
    stats.states++;
  };

  const subs: Subscription[] = [
    await rt.subscriber.subscribe<SensorUpdate>(SENSOR_UPDATE, onSensor, { validate: checkSensorUpdate }),
    await rt.subscriber.subscribe<DeviceUpdate>(DEVICE_UPDATE, onDevice, { validate: checkDeviceUpdate }),
  ];
  const staleTimer = setInterval(
    () => {
      const now = Date.now();
      for (const [key, n] of nodes) {
        if (n.online && now - n.last > c.staleAfterMs) {
          n.online = false;
          const [loc, cl] = key.split('\u0000') as [string, string];
          pub(nodeTopic(loc, cl), 'offline');
        }
      }
    },
    Math.min(5000, c.staleAfterMs),
  );
  staleTimer.unref();
  rt.log.info({ broker: c.mqttUrl.replace(/\/\/[^@]*@/, '//***@') }, 'bridging to MQTT');

  return {
    runtime: rt,
    mqtt: client,
    stats,
    async stop() {
      rt.beginStop(); // without Redis, nothing below waits for it
      clearInterval(staleTimer);
      for (const s of subs) await s.unsubscribe().catch(() => undefined);
      await client.publishAsync(bridgeTopic, 'offline', { retain: true, qos: 1 }).catch(() => undefined);
      await client.endAsync().catch(() => undefined);
      await rt.close();
    },
  };
}
