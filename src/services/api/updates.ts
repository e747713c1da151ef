import { EventEmitter } from 'node:events';
import type { Connection } from '../../bus/connection.js';
import { Subscriber } from '../../bus/subscriber.js';
import type { ValidationResult } from '../../bus/validate.js';
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

const fail = (error: string) => ({ ok: false as const, error });

function common(o: Record<string, unknown>): string | undefined {
  if (typeof o.location !== 'string' || o.location === '') return 'location must be a non-empty string';
  if (typeof o.cluster !== 'string' || o.cluster === '') return 'cluster must be a non-empty string';
  if (typeof o.timestamp !== 'string' || Number.isNaN(Date.parse(o.timestamp))) return 'timestamp must be ISO-8601';
  return undefined;
}

/** Validator of `sensor:update` messages (a bus {@link Validator}). */
export function checkSensorUpdate(v: unknown): ValidationResult<SensorUpdate> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('not a JSON object');
  const o = v as Record<string, unknown>;
  const bad = common(o);
  if (bad) return fail(bad);
  const d = o.sensor_data;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return fail('sensor_data must be an object');
  for (const [k, x] of Object.entries(d)) {
    if (typeof x !== 'number' || !Number.isFinite(x)) return fail(`sensor_data.${k} must be a finite number`);
  }
  return { ok: true, value: o as unknown as SensorUpdate };
}

/** Validator of `device:update` messages. */
export function checkDeviceUpdate(v: unknown): ValidationResult<DeviceUpdate> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return fail('not a JSON object');
  const o = v as Record<string, unknown>;
  const bad = common(o);
  if (bad) return fail(bad);
  if (typeof o.device !== 'string' || o.device === '') return fail('device must be a non-empty string');
  if (typeof o.state !== 'number' || !Number.isFinite(o.state)) return fail('state must be a number');
  if (typeof o.mode !== 'string') return fail('mode must be a string');
  return { ok: true, value: o as unknown as DeviceUpdate };
}

export interface UpdateFeedEvents {
  sensor: [update: SensorUpdate];
  device: [update: DeviceUpdate];
}

export interface UpdateFeedStats {
  sensorUpdates: number;
  deviceUpdates: number;
  /** Messages that were not JSON or did not match the contract (counted and logged by the bus). */
  malformed: number;
}

/**
 * Listens to the broad `sensor:update` and `device:update` channels (every
 * update is published there too) with a bus {@link Subscriber}: malformed
 * messages are counted and logged, never forwarded. Keeps the latest state
 * of every device.
 */
export class UpdateFeed extends EventEmitter<UpdateFeedEvents> {
  readonly #devices = new Map<string, DeviceUpdate>();
  readonly #sub: Subscriber;
  #sensorUpdates = 0;
  #deviceUpdates = 0;

  private constructor(sub: Subscriber) {
    super();
    this.#sub = sub;
  }

  static async start(conn: Connection, log: Logger): Promise<UpdateFeed> {
    const sub = await Subscriber.create(conn, { logger: log, connection: { clientName: 'canopy-api-sub' } });
    const feed = new UpdateFeed(sub);
    try {
      await sub.subscribe<SensorUpdate>(
        SENSOR_CHANNEL,
        (u) => {
          feed.#sensorUpdates++;
          feed.emit('sensor', u);
        },
        { validate: checkSensorUpdate },
      );
      await sub.subscribe<DeviceUpdate>(
        DEVICE_CHANNEL,
        (u) => {
          feed.#deviceUpdates++;
          feed.#devices.set(u.device, u);
          feed.emit('device', u);
        },
        { validate: checkDeviceUpdate },
      );
    } catch (err) {
      await sub.close();
      throw err;
    }
    return feed;
  }

  get stats(): UpdateFeedStats {
    const s = this.#sub.stats.channels;
    return {
      sensorUpdates: this.#sensorUpdates,
      deviceUpdates: this.#deviceUpdates,
      malformed: (s[SENSOR_CHANNEL]?.malformed ?? 0) + (s[DEVICE_CHANNEL]?.malformed ?? 0),
    };
  }

  /** Latest known state of every device. */
  devices(): DeviceUpdate[] {
    return [...this.#devices.values()];
  }

  /** Whether the subscription connection is up. */
  get ready(): boolean {
    return this.#sub.health === 'ready';
  }

  async close(): Promise<void> {
    this.removeAllListeners();
    await this.#sub.close();
  }
}
