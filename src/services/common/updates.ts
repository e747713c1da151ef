import type { DeviceUpdate, SensorUpdate } from '../../contracts/updates.js';

export { checkDeviceUpdate, checkSensorUpdate } from '../../contracts/updates.js';
export type { DeviceUpdate, SensorUpdate };

/** The unix ms of an update's ISO timestamp (now when it does not parse). */
export function updateTime(u: { timestamp: string }): number {
  const t = Date.parse(u.timestamp);
  return Number.isFinite(t) ? t : Date.now();
}

/**
 * Whether a `device:update` reports the device in its failsafe state, and
 * why. The automation service marks those with `mode: "failsafe"`, or
 * `failsafe: true`, or a `source`/`reason` naming the failsafe; any of them counts.
 */
export function failsafeOf(u: DeviceUpdate): { failsafe: boolean; reason: string | undefined } {
  const o = u as DeviceUpdate & { failsafe?: unknown; source?: unknown; reason?: unknown };
  const reason = typeof o.reason === 'string' ? o.reason : undefined;
  const failsafe =
    o.failsafe === true ||
    o.mode === 'failsafe' ||
    o.source === 'failsafe' ||
    (reason !== undefined && /^failsafe/i.test(reason));
  return { failsafe, reason };
}

/** Every numeric reading of a sensor update. */
export function readingsOf(u: SensorUpdate): [sensor: string, value: number][] {
  return Object.entries(u.sensor_data).filter(([, v]) => typeof v === 'number' && Number.isFinite(v));
}
