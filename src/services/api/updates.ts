import { EventEmitter } from 'node:events';
import type { Connection } from '../../bus/connection.js';
import type { Logger } from '../../util/log.js';

/** `sensor:update` payload (SPEC §2). */
export interface SensorUpdate {
  location: string;
  cluster: string;
  sensor_data: Record<string, number>;
  timestamp: string;
}

/** `device:update` payload (SPEC §2). */
export interface DeviceUpdate {
  location: string;
  cluster: string;
  device: string;
  state: number;
  mode: string;
  timestamp: string;
}

export const SENSOR_CHANNEL = 'sensor:update';
export const DEVICE_CHANNEL = 'device:update';

/** Largest payload accepted from a channel; bigger ones are counted as malformed. */
const MAX_PAYLOAD = 1 << 20;

/** Returns the update or a reason why the payload is not one. */
export function parseSensorUpdate(text: string): SensorUpdate | string {
  const o = parseObject(text);
  if (typeof o === 'string') return o;
  if (typeof o.location !== 'string' || o.location === '') return 'location must be a non-empty string';
  if (typeof o.cluster !== 'string' || o.cluster === '') return 'cluster must be a non-empty string';
  if (typeof o.timestamp !== 'string' || Number.isNaN(Date.parse(o.timestamp))) return 'timestamp must be ISO-8601';
  const d = o.sensor_data;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return 'sensor_data must be an object';
  for (const [k, v] of Object.entries(d)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) return `sensor_data.${k} must be a finite number`;
  }
  return o as unknown as SensorUpdate;
}

/** Returns the update or a reason why the payload is not one. */
export function parseDeviceUpdate(text: string): DeviceUpdate | string {
  const o = parseObject(text);
  if (typeof o === 'string') return o;
  if (typeof o.location !== 'string' || o.location === '') return 'location must be a non-empty string';
  if (typeof o.cluster !== 'string' || o.cluster === '') return 'cluster must be a non-empty string';
  if (typeof o.device !== 'string' || o.device === '') return 'device must be a non-empty string';
  if (typeof o.state !== 'number' || !Number.isFinite(o.state)) return 'state must be a number';
  if (typeof o.mode !== 'string') return 'mode must be a string';
  if (typeof o.timestamp !== 'string' || Number.isNaN(Date.parse(o.timestamp))) return 'timestamp must be ISO-8601';
  return o as unknown as DeviceUpdate;
}

function parseObject(text: string): Record<string, unknown> | string {
  if (text.length > MAX_PAYLOAD) return `payload larger than ${MAX_PAYLOAD} bytes`;
  let o: unknown;
  try {
    o = JSON.parse(text);
  } catch {
    return 'not JSON';
  }
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return 'not a JSON object';
  return o as Record<string, unknown>;
}

export interface UpdateFeedEvents {
  /** A valid sensor update and its raw JSON text (forwarded as is). */
  sensor: [update: SensorUpdate, text: string];
  device: [update: DeviceUpdate, text: string];
}

export interface UpdateFeedStats {
  sensorUpdates: number;
  deviceUpdates: number;
  malformed: number;
}

/**
 * Listens to the broad `sensor:update` and `device:update` channels on a
 * dedicated connection (every update is published there too), validates
 * each message (malformed ones are counted and logged, never forwarded) and
 * keeps the latest state of every device.
 */
export class UpdateFeed extends EventEmitter<UpdateFeedEvents> {
  readonly stats: UpdateFeedStats = { sensorUpdates: 0, deviceUpdates: 0, malformed: 0 };
  readonly #devices = new Map<string, DeviceUpdate>();
  readonly #conn: Connection;
  readonly #log: Logger;

  private constructor(conn: Connection, log: Logger) {
    super();
    this.#conn = conn;
    this.#log = log;
  }

  static async start(conn: Connection, log: Logger): Promise<UpdateFeed> {
    const own = await conn.duplicate({ clientName: `${conn.options.clientName}-api-sub` });
    own.on('error', (err) => log.warn({ err: err.message }, 'update subscription connection error'));
    const feed = new UpdateFeed(own, log);
    await own.run('SUBSCRIBE', (c) =>
      c.subscribe([SENSOR_CHANNEL, DEVICE_CHANNEL], (message, channel) => feed.#onMessage(channel, message)),
    );
    return feed;
  }

  /** Latest known state of every device, by name. */
  devices(): DeviceUpdate[] {
    return [...this.#devices.values()];
  }

  /** Health of the subscription connection. */
  get ready(): boolean {
    return this.#conn.isReady;
  }

  async close(): Promise<void> {
    this.removeAllListeners();
    await this.#conn.close();
  }

  #onMessage(channel: string, text: string): void {
    if (channel === SENSOR_CHANNEL) {
      const u = parseSensorUpdate(text);
      if (typeof u === 'string') return this.#malformed(channel, u);
      this.stats.sensorUpdates++;
      this.emit('sensor', u, text);
    } else {
      const u = parseDeviceUpdate(text);
      if (typeof u === 'string') return this.#malformed(channel, u);
      this.stats.deviceUpdates++;
      this.#devices.set(u.device, u);
      this.emit('device', u, text);
    }
  }

  #malformed(channel: string, reason: string): void {
    this.stats.malformed++;
    this.#log.warn({ channel, reason, malformed: this.stats.malformed }, 'malformed update ignored');
  }
}
