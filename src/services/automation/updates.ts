import type { DeviceChange, DeviceNotice } from '../../cea/control/engine.js';
import type { DeviceUpdate } from '../../contracts/updates.js';

/** The `device:update` of a change of output or mode. */
export function deviceUpdate(
  c: Pick<DeviceChange, 'location' | 'cluster' | 'device' | 'to' | 'mode' | 'at'> & { reason?: string },
  simulated = false,
): DeviceUpdate {
  return {
    location: c.location,
    cluster: c.cluster,
    device: c.device,
    state: c.to,
    mode: c.mode,
    timestamp: new Date(c.at).toISOString(),
    ...(c.reason !== undefined ? { reason: c.reason } : {}),
    ...(simulated ? { simulated: true as const } : {}),
  };
}

/** The `device:update` of a hold-back or a refused command: the device's unchanged state and why. */
export function noticeUpdate(n: DeviceNotice, simulated = false): DeviceUpdate {
  return deviceUpdate({ ...n, to: n.state }, simulated);
}

/**
 * A stream entry written field by field (`XADD actuators:commands * device
 * heater_f state 1 mode manual by bob`): numbers typed back.
 */
export function fieldsToCommand(f: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...f };
  for (const k of ['state', 'ttl_s', 'value'] as const) {
    if (f[k] !== undefined && f[k] !== '' && Number.isFinite(Number(f[k]))) out[k] = Number(f[k]);
  }
  return out;
}
