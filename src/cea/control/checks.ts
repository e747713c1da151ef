import type { DeviceConfig } from './config.js';
import type { Reading } from './controllers.js';
import type { TargetRef } from './schema.js';
import type { Runtime } from './types.js';

/**
 * Whether a device's watched sensors are stale at monotonic time `mono`:
 * a reading older than `limit` (from its receipt), or none since the start
 * for longer than `limit` (before that: waiting, safe state, no alarm).
 */
export function staleness(
  sensors: readonly string[],
  limit: number,
  mono: number,
  readings: ReadonlyMap<string, Reading>,
  startedAt: number,
): { reason: string; failsafe: boolean } | undefined {
  for (const s of sensors) {
    const r = readings.get(s);
    if (!r) {
      const waited = mono - startedAt;
      return waited > limit
        ? {
            reason: `failsafe: no reading of ${s} for ${Math.round(waited / 1000)} s (limit ${limit / 1000} s)`,
            failsafe: true,
          }
        : { reason: `waiting for the first reading of ${s}`, failsafe: false };
    }
    const age = mono - r.at;
    if (age > limit)
      return {
        reason: `failsafe: ${s} is stale (last reading ${Math.round(age / 100) / 10} s ago, limit ${limit / 1000} s)`,
        failsafe: true,
      };
  }
  return undefined;
}

/** The hard limit a device is over, described; undefined when within it (or without one). */
export function overLimit(
  d: DeviceConfig,
  readings: ReadonlyMap<string, Reading>,
  setpoint: (ref: TargetRef) => number,
): string | undefined {
  const hl = d.hardLimit;
  if (!hl) return undefined;
  const r = readings.get(hl.sensor);
  const limit = setpoint(hl.above);
  if (!r || !(r.value > limit)) return undefined;
  return `${hl.sensor} ${Math.round(r.value * 100) / 100} above the ${hl.what} ${limit}`;
}

/**
 * Why a manual on cannot be done at all, or undefined: an exclusive partner
 * is on, or the room is over the device's hard limit. (Turning off, and
 * devices whose safe state is on, are never refused here.)
 */
export function manualOnRefusal(
  rt: Runtime,
  runtime: (name: string) => Runtime | undefined,
  readings: ReadonlyMap<string, Reading>,
  setpoint: (ref: TargetRef) => number,
): string | undefined {
  const d = rt.cfg;
  if (d.safeState === 1) return undefined;
  const partner = d.exclusive.map(runtime).find((x) => x !== undefined && x.guard.on);
  if (partner) return `${partner.cfg.label} (${partner.cfg.name}) is on and never runs together with ${d.label}`;
  const limit = overLimit(d, readings, setpoint);
  return limit ? `hard limit: ${limit}` : undefined;
}
