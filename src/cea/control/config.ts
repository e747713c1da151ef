import { YamlSource, describePath, formatProblems, schemaProblems } from '../config-errors.js';
import type { Condition, ControlSpec, DeviceFileEntry, DevicesFile, SetpointSpec, TargetRef } from './schema.js';
import { ControlSchema, DevicesFileSchema, HysteresisSchema, PidSchema, ScheduleSchema, VpdSchema } from './schema.js';
import { parseClock, validTimeZone } from './timezone.js';
import type { HardLimit, ManualPolicy } from './limits.js';
import { MAX_ON_REQUIRED, checkMaxOn, resolveHardLimit, resolveManual } from './limits.js';

export type Mode = 'auto' | 'manual' | 'off';
export type OnOff = 0 | 1;

/** Per-relay safety limits, in milliseconds. */
export interface SafetyLimits {
  /** @defaultValue 30 s */
  minOnMs: number;
  /** @defaultValue 30 s */
  minOffMs: number;
  /** @defaultValue 0 (no limit) — longest continuous on time. */
  maxOnMs: number;
  /** @defaultValue 30 — switch-ons (out of the safe state) per window; 0: no limit. */
  maxStarts: number;
  /** @defaultValue 3600 s */
  windowMs: number;
  /** @defaultValue 30 s — a sensor reading older than this drives the device to its safe state. */
  staleAfterMs: number;
}

export const SAFETY_DEFAULTS_S = { minOnS: 30, minOffS: 30, maxOnS: 0, maxStarts: 30, windowS: 3600, staleAfterS: 30 };

/** Where a device's relay is wired (same shape as the hardware layer's RelayOutput). */
export interface OutputSpec {
  address: number;
  port: 'A' | 'B';
  pin: number;
  activeLow: boolean;
}

/** One device, validated and with every default filled in. */
export interface DeviceConfig {
  name: string;
  /** @defaultValue the name — friendly name shown first on the dashboard. */
  label: string;
  location: string;
  cluster: string;
  kind: string;
  output: OutputSpec;
  safeState: OnOff;
  wattage: number | undefined;
  /** Mode before any command or persisted state. */
  initialMode: Mode;
  safety: SafetyLimits;
  control: ControlSpec | undefined;
  /** Devices that may never be on together with this one. */
  exclusive: string[];
  /** Every sensor the controller, its conditions and its hard limit read (the failsafe watches these in auto mode). */
  sensors: string[];
  /**
   * Sensors its safety depends on, watched in every mode (manual and off
   * included): the hard limit's sensor, and for heaters, CO2 valves and
   * humidifiers every sensor of their controller.
   */
  safetySensors: string[];
  /** Above this the device goes to its safe state in every mode. */
  hardLimit: HardLimit | undefined;
  /** The growth stage of its location (VPD targets). */
  stage: string | undefined;
}

/** The whole control configuration. */
export interface ControlConfig {
  /** @defaultValue `UTC` — IANA zone of schedules and of the on-time day boundaries. */
  timeZone: string;
  devices: DeviceConfig[];
  setpoints: Record<string, SetpointSpec>;
  /** Default and longest expiry of manual commands. */
  manual: ManualPolicy;
  /** location → growth stage (setpoint schedules by stage). */
  stages?: Record<string, string>;
}

/** The devices file is wrong; `problems` lists every finding, one line each. */
export class DeviceConfigError extends Error {
  readonly code = 'CONTROL_CONFIG';
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(formatProblems(source, 'devices', problems));
    this.name = 'DeviceConfigError';
    this.problems = problems;
  }
}

const CONTROL_SCHEMAS = { hysteresis: HysteresisSchema, vpd: VpdSchema, schedule: ScheduleSchema, pid: PidSchema };

/** Parses and validates a devices YAML document. */
export function parseDevicesYaml(text: string, source = 'devices.yaml'): ControlConfig {
  const yaml = YamlSource.parse(text, source);
  if ('problem' in yaml) throw new DeviceConfigError(source, [yaml.problem]);
  return validateDevicesConfig(yaml.value, source, yaml);
}

/**
 * Validates a parsed devices document and fills in defaults; throws
 * {@link DeviceConfigError} listing every problem (with its line when `yaml`,
 * the document's source, is given).
 */
export function validateDevicesConfig(doc: unknown, source = 'devices config', yaml?: YamlSource): ControlConfig {
  // Controls are validated by their own `type` so a mistake gets one message, not one per union branch.
  const shallow = structuredClone(doc) as { devices?: { control?: unknown }[] } | null;
  const controls: unknown[] = [];
  if (shallow && Array.isArray(shallow.devices)) {
    for (const d of shallow.devices) {
      controls.push(d?.control);
      if (d && typeof d === 'object' && d.control !== undefined)
        d.control = { type: 'schedule', on: '00:00', off: '00:01' };
    }
  }
  const shape = schemaProblems(DevicesFileSchema, shallow, yaml);
  if (shape.length) throw new DeviceConfigError(source, shape);
  const problems: string[] = [];
  controls.forEach((c, i) => {
    if (c === undefined) return;
    const type = (c as { type?: unknown } | null)?.type;
    const schema = CONTROL_SCHEMAS[type as keyof typeof CONTROL_SCHEMAS];
    if (!schema) {
      const pointer = `/devices/${i}/control/type`;
      const types = Object.keys(CONTROL_SCHEMAS).join(', ');
      problems.push(`${yaml?.at(pointer) ?? ''}${describePath(pointer, doc)} must be one of ${types}`);
      return;
    }
    problems.push(...schemaProblems(schema, c, yaml, `/devices/${i}/control`));
  });
  if (problems.length) throw new DeviceConfigError(source, problems);
  void ControlSchema;
  return semanticCheck(doc as DevicesFile, source, yaml);
}

function semanticCheck(file: DevicesFile, source: string, yaml: YamlSource | undefined): ControlConfig {
  const problems: string[] = [];
  /** Prefixes the problems found since `from` with the line of `pointer`. */
  const lineOf = (from: number, pointer: string) => {
    const at = yaml?.at(pointer);
    if (at) for (let k = from; k < problems.length; k++) problems[k] = at + problems[k];
  };
  let from = 0;
  const timeZone = file.timeZone ?? 'UTC';
  if (!validTimeZone(timeZone)) problems.push(`timeZone "${timeZone}" is not an IANA time zone (e.g. Europe/Berlin)`);
  lineOf(from, '/timeZone');
  const setpoints = file.setpoints ?? {};
  for (const [n, sp] of Object.entries(setpoints)) {
    from = problems.length;
    if (sp.min !== undefined && sp.max !== undefined && sp.min > sp.max) problems.push(`setpoints.${n}: min > max`);
    if ((sp.min !== undefined && sp.value < sp.min) || (sp.max !== undefined && sp.value > sp.max))
      problems.push(`setpoints.${n}: value ${sp.value} is outside [${sp.min ?? '-∞'}, ${sp.max ?? '∞'}]`);
    lineOf(from, `/setpoints/${n.replace(/~/g, '~0').replace(/\//g, '~1')}`);
  }
  const names = new Map<string, DeviceFileEntry>();
  const outputs = new Map<string, string>();
  file.devices.forEach((d, i) => {
    from = problems.length;
    if (names.has(d.name)) problems.push(`device name "${d.name}" is used twice`);
    names.set(d.name, d);
    const key = `0x${d.output.address.toString(16)}/${d.output.port}${d.output.pin}`;
    const other = outputs.get(key);
    if (other) problems.push(`devices ${other} and ${d.name} are wired to the same output ${key}`);
    outputs.set(key, d.name);
    lineOf(from, `/devices/${i}`);
  });
  const exclusive = new Map<string, Set<string>>();
  (file.exclusive ?? []).forEach((group, i) => {
    from = problems.length;
    for (const n of group) if (!names.has(n)) problems.push(`exclusive[${i}] names unknown device "${n}"`);
    const safeOn = group.filter((n) => names.get(n)?.safeState === 1);
    if (safeOn.length > 1) problems.push(`exclusive[${i}]: ${safeOn.join(' and ')} are both on in their safe state`);
    for (const n of group) {
      const s = exclusive.get(n) ?? new Set<string>();
      for (const m of group) if (m !== n) s.add(m);
      exclusive.set(n, s);
    }
    lineOf(from, `/exclusive/${i}`);
  });
  const target = (where: string, t: TargetRef) => {
    if (typeof t === 'string' && !(t in setpoints)) problems.push(`${where} names unknown setpoint "${t}"`);
  };
  from = problems.length;
  const manual = resolveManual(file, problems);
  lineOf(from, '/manual');
  from = problems.length;
  for (const loc of Object.keys(file.rooms ?? {}))
    if (!file.devices.some((d) => d.location === loc)) problems.push(`rooms["${loc}"]: no device is in this location`);
  for (const [loc, r] of Object.entries(file.rooms ?? {})) {
    if (r.maxTemp !== undefined) target(`rooms["${loc}"].maxTemp`, r.maxTemp);
    if (r.co2Ceiling !== undefined) target(`rooms["${loc}"].co2Ceiling`, r.co2Ceiling);
  }
  lineOf(from, '/rooms');
  const devices: DeviceConfig[] = file.devices.map((d, i) => {
    from = problems.length;
    const where = describePath(`/devices/${i}`, { devices: file.devices });
    // A file-wide maxOnS applies to devices whose safe state is off; on a device whose safe state is on it is an error.
    const s = { ...SAFETY_DEFAULTS_S, ...file.safety, ...(d.safeState === 1 ? { maxOnS: 0 } : {}), ...d.safety };
    if (s.maxOnS > 0 && s.maxOnS < s.minOnS)
      problems.push(`${where}.safety.maxOnS (${s.maxOnS}) < minOnS (${s.minOnS})`);
    if (s.maxOnS > 0 && d.safeState === 1)
      problems.push(`${where}.safety.maxOnS cannot be used with safeState 1 (its safe state is on)`);
    if (MAX_ON_REQUIRED.includes(d.kind) && d.safeState === 1)
      problems.push(`${where}.safeState: a ${d.kind} must be off in its safe state`);
    else checkMaxOn(d, s.maxOnS, `${where}.safety.maxOnS`, problems);
    const hardLimit = resolveHardLimit(d, file, problems);
    const sensors = new Set<string>();
    const c = d.control;
    const stage = file.stages?.[d.location];
    const checkWhen = (when: Condition[] | undefined) => {
      for (const w of when ?? []) {
        if ('device' in w) {
          if (!names.has(w.device)) problems.push(`${d.name}: condition names unknown device "${w.device}"`);
          if (w.device === d.name) problems.push(`${d.name}: a condition may not name the device itself`);
        } else {
          sensors.add(w.sensor);
          if (w.above === undefined && w.below === undefined)
            problems.push(`${d.name}: condition on ${w.sensor} needs "above" or "below"`);
          if (w.above !== undefined) target(`${d.name}: condition`, w.above);
          if (w.below !== undefined) target(`${d.name}: condition`, w.below);
        }
      }
    };
    if (c) {
      checkWhen(c.when);
      if (c.type === 'hysteresis' || c.type === 'pid') {
        sensors.add(c.sensor);
        target(`${d.name}: control.setpoint`, c.setpoint);
      } else if (c.type === 'vpd') {
        sensors.add(c.temp);
        sensors.add(c.rh);
        const stages = Object.keys(c.targets);
        if (stages.length === 0) problems.push(`${d.name}: control.targets needs at least one growth stage`);
        if (stage === undefined && stages.length > 1)
          problems.push(`${d.name}: stages["${d.location}"] must say which of ${stages.join(', ')} applies`);
        if (stage !== undefined && !(stage in c.targets))
          problems.push(`${d.name}: control.targets has no entry for stage "${stage}" of ${d.location}`);
        for (const [st, dn] of Object.entries(c.targets)) {
          target(`${d.name}: control.targets.${st}.day`, dn.day);
          target(`${d.name}: control.targets.${st}.night`, dn.night);
        }
        if ('device' in c.day && !names.has(c.day.device))
          problems.push(`${d.name}: control.day names unknown device "${c.day.device}"`);
        if ('on' in c.day && parseClock(c.day.on) === parseClock(c.day.off))
          problems.push(`${d.name}: control.day on and off are the same time`);
      } else if (c.type === 'schedule' && parseClock(c.on) === parseClock(c.off)) {
        problems.push(`${d.name}: control.on and control.off are the same time`);
      }
    }
    const controlSensors = [...sensors];
    if (hardLimit) sensors.add(hardLimit.sensor);
    const safetySensors = new Set<string>(hardLimit ? [hardLimit.sensor] : []);
    if (MAX_ON_REQUIRED.includes(d.kind)) for (const x of controlSensors) safetySensors.add(x);
    const vpdStage = c?.type === 'vpd' ? (stage ?? Object.keys(c.targets)[0]) : stage;
    lineOf(from, `/devices/${i}`);
    return {
      name: d.name,
      label: d.label ?? d.name,
      location: d.location,
      cluster: d.cluster,
      kind: d.kind,
      output: {
        address: d.output.address,
        port: d.output.port,
        pin: d.output.pin,
        activeLow: d.output.activeLow ?? false,
      },
      safeState: d.safeState,
      wattage: d.wattage,
      initialMode: d.mode ?? 'auto',
      safety: {
        minOnMs: s.minOnS * 1000,
        minOffMs: s.minOffS * 1000,
        maxOnMs: s.maxOnS * 1000,
        maxStarts: s.maxStarts,
        windowMs: s.windowS * 1000,
        staleAfterMs: s.staleAfterS * 1000,
      },
      control: c,
      exclusive: [...(exclusive.get(d.name) ?? [])],
      sensors: [...sensors],
      safetySensors: [...safetySensors],
      hardLimit,
      stage: vpdStage,
    };
  });
  if (problems.length) throw new DeviceConfigError(source, problems);
  return { timeZone, devices, setpoints: structuredClone(setpoints), manual, stages: { ...file.stages } };
}
