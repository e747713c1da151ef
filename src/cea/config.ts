import fs from 'node:fs';
import { loadDbcFile, type DbcDatabase } from '../can/dbc/index.js';
import { defaultConfigFile } from '../can/paths.js';
import { YamlSource, formatProblems, schemaProblems } from './config-errors.js';
import { NodeMapSchema, SensorSettingsSchema, type NodeMapFile, type SensorSettingsFile } from './config-schema.js';

/**
 * The pipeline's configuration files: the DBC (how frames decode), the node
 * map (which node is where and which signal is which sensor) and the sensor
 * settings (ranges, rates, calibration, psychrometer constants). All three
 * are shipped in `config/` and replaceable: option, else environment
 * (`CANOPY_DBC`, `CANOPY_NODES`, `CANOPY_SENSORS`), else the shipped file.
 */

/** A pipeline configuration file is wrong; `problems` lists every finding, one line each. */
export class CeaConfigError extends Error {
  readonly code = 'CEA_CONFIG' as const;
  readonly problems: readonly string[];
  constructor(message: string, options?: { cause?: unknown; problems?: readonly string[] }) {
    super(message, options);
    this.name = 'CeaConfigError';
    this.problems = options?.problems ?? [message];
  }
}

function fileError(file: string, what: string, problems: readonly string[]): CeaConfigError {
  return new CeaConfigError(formatProblems(file, what, problems), { problems });
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
  /** Friendly names: a sensor's name or its base → label (the sensor's own entry wins; fallback: the name). */
  labels: Record<string, string>;
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

/** The given paths, else the shipped files in config/ (a process's configuration passes `CANOPY_DBC`, … here). */
export function resolvePipelinePaths(opts: Partial<PipelineConfigOptions> = {}): PipelineConfigOptions {
  return {
    dbcPath: opts.dbcPath ?? defaultConfigFile('canopy.dbc'),
    nodesPath: opts.nodesPath ?? defaultConfigFile('nodes.yaml'),
    sensorsPath: opts.sensorsPath ?? defaultConfigFile('sensors.yaml'),
  };
}

/** Loads, parses and validates the DBC, node map and sensor settings at once. */
export function loadPipelineConfig(opts: Partial<PipelineConfigOptions> = {}): PipelineConfig {
  const paths = resolvePipelinePaths(opts);
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
  const yaml = readYaml(file, 'node map');
  return parseNodeMap(yaml.value, yaml);
}

/** Reads the shipped sensor settings and merges `file` (when it is another one) over them. */
export function loadSensorSettings(file: string = defaultConfigFile('sensors.yaml')): SensorSettings {
  const shipped = readYaml(defaultConfigFile('sensors.yaml'), 'sensor settings');
  const defaults = parseSensorSettings(shipped.value, undefined, shipped);
  if (file === defaultConfigFile('sensors.yaml')) return defaults;
  const yaml = readYaml(file, 'sensor settings');
  return parseSensorSettings(yaml.value, defaults, yaml);
}

function readYaml(file: string, what: string): YamlSource {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (cause) {
    throw new CeaConfigError(`cannot read ${file}: ${(cause as Error).message}`, { cause });
  }
  const yaml = YamlSource.parse(text, file);
  if ('problem' in yaml) throw fileError(file, what, [yaml.problem]);
  return yaml;
}

/** A number written as text in the file (`'0x1F'`), or one already; the schemas admit nothing else. */
const int = (v: number | string): number => (typeof v === 'string' ? Number(v) : v);
const names = (v: Record<string, string> | null | undefined): Record<string, string> => ({ ...(v ?? {}) });

/**
 * Validates a parsed node map document (`yaml`: where it came from, for
 * line numbers); throws {@link CeaConfigError} listing every problem.
 */
export function parseNodeMap(doc: unknown, yaml?: YamlSource): NodeMap {
  const file = yaml?.file ?? 'node map';
  const shape = schemaProblems(NodeMapSchema, doc, yaml);
  if (shape.length) throw fileError(file, 'node map', shape);
  const d = doc as NodeMapFile;
  const problems: string[] = [];
  const at = (pointer: string) => yaml?.at(pointer) ?? '';
  const idScheme = {
    nodeShift: d.idScheme?.nodeShift === undefined ? 8 : int(d.idScheme.nodeShift),
    typeMask: d.idScheme?.typeMask === undefined ? 0xff : int(d.idScheme.typeMask),
  };
  const messageTypes = new Map<number, string>();
  for (const [k, v] of Object.entries(d.messageTypes ?? {})) {
    const code = Number(k);
    if (k.trim() === '' || !Number.isInteger(code) || code < 0)
      problems.push(`${at(`/messageTypes/${k}`)}messageTypes key ${k} must be an integer ≥ 0`);
    else messageTypes.set(code, v);
  }
  const signals: NodeMap['signals'] = {};
  for (const [type, m] of Object.entries(d.signals ?? {})) signals[type] = names(m);
  const faults: NodeMap['faults'] = {};
  for (const [type, f] of Object.entries(d.faults ?? {})) faults[type] = { signal: f.signal, bits: { ...f.bits } };
  const psychrometer: PsychrometerNames | null = d.psychrometer ? { ...d.psychrometer } : null;
  const seen = new Set<number>();
  const nodes = d.nodes.map((n, i): NodeConfig => {
    const node = int(n.node);
    if (seen.has(node)) problems.push(`${at(`/nodes/${i}/node`)}nodes[${i}].node: node ${node} is listed twice`);
    seen.add(node);
    return {
      node,
      location: n.location,
      cluster: n.cluster,
      suffix: n.suffix ?? '',
      messages: [...(n.messages ?? [])],
      sensors: names(n.sensors),
    };
  });
  if (problems.length) throw fileError(file, 'node map', problems);
  return { idScheme, messageTypes, signals, faults, psychrometer, nodes };
}

/**
 * Validates a parsed sensor settings document, merged over `base` when
 * given (`yaml`: where it came from, for line numbers); throws
 * {@link CeaConfigError} listing every problem.
 */
export function parseSensorSettings(doc: unknown, base?: SensorSettings, yaml?: YamlSource): SensorSettings {
  const file = yaml?.file ?? 'sensor settings';
  const empty = doc === null || doc === undefined;
  const shape = empty ? [] : schemaProblems(SensorSettingsSchema, doc, yaml);
  if (shape.length) throw fileError(file, 'sensor settings', shape);
  const d = (empty ? {} : doc) as SensorSettingsFile;
  const problems: string[] = [];
  const at = (pointer: string) => yaml?.at(pointer) ?? '';
  const kinds: Record<string, KindLimits> = { ...(base?.kinds ?? {}) };
  for (const [k, v] of Object.entries(d.kinds ?? {})) {
    const prev = kinds[k];
    const missing = (['unit', 'min', 'max'] as const).filter((f) => v[f] === undefined && !prev);
    if (missing.length) {
      problems.push(`${at(`/kinds/${k}`)}kinds.${k} misses ${missing.join(', ')} (a new kind needs them)`);
      continue;
    }
    const lim: KindLimits = {
      unit: v.unit ?? prev!.unit,
      min: v.min ?? prev!.min,
      max: v.max ?? prev!.max,
      maxRatePerSecond: v.maxRatePerSecond ?? prev?.maxRatePerSecond ?? 0,
    };
    if (lim.min > lim.max) problems.push(`${at(`/kinds/${k}`)}kinds.${k}: min > max`);
    kinds[k] = lim;
  }
  const bases = { ...(base?.bases ?? {}), ...names(d.bases) };
  for (const [b, k] of Object.entries(bases)) {
    if (!kinds[k]) problems.push(`${at(`/bases/${b}`)}bases.${b}: unknown kind ${k}`);
  }
  const labels = { ...(base?.labels ?? {}), ...names(d.labels) };
  const limits: SensorSettings['limits'] = { ...(base?.limits ?? {}) };
  for (const [s, v] of Object.entries(d.limits ?? {})) limits[s] = { ...v };
  const calibration: SensorSettings['calibration'] = { ...(base?.calibration ?? {}) };
  for (const [s, v] of Object.entries(d.calibration ?? {})) {
    const gain = v.gain ?? 1;
    if (gain === 0) problems.push(`${at(`/calibration/${s}/gain`)}calibration.${s}.gain must not be 0`);
    calibration[s] = { offset: v.offset ?? 0, gain };
  }
  const p = d.psychrometer ?? {};
  const bp = base?.psychrometer;
  const psychrometer = {
    coefficient: p.coefficient ?? bp?.coefficient ?? 0.000662,
    dryWickMarginC: p.dryWickMarginC ?? bp?.dryWickMarginC ?? 0.3,
    defaultPressureKpa: p.defaultPressureKpa ?? bp?.defaultPressureKpa ?? 101.325,
    rhTolerancePct: p.rhTolerancePct ?? bp?.rhTolerancePct ?? 5,
    pairWindowMs: p.pairWindowMs ?? bp?.pairWindowMs ?? 5000,
  };
  if (!(psychrometer.coefficient > 0 && psychrometer.coefficient < 0.01))
    problems.push(`${at('/psychrometer/coefficient')}psychrometer.coefficient must be in (0, 0.01) /°C`);
  if (!(psychrometer.defaultPressureKpa > 0))
    problems.push(`${at('/psychrometer/defaultPressureKpa')}psychrometer.defaultPressureKpa must be > 0`);
  const r = d.rateOfChange ?? {};
  const rateOfChange = {
    minWindowS: r.minWindowS ?? base?.rateOfChange.minWindowS ?? 1,
    resetAfter: r.resetAfter ?? base?.rateOfChange.resetAfter ?? 5,
  };
  if (problems.length) throw fileError(file, 'sensor settings', problems);
  return { kinds, bases, labels, limits, calibration, psychrometer, rateOfChange };
}
