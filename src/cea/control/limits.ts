import { formatDuration } from './clock.js';
import type { ControlSpec, DeviceFileEntry, DevicesFile, TargetRef } from './schema.js';

/** Kinds that can do harm when left on: they must have a maximum on time (`safety.maxOnS > 0`). */
export const MAX_ON_REQUIRED: readonly string[] = ['heater', 'co2_valve', 'humidifier'];

/** Kinds whose manual-on must expire: "until changed" is refused for them. */
export const NO_UNTIL_CHANGED: readonly string[] = ['heater', 'co2_valve'];

/** A limit no mode overrides: above it the device goes to its safe state. */
export interface HardLimit {
  sensor: string;
  above: TargetRef;
  /** e.g. `Flower Room maximum temperature`. */
  what: string;
}

/** What manual commands may do, in milliseconds. */
export interface ManualPolicy {
  /** @defaultValue 3600 s — a manual or off command without `ttl_s` ends after this. */
  defaultExpiryMs: number;
  /** @defaultValue 86400 s — the longest `ttl_s` accepted and the longest a restored expiry may still run. */
  maxExpiryMs: number;
}

export const MANUAL_DEFAULTS_S = { defaultExpiryS: 3600, maxExpiryS: 86_400 };

export function resolveManual(file: DevicesFile, problems: string[]): ManualPolicy {
  const m = { ...MANUAL_DEFAULTS_S, ...file.manual };
  if (m.defaultExpiryS > m.maxExpiryS)
    problems.push(`manual.defaultExpiryS (${m.defaultExpiryS}) > manual.maxExpiryS (${m.maxExpiryS})`);
  return { defaultExpiryMs: m.defaultExpiryS * 1000, maxExpiryMs: m.maxExpiryS * 1000 };
}

/** The sensor a controller regulates on (its temperature for VPD), if any. */
function controlSensor(c: ControlSpec | undefined): string | undefined {
  if (!c) return undefined;
  if (c.type === 'hysteresis' || c.type === 'pid') return c.sensor;
  if (c.type === 'vpd') return c.temp;
  return undefined;
}

/**
 * The hard limit of a device from its room (`rooms.<location>`): heaters
 * off above `maxTemp`, CO2 valves closed above `co2Ceiling`. The sensor is
 * the device's `limitSensor`, else its controller's; a limit without a
 * sensor is a configuration problem.
 */
export function resolveHardLimit(d: DeviceFileEntry, file: DevicesFile, problems: string[]): HardLimit | undefined {
  const room = file.rooms?.[d.location];
  let above: TargetRef | undefined;
  let what = '';
  if (d.kind === 'heater' && room?.maxTemp !== undefined) {
    above = room.maxTemp;
    what = `${d.location} maximum temperature`;
  } else if (d.kind === 'co2_valve' && room?.co2Ceiling !== undefined) {
    above = room.co2Ceiling;
    what = `${d.location} CO2 ceiling`;
  }
  if (d.limitSensor !== undefined && above === undefined)
    problems.push(`${d.name}: limitSensor is set but rooms["${d.location}"] has no limit for a ${d.kind}`);
  if (above === undefined) return undefined;
  const sensor = d.limitSensor ?? controlSensor(d.control);
  if (!sensor) {
    problems.push(
      `${d.name}: rooms["${d.location}"] sets the ${what}; name the sensor that measures it in limitSensor`,
    );
    return undefined;
  }
  return { sensor, above, what };
}

/** Problems with a device's maximum on time, naming the device and the field. */
export function checkMaxOn(d: DeviceFileEntry, maxOnS: number, where: string, problems: string[]): void {
  if (MAX_ON_REQUIRED.includes(d.kind) && !(maxOnS > 0))
    problems.push(
      `${where}: a ${d.kind} needs safety.maxOnS > 0 (the longest it may stay on; set it in the device's safety or the file's safety)`,
    );
}

/**
 * How long a command's mode lasts (null: until changed, or auto), or why it
 * is refused: "until changed" for a heater's or CO2 valve's manual on, a
 * `ttl_s` beyond `maxExpiryMs`.
 */
export function manualExpiry(
  cmd: { device: string; mode: string; state?: 0 | 1; ttl_s?: number; until_changed?: true },
  kind: string,
  m: ManualPolicy,
): { ok: true; ttlMs: number | null } | { ok: false; error: string } {
  if (cmd.until_changed && cmd.mode === 'manual' && cmd.state === 1 && NO_UNTIL_CHANGED.includes(kind))
    return {
      ok: false,
      error: `${cmd.device} is a ${kind}: manual on "until changed" is refused; give ttl_s (at most ${m.maxExpiryMs / 1000} s) or leave it out for the default ${formatDuration(m.defaultExpiryMs)}`,
    };
  if (cmd.ttl_s !== undefined && cmd.ttl_s * 1000 > m.maxExpiryMs)
    return {
      ok: false,
      error: `ttl_s ${cmd.ttl_s} is longer than the longest manual expiry, ${m.maxExpiryMs / 1000} s (manual.maxExpiryS)`,
    };
  if (cmd.mode === 'auto' || cmd.until_changed) return { ok: true, ttlMs: null };
  return { ok: true, ttlMs: cmd.ttl_s !== undefined ? cmd.ttl_s * 1000 : m.defaultExpiryMs };
}
