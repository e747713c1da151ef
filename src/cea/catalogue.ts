import {
  CeaConfigError,
  loadNodeMap,
  loadSensorSettings,
  resolvePipelinePaths,
  type NodeConfig,
  type NodeMap,
  type PipelineConfigOptions,
  type SensorSettings,
} from './config.js';

/** Everything Canopy knows about one sensor. */
export interface SensorInfo {
  /** e.g. `dry_bulb_f`, `lab_temp` */
  name: string;
  /** e.g. `dry_bulb` */
  base: string;
  /** Friendly name from the settings' `labels:` (by name, else by base), else the name. */
  label: string;
  node: number;
  location: string;
  cluster: string;
  /** e.g. `air_temperature`; `unknown` when the base has no kind in the settings. */
  kind: string;
  unit: string;
  /** Valid physical range (inclusive). */
  min: number;
  max: number;
  /** Largest plausible change per second; 0 = no rate check. */
  maxRatePerSecond: number;
  /** rh_x / vpd_x: computed, not measured. */
  derived: boolean;
  /** The DBC message type and signal it is decoded from (null for derived ones). */
  source: { messageType: string; signal: string } | null;
  calibration: { offset: number; gain: number };
}

/** The sensor name of a base on a node: explicit name, else `<base>_<suffix>`, else `<base>`. */
export function sensorName(node: NodeConfig, base: string): string {
  return node.sensors[base] ?? (node.suffix ? `${base}_${node.suffix}` : base);
}

/**
 * The sensor catalogue, generated from the node map and the sensor settings:
 * one entry per (node, mapped signal of a message type the node sends), plus
 * the derived rh and vpd of every node that has both a dry and a wet bulb.
 */
export class SensorCatalogue {
  readonly sensors: readonly SensorInfo[];
  private readonly byName: Map<string, SensorInfo>;

  constructor(nodeMap: NodeMap, settings: SensorSettings) {
    const out: SensorInfo[] = [];
    const make = (node: NodeConfig, base: string, source: SensorInfo['source']): SensorInfo => {
      const name = sensorName(node, base);
      const kindName = settings.bases[base] ?? 'unknown';
      const kind = settings.kinds[kindName];
      const lim = settings.limits[name] ?? {};
      return {
        name,
        base,
        label: settings.labels[name] ?? settings.labels[base] ?? name,
        node: node.node,
        location: node.location,
        cluster: node.cluster,
        kind: kindName,
        unit: kind?.unit ?? '',
        min: lim.min ?? kind?.min ?? Number.NEGATIVE_INFINITY,
        max: lim.max ?? kind?.max ?? Number.POSITIVE_INFINITY,
        maxRatePerSecond: lim.maxRatePerSecond ?? kind?.maxRatePerSecond ?? 0,
        derived: source === null,
        source,
        calibration: settings.calibration[name] ?? { offset: 0, gain: 1 },
      };
    };
    for (const node of nodeMap.nodes) {
      const bases = new Set<string>();
      for (const type of node.messages) {
        for (const [signal, base] of Object.entries(nodeMap.signals[type] ?? {})) {
          out.push(make(node, base, { messageType: type, signal }));
          bases.add(base);
        }
      }
      const p = nodeMap.psychrometer;
      if (p && bases.has(p.dry) && bases.has(p.wet)) {
        out.push(make(node, p.rh, null), make(node, p.vpd, null));
      }
    }
    this.byName = new Map();
    for (const s of out) {
      if (this.byName.has(s.name)) throw new CeaConfigError(`sensor name ${s.name} is produced twice by the node map`);
      this.byName.set(s.name, s);
    }
    this.sensors = out;
  }

  get(name: string): SensorInfo | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return this.sensors.map((s) => s.name);
  }

  /** The sensors of one location (and cluster, when given). */
  at(location: string, cluster?: string): SensorInfo[] {
    return this.sensors.filter((s) => s.location === location && (cluster === undefined || s.cluster === cluster));
  }
}

/**
 * The catalogue from the node map and sensor settings files (options, else
 * `CANOPY_NODES` / `CANOPY_SENSORS`, else the shipped ones); the DBC is not read.
 */
export function loadSensorCatalogue(
  opts: Partial<Pick<PipelineConfigOptions, 'nodesPath' | 'sensorsPath'>> = {},
): SensorCatalogue {
  const paths = resolvePipelinePaths(opts);
  return new SensorCatalogue(loadNodeMap(paths.nodesPath), loadSensorSettings(paths.sensorsPath));
}
