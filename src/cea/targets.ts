import { formatProblems } from './config-errors.js';
import type { ControlConfig, DeviceConfig } from './control/config.js';
import { BAND_QUANTITIES, type BandQuantity, type BandSpec, type TargetsFile } from './targets-schema.js';

export { BAND_QUANTITIES, type BandQuantity, type BandSpec, type TargetsFile };

/**
 * What a room's values should be, per growth stage: the `targets:` block of
 * config/devices.yaml, and the defaults derived from the controllers'
 * setpoints and the room limits when it says nothing.
 *
 * ```yaml
 * targets:
 *   Flower Room:
 *     flower:
 *       rh: { low: 45, high: 60, alarmLow: 35, alarmHigh: 70 }
 *       temperature: { target: temp_flower, alarmHigh: temp_flower_max }
 * ```
 * Every number may be the name of a setpoint (as controllers' targets are).
 */

/** A band with every reference resolved to a number. */
export interface Band {
  target?: number;
  low?: number;
  high?: number;
  alarmLow?: number;
  alarmHigh?: number;
}

const FIELDS = ['target', 'low', 'high', 'alarmLow', 'alarmHigh'] as const;

/** The `targets:` block names unknown setpoints or has bands in the wrong order. */
export class TargetsConfigError extends Error {
  readonly code = 'TARGETS_CONFIG';
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(formatProblems(source, 'devices (targets)', problems));
    this.name = 'TargetsConfigError';
    this.problems = problems;
  }
}

/** Checks what the schema cannot: setpoint names exist, alarmLow ≤ low ≤ target ≤ high ≤ alarmHigh. */
export function checkTargets(targets: TargetsFile | undefined, cfg: ControlConfig, source = 'devices.yaml'): void {
  const problems: string[] = [];
  for (const [location, stages] of Object.entries(targets ?? {})) {
    for (const [stage, qs] of Object.entries(stages)) {
      for (const [q, band] of Object.entries(qs) as [string, BandSpec][]) {
        const where = `targets["${location}"].${stage}.${q}`;
        const v: Band = {};
        for (const f of FIELDS) {
          const ref = band[f];
          if (typeof ref === 'string' && !(ref in cfg.setpoints))
            problems.push(`${where}.${f} names unknown setpoint "${ref}"`);
          else if (ref !== undefined) v[f] = typeof ref === 'number' ? ref : cfg.setpoints[ref]!.value;
        }
        const order = FIELDS.filter((f) => v[f] !== undefined).sort((a, b) => rankOf(a) - rankOf(b));
        for (let i = 1; i < order.length; i++) {
          const [a, b] = [order[i - 1]!, order[i]!];
          if (v[a]! > v[b]!) problems.push(`${where}: ${a} (${v[a]}) is above ${b} (${v[b]})`);
        }
      }
    }
  }
  if (problems.length) throw new TargetsConfigError(source, problems);
}

function rankOf(f: (typeof FIELDS)[number]): number {
  return ['alarmLow', 'low', 'target', 'high', 'alarmHigh'].indexOf(f);
}

/** What the bands of one room are computed from. */
export interface BandInput {
  cfg: ControlConfig;
  targets: TargetsFile | undefined;
  /** The devices file's `rooms:` (hard limits: maxTemp, co2Ceiling). */
  limits: Record<string, { maxTemp?: number | string; co2Ceiling?: number | string }> | undefined;
  location: string;
  cluster: string;
  /** The room's stage (cycle, else `stages:`); undefined: the first stage a VPD controller knows. */
  stage: string | undefined;
  /** Current setpoint values (persisted changes over the file's). */
  setpoints: Record<string, number>;
  /** Lights on (day targets of VPD, CO2 dosing). */
  day: boolean;
  /** The room's air temperature sensor: only a heater controlling it gives the temperature band. */
  temperatureSensor?: string | undefined;
}

/** Generic humidity band when nothing is configured (no controller sets RH directly). */
export const RH_DEFAULT: Band = { low: 40, high: 70, alarmLow: 30, alarmHigh: 80 };

/**
 * The bands of a room (location/cluster) at its stage: the configured
 * `targets:` entry, field by field over the defaults derived from its
 * controllers — temperature from a heater's setpoint (±2 °C, alarm −5 °C
 * and the room's maxTemp), leaf VPD from the VPD controller's day/night
 * target (±2 × its band, alarm ±0.5 kPa), CO2 from the valve's setpoint
 * (±2 × its band by day, alarm at the room's co2Ceiling), RH 40–70 %
 * (alarm 30/80 %).
 */
export function bandsFor(input: BandInput): Partial<Record<BandQuantity, Band>> {
  const { cfg, location, cluster } = input;
  const value = (ref: number | string | undefined): number | undefined =>
    ref === undefined ? undefined : typeof ref === 'number' ? ref : (input.setpoints[ref] ?? cfg.setpoints[ref]?.value);
  const here = cfg.devices.filter((d) => d.location === location && d.cluster === cluster);
  const room = input.limits?.[location];
  const out: Partial<Record<BandQuantity, Band>> = {};

  const heater = here.find(
    (d) =>
      controlAction(d) === 'raise' &&
      /heat/.test(d.kind) &&
      (input.temperatureSensor === undefined || controlSensor(d) === input.temperatureSensor),
  );
  const maxTemp = value(room?.maxTemp);
  if (heater && (heater.control?.type === 'hysteresis' || heater.control?.type === 'pid')) {
    const t = value(heater.control.setpoint);
    if (t !== undefined) {
      out.temperature = clean({
        target: t,
        low: t - 2,
        high: maxTemp !== undefined ? Math.min(t + 2, maxTemp) : t + 2,
        alarmLow: t - 5,
        alarmHigh: maxTemp ?? t + 5,
      });
    }
  } else if (maxTemp !== undefined) out.temperature = { alarmHigh: maxTemp };

  const vpd = here.find((d) => d.control?.type === 'vpd');
  const stage = input.stage ?? vpd?.stage;
  if (vpd?.control?.type === 'vpd' && stage !== undefined) {
    const dn = vpd.control.targets[stage];
    const t = value(dn ? (input.day ? dn.day : dn.night) : undefined);
    if (t !== undefined) {
      const w = 2 * vpd.control.band;
      out.vpd_leaf = clean({ target: t, low: t - w, high: t + w, alarmLow: Math.max(0, t - 0.5), alarmHigh: t + 0.5 });
    }
  }

  out.rh = { ...RH_DEFAULT };

  const co2 = here.find((d) => d.kind.startsWith('co2') && d.control?.type === 'hysteresis');
  const ceiling = value(room?.co2Ceiling);
  if (co2?.control?.type === 'hysteresis') {
    const t = value(co2.control.setpoint);
    if (t !== undefined) {
      const w = 2 * co2.control.band;
      const high = ceiling !== undefined ? Math.min(t + w, ceiling) : t + w;
      out.co2 = clean({ target: t, low: input.day ? t - w : undefined, high, alarmHigh: ceiling });
    }
  } else if (ceiling !== undefined) out.co2 = { alarmHigh: ceiling };

  const configured = stage !== undefined ? input.targets?.[location]?.[stage] : undefined;
  for (const q of BAND_QUANTITIES) {
    const spec = configured?.[q];
    if (!spec) continue;
    const band: Band = { ...(out[q] ?? {}) };
    for (const f of FIELDS) {
      const v = value(spec[f]);
      if (v !== undefined) band[f] = v;
    }
    out[q] = band;
  }
  return out;
}

function controlAction(d: DeviceConfig): 'raise' | 'lower' | undefined {
  const c = d.control;
  return c && 'action' in c ? c.action : undefined;
}

function controlSensor(d: DeviceConfig): string | undefined {
  const c = d.control;
  return c && 'sensor' in c ? c.sensor : undefined;
}

function clean(b: Band): Band {
  const out: Band = {};
  for (const f of FIELDS) {
    const v = b[f];
    if (v !== undefined && Number.isFinite(v)) out[f] = Math.round(v * 1000) / 1000;
  }
  return out;
}
