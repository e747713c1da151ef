/**
 * What the API needs to know about a sensor. Until the domain catalogue
 * (src/cea, built from config/nodes.yaml) is on main, {@link defaultCatalogue}
 * is a small adapter holding the default node map of SPEC §3.
 */
export interface SensorInfo {
  name: string;
  location: string;
  cluster: string;
  unit: string;
  /** dry_bulb, wet_bulb, rh, vpd, co2, pressure, secondary_temp, secondary_rh, lab_temp, water_temp, … */
  kind: string;
  min: number;
  max: number;
}

export interface Room {
  location: string;
  cluster: string;
  sensors: SensorInfo[];
}

const KINDS: Array<[kind: string, unit: string, min: number, max: number]> = [
  ['dry_bulb', '°C', -40, 85],
  ['wet_bulb', '°C', -40, 85],
  ['rh', '%', 0, 100],
  ['vpd', 'kPa', 0, 10],
  ['co2', 'ppm', 0, 10000],
  ['pressure', 'hPa', 300, 1100],
  ['secondary_temp', '°C', -40, 85],
  ['secondary_rh', '%', 0, 100],
];

/** The default catalogue of SPEC §3 (nodes 1–4). */
export function defaultCatalogue(): SensorInfo[] {
  const rooms: Array<[suffix: string, location: string, cluster: string]> = [
    ['f', 'Flower Room', 'front'],
    ['b', 'Flower Room', 'back'],
    ['v', 'Veg Room', 'main'],
  ];
  const out: SensorInfo[] = [];
  for (const [suffix, location, cluster] of rooms) {
    for (const [kind, unit, min, max] of KINDS)
      out.push({ name: `${kind}_${suffix}`, location, cluster, unit, kind, min, max });
  }
  out.push({ name: 'lab_temp', location: 'Lab', cluster: 'main', unit: '°C', kind: 'lab_temp', min: -40, max: 85 });
  out.push({ name: 'water_temp', location: 'Lab', cluster: 'main', unit: '°C', kind: 'water_temp', min: -10, max: 60 });
  return out;
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
