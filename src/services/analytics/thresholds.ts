import fs from 'node:fs';
import { ConfigError } from '../../bus/errors.js';
import { parseDevicesYaml, type ControlConfig } from '../../cea/control/config.js';
import type { TargetRef } from '../../cea/control/schema.js';
import { globMatch, type AlertRulesConfig } from '../../cea/alerts/engine.js';

/**
 * The levels a sensor should not cross, and when its trend will cross them.
 * They come from the configured limits (`--limit`), the setpoints and hard
 * limits of `devices.yaml`, the VPD band of the room, and the rules of
 * `alerts.yaml`.
 */

export type ThresholdSource = 'config' | 'setpoint' | 'limit' | 'vpd-band' | 'alert';

/** A level a sensor (name or glob) is watched against. */
export interface ThresholdSpec {
  sensor: string;
  /** Setpoint name, limit description, rule id, … */
  name: string;
  value: number;
  /** `above`: crossed when the value rises above it (an upper limit); `below`: when it falls below. */
  crossing: 'above' | 'below';
  source: ThresholdSource;
}

/** A threshold of one sensor with its estimate, as published. */
export interface ThresholdEta {
  name: string;
  value: number;
  crossing: 'above' | 'below';
  source: ThresholdSource;
  /** The last reading is past it already. */
  crossed: boolean;
  /** Seconds until the trend reaches it; 0 when crossed; null when the trend does not approach it (or only beyond the horizon). */
  eta_s: number | null;
  /** ISO-8601 UTC of that moment, or null. */
  eta_at: string | null;
}

/** `co2_*=400:1500`, `dry_bulb_f=:30`, `water_temp=18:` → lower/upper limits of the configured source. */
export function parseLimit(text: string): ThresholdSpec[] {
  const eq = text.lastIndexOf('=');
  const m = /^(-?[\d.]*):(-?[\d.]*)$/.exec(eq > 0 ? text.slice(eq + 1) : '');
  const lo = m?.[1] ? Number(m[1]) : undefined;
  const hi = m?.[2] ? Number(m[2]) : undefined;
  if (
    !m ||
    (lo === undefined && hi === undefined) ||
    (lo !== undefined && !Number.isFinite(lo)) ||
    (hi !== undefined && !Number.isFinite(hi)) ||
    (lo !== undefined && hi !== undefined && lo >= hi)
  )
    throw new ConfigError(`a limit is SENSOR=LOW:HIGH (either side may be empty, LOW < HIGH), got "${text}"`);
  const sensor = text.slice(0, eq);
  const out: ThresholdSpec[] = [];
  if (lo !== undefined) out.push({ sensor, name: 'low limit', value: lo, crossing: 'below', source: 'config' });
  if (hi !== undefined) out.push({ sensor, name: 'high limit', value: hi, crossing: 'above', source: 'config' });
  return out;
}

function resolve(cfg: ControlConfig, t: TargetRef): { name: string; value: number } | undefined {
  if (typeof t === 'number') return { name: String(t), value: t };
  const sp = cfg.setpoints[t];
  return sp ? { name: t, value: sp.value } : undefined;
}

/**
 * Setpoints of the hysteresis and PID controllers (a `raise` controller's
 * setpoint is a lower level, a `lower` one's an upper level) and the rooms'
 * hard limits (upper).
 */
export function thresholdsFromDevices(cfg: ControlConfig): ThresholdSpec[] {
  const setpoints: ThresholdSpec[] = [];
  const limits: ThresholdSpec[] = [];
  for (const d of cfg.devices) {
    const c = d.control;
    if (c && (c.type === 'hysteresis' || c.type === 'pid')) {
      const sp = resolve(cfg, c.setpoint);
      if (sp)
        setpoints.push({
          sensor: c.sensor,
          name: typeof c.setpoint === 'string' ? sp.name : `${d.name} setpoint`,
          value: sp.value,
          crossing: c.action === 'raise' ? 'below' : 'above',
          source: 'setpoint',
        });
    }
    const v = d.hardLimit && resolve(cfg, d.hardLimit.above);
    if (d.hardLimit && v)
      limits.push({
        sensor: d.hardLimit.sensor,
        name: d.hardLimit.what,
        value: v.value,
        crossing: 'above',
        source: 'limit',
      });
  }
  // a setpoint names the level better than the hard limit at the same level
  return [...setpoints, ...limits];
}

/** Reads `devices.yaml`; a missing or invalid file is a {@link ConfigError}. */
export function loadDeviceThresholds(file: string): ThresholdSpec[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigError(`cannot read the devices file ${file}`, { cause });
  }
  try {
    return thresholdsFromDevices(parseDevicesYaml(text, file));
  } catch (cause) {
    throw new ConfigError(`the devices file ${file} is invalid: ${(cause as Error).message}`, { cause });
  }
}

/** The `above`/`below` levels of the alert rules. */
export function thresholdsFromAlertRules(cfg: Pick<AlertRulesConfig, 'rules'>): ThresholdSpec[] {
  const out: ThresholdSpec[] = [];
  for (const r of cfg.rules) {
    if (r.above !== undefined)
      out.push({ sensor: r.sensor, name: r.id, value: r.above, crossing: 'above', source: 'alert' });
    if (r.below !== undefined)
      out.push({ sensor: r.sensor, name: r.id, value: r.below, crossing: 'below', source: 'alert' });
  }
  return out;
}

/** The thresholds of one sensor: first source wins for equal level and direction. */
export function thresholdsOf(sensor: string, specs: ThresholdSpec[]): ThresholdSpec[] {
  const out: ThresholdSpec[] = [];
  for (const s of specs) {
    if (!globMatch(s.sensor, sensor)) continue;
    if (out.some((o) => o.crossing === s.crossing && o.value === s.value)) continue;
    out.push(s);
  }
  return out;
}

/**
 * When a value at `last` (read at `lastAt`), moving `slopePerH` units per
 * hour, reaches a threshold; estimates further than `horizonS` are null.
 */
export function estimate(
  t: ThresholdSpec,
  last: number,
  lastAt: number,
  slopePerH: number | null,
  horizonS: number,
): ThresholdEta {
  const crossed = t.crossing === 'above' ? last > t.value : last < t.value;
  const base = { name: t.name, value: t.value, crossing: t.crossing, source: t.source, crossed };
  if (crossed) return { ...base, eta_s: 0, eta_at: new Date(lastAt).toISOString() };
  const towards = slopePerH !== null && (t.crossing === 'above' ? slopePerH > 0 : slopePerH < 0);
  if (!towards) return { ...base, eta_s: null, eta_at: null };
  const s = Math.round(((t.value - last) / (slopePerH as number)) * 3600);
  if (!(s <= horizonS)) return { ...base, eta_s: null, eta_at: null };
  return { ...base, eta_s: s, eta_at: new Date(lastAt + s * 1000).toISOString() };
}

/** The soonest threshold not yet crossed that the trend approaches, or null. */
export function nextOf(etas: ThresholdEta[]): ThresholdEta | null {
  let best: ThresholdEta | null = null;
  for (const e of etas)
    if (!e.crossed && e.eta_s !== null && (best === null || e.eta_s < (best.eta_s as number))) best = e;
  return best;
}
