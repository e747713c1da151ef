import { EventEmitter } from 'node:events';
import type { Connection } from '../../bus/connection.js';
import { Subscriber } from '../../bus/subscriber.js';
import { checkDeviceUpdate, checkSensorUpdate, type DeviceUpdate, type SensorUpdate } from '../../contracts/updates.js';
import { DEVICE_UPDATE, SENSOR_UPDATE, deviceLastKey } from '../../contracts/names.js';
import type { Logger } from '../../util/log.js';

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
  #seedRejected = 0;

  private constructor(sub: Subscriber) {
    super();
    this.#sub = sub;
  }

  static async start(conn: Connection, log: Logger): Promise<UpdateFeed> {
    const sub = await Subscriber.create(conn, { logger: log, connection: { clientName: 'canopy-api-sub' } });
    const feed = new UpdateFeed(sub);
    try {
      await sub.subscribe<SensorUpdate>(
        SENSOR_UPDATE,
        (u) => {
          feed.#sensorUpdates++;
          feed.emit('sensor', u);
        },
        { validate: checkSensorUpdate },
      );
      await sub.subscribe<DeviceUpdate>(
        DEVICE_UPDATE,
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
      malformed: (s[SENSOR_UPDATE]?.malformed ?? 0) + (s[DEVICE_UPDATE]?.malformed ?? 0) + this.#seedRejected,
    };
  }

  /**
   * Fills in the devices no update has named yet from the automation's
   * `device:<name>:last` keys, so an API that starts after the automation
   * lists every device at once. Live updates win; a key that is missing or
   * does not match the contract is skipped (and counted as malformed).
   */
  async seed(conn: Connection, devices: readonly string[]): Promise<number> {
    if (devices.length === 0) return 0;
    const keys = devices.map(deviceLastKey);
    const raw = await conn.run('MGET device:*:last', (c) => c.mGet(keys));
    let seeded = 0;
    for (const text of raw) {
      if (text === null) continue;
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch {
        this.#seedRejected++;
        continue;
      }
      const checked = checkDeviceUpdate(value);
      if (!checked.ok) {
        this.#seedRejected++;
        continue;
      }
      if (this.#devices.has(checked.value.device)) continue;
      this.#devices.set(checked.value.device, checked.value);
      seeded++;
    }
    return seeded;
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
