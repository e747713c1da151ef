import type { Connection } from '../../bus/connection.js';
import { Publisher } from '../../bus/topics.js';
import { DEVICE_UPDATE, deviceLastKey } from '../../contracts/names.js';
import type { DeviceUpdate } from '../../contracts/updates.js';
import type { ControlEvent, DeviceNotice, DeviceStatus } from '../../cea/control/engine.js';
import type { Logger } from '../../util/log.js';
import type { ControlRecorder } from './recorder.js';
import { deviceUpdate, noticeUpdate } from './updates.js';

/**
 * What the automation tells the rest of the system: `device:update` on its
 * three levels for every change and notice, and `automation:events` (plus
 * the control history) for every event. Nothing here is awaited by the
 * control loop: messages are pipelined on one connection, in order, and a
 * failed publish is counted through `onFailure`.
 */
export class ControlOutputs {
  readonly #pub: Publisher;
  readonly #conn: Connection;
  readonly #eventsChannel: string;
  readonly #simulated: boolean;
  readonly #recorder: ControlRecorder;
  readonly #log: Logger;
  readonly #onFailure: () => void;

  constructor(
    conn: Connection,
    parts: {
      eventsChannel: string;
      simulated: boolean;
      recorder: ControlRecorder;
      log: Logger;
      onFailure: () => void;
    },
  ) {
    this.#pub = new Publisher(conn);
    this.#conn = conn;
    this.#eventsChannel = parts.eventsChannel;
    this.#simulated = parts.simulated;
    this.#recorder = parts.recorder;
    this.#log = parts.log;
    this.#onFailure = parts.onFailure;
  }

  /** A change of output or mode. */
  change(c: Parameters<typeof deviceUpdate>[0]) {
    return this.#send(deviceUpdate(c, this.#simulated));
  }

  /** A hold-back or a refused command: the device's unchanged state and why. */
  notice(n: DeviceNotice): Promise<unknown> {
    return this.#send(noticeUpdate(n, this.#simulated));
  }

  /** Publishes an update on its three channels and keeps it (without the command answer) as the device's last. */
  #send(u: DeviceUpdate): Promise<unknown> {
    const { command: _answer, ...last } = u;
    const key = deviceLastKey(u.device);
    return Promise.all([
      this.#pub.publishTopic(DEVICE_UPDATE, [u.location, u.cluster], u),
      this.#conn.run(`SET ${key}`, (c) => c.set(key, JSON.stringify(last))),
    ]).catch(() => this.#onFailure());
  }

  /** Logs an event, records it with the device's state (when it names one) and publishes it. */
  event(e: ControlEvent, device: DeviceStatus | undefined): Promise<unknown> {
    const level = e.type === 'failsafe' || e.type === 'fault' ? 'warn' : 'info';
    this.#log[level]({ device: e.device, event: e.type, by: e.by }, e.message);
    if (device) this.#recorder.event(e, device);
    const msg = {
      type: e.type,
      device: e.device ?? null,
      message: e.message,
      by: e.by ?? null,
      timestamp: new Date(e.at).toISOString(),
    };
    return this.#pub.publish(this.#eventsChannel, msg).catch(() => this.#onFailure());
  }
}
