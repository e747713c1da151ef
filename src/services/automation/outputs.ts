import type { Connection } from '../../bus/connection.js';
import { Publisher } from '../../bus/topics.js';
import { DEVICE_UPDATE } from '../../contracts/names.js';
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
    this.#eventsChannel = parts.eventsChannel;
    this.#simulated = parts.simulated;
    this.#recorder = parts.recorder;
    this.#log = parts.log;
    this.#onFailure = parts.onFailure;
  }

  /** A change of output or mode. */
  change(c: Parameters<typeof deviceUpdate>[0]) {
    return this.#pub
      .publishTopic(DEVICE_UPDATE, [c.location, c.cluster], deviceUpdate(c, this.#simulated))
      .catch(() => this.#onFailure());
  }

  /** A hold-back or a refused command: the device's unchanged state and why. */
  notice(n: DeviceNotice): Promise<unknown> {
    return this.#pub
      .publishTopic(DEVICE_UPDATE, [n.location, n.cluster], noticeUpdate(n, this.#simulated))
      .catch(() => this.#onFailure());
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
