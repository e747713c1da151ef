import { SensorCatalogue } from '../../cea/catalogue.js';
import { loadPipelineConfig, type PipelineConfigOptions } from '../../cea/config.js';

/** What the API tells clients about a sensor (a view of the domain catalogue in src/cea). */
export interface SensorInfo {
  /** e.g. `dry_bulb_f` */
  name: string;
  /** e.g. `dry_bulb`: what the dashboard groups by */
  base: string;
  /** Friendly name (config/sensors.yaml `labels:`), else the name. */
  label: string;
  location: string;
  cluster: string;
  /** e.g. `air_temperature` */
  kind: string;
  unit: string;
  /** Valid physical range; null when unbounded. */
  min: number | null;
  max: number | null;
  /** rh/vpd are computed, not measured. */
  derived: boolean;
}

export interface Room {
  location: string;
  cluster: string;
  sensors: SensorInfo[];
}

/** The catalogue built from the node map and sensor settings at the given paths (else the shipped files). */
export function loadCatalogue(opts: Partial<PipelineConfigOptions> = {}): SensorInfo[] {
  const cfg = loadPipelineConfig(opts);
  return new SensorCatalogue(cfg.nodeMap, cfg.sensors).sensors.map((s) => ({
    name: s.name,
    base: s.base,
    label: s.label,
    location: s.location,
    cluster: s.cluster,
    kind: s.kind,
    unit: s.unit,
    min: Number.isFinite(s.min) ? s.min : null,
    max: Number.isFinite(s.max) ? s.max : null,
    derived: s.derived,
  }));
}

/** Sensors grouped by (location, cluster), in catalogue order. */
export function roomsOf(catalogue: readonly SensorInfo[]): Room[] {
  const map = new Map<string, Room>();
  for (const s of catalogue) {
    const key = `${s.location}\u0000${s.cluster}`;
    let r = map.get(key);
    if (!r) {
      r = { location: s.location, cluster: s.cluster, sensors: [] };
      map.set(key, r);
    }
    r.sensors.push(s);
  }
  return [...map.values()];
}
