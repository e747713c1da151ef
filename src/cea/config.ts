import fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { loadDbcFile, type DbcDatabase } from '../can/dbc/index.js';
import { defaultConfigFile } from '../can/paths.js';

/**
 * The pipeline's configuration files: the DBC (how frames decode), the node
 * map (which node is where and which signal is which sensor) and the sensor
 * settings (ranges, rates, calibration, psychrometer constants). All three
 * are shipped in `config/` and replaceable: option, else environment
 * (`CANOPY_DBC`, `CANOPY_NODES`, `CANOPY_SENSORS`), else the shipped file.
 */

export class CeaConfigError extends Error {
  readonly code = 'CEA_CONFIG' as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CeaConfigError';
  }
}

export interface NodeConfig {
  node: number;
  location: string;
  cluster: string;
  /** `f` → `dry_bulb_f`; empty → `dry_bulb`. */
  suffix: string;
  /** Message type names this node sends (they define its sensors). */
  messages: string[];
  /** Explicit sensor names by base, overriding base + suffix. */
  sensors: Record<string, string>;
}

export interface PsychrometerNames {
  dry: string;
  wet: string;
  pressure: string;
  rh: string;
  vpd: string;
}

export interface NodeMap {
  idScheme: { nodeShift: number; typeMask: number };
  /** Type code → type name. */
  messageTypes: Map<number, string>;
  /** Type name → DBC signal → sensor base. */
  signals: Record<string, Record<string, string>>;
  /** Type name → fault signal and the bit that invalidates each signal. */
  faults: Record<string, { signal: string; bits: Record<string, number> }>;
  psychrometer: PsychrometerNames | null;
  nodes: NodeConfig[];
}

export interface KindLimits {
  unit: string;
  min: number;
  max: number;
  /** Largest plausible change per second; 0 disables the rate check. */
  maxRatePerSecond: number;
}

export interface SensorSettings {
  kinds: Record<string, KindLimits>;
  /** Sensor base → kind. */
  bases: Record<string, string>;
  /** Per-sensor overrides of the kind's limits. */
  limits: Record<string, Partial<Omit<KindLimits, 'unit'>>>;
  /** Per-sensor calibration: value = raw × gain + offset. */
  calibration: Record<string, { offset: number; gain: number }>;
  psychrometer: {
    /** @defaultValue 0.000662 /°C (FAO-56, ventilated) */
    coefficient: number;
    /** @defaultValue 0.3 °C */
    dryWickMarginC: number;
    /** @defaultValue 101.325 kPa */
    defaultPressureKpa: number;
    /** @defaultValue 5 % */
    rhTolerancePct: number;
    /** @defaultValue 5000 ms */
    pairWindowMs: number;
  };
  rateOfChange: {
    /** @defaultValue 1 s */
    minWindowS: number;
    /** @defaultValue 5 */
    resetAfter: number;
  };
}

/** Where the three files come from. */
export interface PipelineConfigOptions {
  /** @defaultValue `CANOPY_DBC`, else the shipped `config/canopy.dbc` */
  dbcPath: string;
  /** @defaultValue `CANOPY_NODES`, else the shipped `config/nodes.yaml` */
  nodesPath: string;
  /** @defaultValue `CANOPY_SENSORS`, else the shipped `config/sensors.yaml` */
  sensorsPath: string;
}

export interface PipelineConfig {
  paths: PipelineConfigOptions;
  dbc: DbcDatabase;
  nodeMap: NodeMap;
  sensors: SensorSettings;
}

export function resolvePipelinePaths(
  opts: Partial<PipelineConfigOptions> = {},
  env: NodeJS.ProcessEnv = process.env,
): PipelineConfigOptions {
  return {
    dbcPath: opts.dbcPath ?? (env.CANOPY_DBC || defaultConfigFile('canopy.dbc')),
    nodesPath: opts.nodesPath ?? (env.CANOPY_NODES || defaultConfigFile('nodes.yaml')),
    sensorsPath: opts.sensorsPath ?? (env.CANOPY_SENSORS || defaultConfigFile('sensors.yaml')),
  };
}

/** Loads, parses and validates the DBC, node map and sensor settings at once. */
export function loadPipelineConfig(
  opts: Partial<PipelineConfigOptions> = {},
  env: NodeJS.ProcessEnv = process.env,
): PipelineConfig {
  const paths = resolvePipelinePaths(opts, env);
  let dbc: DbcDatabase;
  try {
    dbc = loadDbcFile(paths.dbcPath);
  } catch (cause) {
    throw new CeaConfigError(`cannot load DBC ${paths.dbcPath}: ${(cause as Error).message}`, { cause });
  }
  return { paths, dbc, nodeMap: loadNodeMap(paths.nodesPath), sensors: loadSensorSettings(paths.sensorsPath) };
}

/** Reads and validates a node map file. */
export function loadNodeMap(file: string): NodeMap {
  return parseNodeMap(readYaml(file));
}

/** Reads the shipped sensor settings and merges `file` (when it is another one) over them. */
export function loadSensorSettings(file: string = defaultConfigFile('sensors.yaml')): SensorSettings {
  const defaults = parseSensorSettings(readYaml(defaultConfigFile('sensors.yaml')));
  return file === defaultConfigFile('sensors.yaml') ? defaults : parseSensorSettings(readYaml(file), defaults);
}

function readYaml(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new CeaConfigError(`cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  try {
    return parseYaml(text);
  } catch (cause) {
    throw new CeaConfigError(`${file} is not valid YAML: ${(cause as Error).message}`, { cause });
  }
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function str(v: unknown, what: string, allowEmpty = false): string {
  if (typeof v !== 'string' || (!allowEmpty && v === '')) throw new CeaConfigError(`${what} must be a string`);
  return v;
}
function int(v: unknown, what: string): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0)
    throw new CeaConfigError(`${what} must be an integer ≥ 0`);
  return n;
}
function finite(v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new CeaConfigError(`${what} must be a number`);
  return v;
}
function strMap(v: unknown, what: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v)) throw new CeaConfigError(`${what} must be a mapping`);
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, str(x, `${what}.${k}`)]));
}

/** Validates a parsed node map document. */
export function parseNodeMap(doc: unknown): NodeMap {
  if (!isObj(doc)) throw new CeaConfigError('node map must be a mapping');
  const scheme = isObj(doc.idScheme) ? doc.idScheme : {};
  const idScheme = {
    nodeShift: scheme.nodeShift === undefined ? 8 : int(scheme.nodeShift, 'idScheme.nodeShift'),
    typeMask: scheme.typeMask === undefined ? 0xff : int(scheme.typeMask, 'idScheme.typeMask'),
  };
  const messageTypes = new Map<number, string>();
  for (const [k, v] of Object.entries(isObj(doc.messageTypes) ? doc.messageTypes : {})) {
    messageTypes.set(int(k, `messageTypes key ${k}`), str(v, `messageTypes.${k}`));
  }
  const signals: NodeMap['signals'] = {};
  for (const [type, m] of Object.entries(isObj(doc.signals) ? doc.signals : {})) {
    signals[type] = strMap(m, `signals.${type}`);
  }
  const faults: NodeMap['faults'] = {};
  for (const [type, f] of Object.entries(isObj(doc.faults) ? doc.faults : {})) {
    if (!isObj(f) || !isObj(f.bits)) throw new CeaConfigError(`faults.${type} needs signal and bits`);
    const bits: Record<string, number> = {};
    for (const [sig, b] of Object.entries(f.bits)) {
      bits[sig] = int(b, `faults.${type}.bits.${sig}`);
      if (bits[sig] > 31) throw new CeaConfigError(`faults.${type}.bits.${sig} must be 0–31`);
    }
    faults[type] = { signal: str(f.signal, `faults.${type}.signal`), bits };
  }
  let psychrometer: PsychrometerNames | null = null;
  if (isObj(doc.psychrometer)) {
    const p = doc.psychrometer;
    psychrometer = {
      dry: str(p.dry, 'psychrometer.dry'),
      wet: str(p.wet, 'psychrometer.wet'),
      pressure: str(p.pressure, 'psychrometer.pressure'),
      rh: str(p.rh, 'psychrometer.rh'),
      vpd: str(p.vpd, 'psychrometer.vpd'),
    };
  }
  if (!Array.isArray(doc.nodes) || doc.nodes.length === 0) throw new CeaConfigError('nodes must be a non-empty list');
  const seen = new Set<number>();
  const nodes = doc.nodes.map((n: unknown, i: number): NodeConfig => {
    if (!isObj(n)) throw new CeaConfigError(`nodes[${i}] must be a mapping`);
    const node = int(n.node, `nodes[${i}].node`);
    if (seen.has(node)) throw new CeaConfigError(`node ${node} is listed twice`);
    seen.add(node);
    const messages = Array.isArray(n.messages) ? n.messages.map((m, j) => str(m, `nodes[${i}].messages[${j}]`)) : [];
    return {
      node,
      location: str(n.location, `nodes[${i}].location`),
      cluster: str(n.cluster, `nodes[${i}].cluster`),
      suffix: n.suffix === undefined || n.suffix === null ? '' : str(n.suffix, `nodes[${i}].suffix`, true),
      messages,
      sensors: strMap(n.sensors, `nodes[${i}].sensors`),
    };
  });
  return { idScheme, messageTypes, signals, faults, psychrometer, nodes };
}

/** Validates a parsed sensor settings document, merged over `base` when given. */
export function parseSensorSettings(doc: unknown, base?: SensorSettings): SensorSettings {
  const d = isObj(doc) ? doc : {};
  const kinds: Record<string, KindLimits> = { ...(base?.kinds ?? {}) };
  for (const [k, v] of Object.entries(isObj(d.kinds) ? d.kinds : {})) {
    if (!isObj(v)) throw new CeaConfigError(`kinds.${k} must be a mapping`);
    const prev = kinds[k];
    const lim: KindLimits = {
      unit: v.unit === undefined && prev ? prev.unit : str(v.unit, `kinds.${k}.unit`),
      min: v.min === undefined && prev ? prev.min : finite(v.min, `kinds.${k}.min`),
      max: v.max === undefined && prev ? prev.max : finite(v.max, `kinds.${k}.max`),
      maxRatePerSecond:
        v.maxRatePerSecond === undefined
          ? (prev?.maxRatePerSecond ?? 0)
          : finite(v.maxRatePerSecond, `kinds.${k}.maxRatePerSecond`),
    };
    if (lim.min > lim.max) throw new CeaConfigError(`kinds.${k}: min > max`);
    kinds[k] = lim;
  }
  const bases = { ...(base?.bases ?? {}), ...strMap(d.bases, 'bases') };
  for (const [b, k] of Object.entries(bases)) {
    if (!kinds[k]) throw new CeaConfigError(`bases.${b}: unknown kind ${k}`);
  }
  const limits: SensorSettings['limits'] = { ...(base?.limits ?? {}) };
  for (const [s, v] of Object.entries(isObj(d.limits) ? d.limits : {})) {
    if (!isObj(v)) throw new CeaConfigError(`limits.${s} must be a mapping`);
    const l: Partial<Omit<KindLimits, 'unit'>> = {};
    if (v.min !== undefined) l.min = finite(v.min, `limits.${s}.min`);
    if (v.max !== undefined) l.max = finite(v.max, `limits.${s}.max`);
    if (v.maxRatePerSecond !== undefined)
      l.maxRatePerSecond = finite(v.maxRatePerSecond, `limits.${s}.maxRatePerSecond`);
    limits[s] = l;
  }
  const calibration: SensorSettings['calibration'] = { ...(base?.calibration ?? {}) };
  for (const [s, v] of Object.entries(isObj(d.calibration) ? d.calibration : {})) {
    if (!isObj(v)) throw new CeaConfigError(`calibration.${s} must be a mapping`);
    const offset = v.offset === undefined ? 0 : finite(v.offset, `calibration.${s}.offset`);
    const gain = v.gain === undefined ? 1 : finite(v.gain, `calibration.${s}.gain`);
    if (gain === 0) throw new CeaConfigError(`calibration.${s}.gain must not be 0`);
    calibration[s] = { offset, gain };
  }
  const p = isObj(d.psychrometer) ? d.psychrometer : {};
  const bp = base?.psychrometer;
  const num = (v: unknown, dflt: number | undefined, what: string, fallback: number) =>
    v === undefined ? (dflt ?? fallback) : finite(v, what);
  const psychrometer = {
    coefficient: num(p.coefficient, bp?.coefficient, 'psychrometer.coefficient', 0.000662),
    dryWickMarginC: num(p.dryWickMarginC, bp?.dryWickMarginC, 'psychrometer.dryWickMarginC', 0.3),
    defaultPressureKpa: num(p.defaultPressureKpa, bp?.defaultPressureKpa, 'psychrometer.defaultPressureKpa', 101.325),
    rhTolerancePct: num(p.rhTolerancePct, bp?.rhTolerancePct, 'psychrometer.rhTolerancePct', 5),
    pairWindowMs: num(p.pairWindowMs, bp?.pairWindowMs, 'psychrometer.pairWindowMs', 5000),
  };
  if (!(psychrometer.coefficient > 0 && psychrometer.coefficient < 0.01)) {
    throw new CeaConfigError('psychrometer.coefficient must be in (0, 0.01) /°C');
  }
  if (!(psychrometer.defaultPressureKpa > 0)) throw new CeaConfigError('psychrometer.defaultPressureKpa must be > 0');
  const r = isObj(d.rateOfChange) ? d.rateOfChange : {};
  const rateOfChange = {
    minWindowS: num(r.minWindowS, base?.rateOfChange.minWindowS, 'rateOfChange.minWindowS', 1),
    resetAfter: num(r.resetAfter, base?.rateOfChange.resetAfter, 'rateOfChange.resetAfter', 5),
  };
  return { kinds, bases, limits, calibration, psychrometer, rateOfChange };
}
