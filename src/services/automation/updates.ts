import type { DeviceChange } from '../../cea/control/engine.js';

/** `device:update` message (SPEC §2). */
export function deviceUpdate(c: Pick<DeviceChange, 'location' | 'cluster' | 'device' | 'to' | 'mode' | 'at'>) {
  return {
    location: c.location,
    cluster: c.cluster,
    device: c.device,
    state: c.to,
    mode: c.mode,
    timestamp: new Date(c.at).toISOString(),
  };
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
