/**
 * One CAN frame as the monitors print it, in the scanner's line format:
 *
 *   [2024-12-11 12:34:56.789] [0x101] [Node 1 Flower Room/front] PT100: Dry=23.5°C, Wet=18.2°C
 *
 * Pure functions: no I/O, so the format is tested directly.
 */
import type { NodeMap } from '../cea/config.js';
import type { Colour, Painter } from './screen.js';

/** A frame from either source (the database's `can_messages`, or the `can:raw` stream). */
export interface DisplayFrame {
  /** Frame time, unix ms. */
  ts: number;
  canId: number;
  extended?: boolean;
  /** Node number when the node map knows it, else null. */
  node: number | null;
  /** 'PT100', 'SCD30', … (the `message_type` column), 'UNKNOWN', or 'INVALID' for an unreadable stream entry. */
  type: string;
  /** "AA FF 04 10" */
  raw: string;
  /** DBC signal → scaled value; null when the id is unknown. */
  decoded: Record<string, number> | null;
  /** Why the entry could not be read (stream entries only). */
  error?: string;
}

/** How each known signal is labelled: `Dry=23.5°C`. Unlisted signals print as `name=value`. */
const LABELS: Record<string, [label: string, unit: string]> = {
  temp_dry_c: ['Dry', '°C'],
  temp_wet_c: ['Wet', '°C'],
  co2_ppm: ['CO2', 'ppm'],
  temp_c: ['Temp', '°C'],
  rh_pct: ['RH', '%'],
  pressure_hpa: ['P', 'hPa'],
  water_temp_c: ['Water', '°C'],
  lab_temp_c: ['Lab', '°C'],
  uptime_s: ['Uptime', 's'],
  errors: ['Errors', ''],
  fault: ['Fault', ''],
};

export const TYPE_COLOURS: Readonly<Record<string, Colour>> = {
  PT100: 'cyan',
  PRESSURE: 'blue',
  SCD30: 'green',
  WATER: 'magenta',
  LAB: 'magenta',
  STATUS: 'yellow',
  UNKNOWN: 'grey',
  INVALID: 'red',
};

export function typeColour(type: string): Colour {
  return TYPE_COLOURS[type] ?? 'grey';
}

const two = (n: number) => String(n).padStart(2, '0');

/** `2024-12-11 12:34:56.789` in the machine's local time zone (as the scanner prints it). */
export function formatTime(ms: number): string {
  const d = new Date(ms);
  if (!Number.isFinite(d.getTime())) return '????-??-?? ??:??:??.???';
  return (
    `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ` +
    `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`
  );
}

/** `23.5`, `58`, `1013.2`: at most two decimals, no trailing zeros. */
export function formatNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return String(Number(v.toFixed(2)));
}

/** `Dry=23.5°C, Wet=18.2°C` (signals in the order the DBC decoded them). */
export function formatValues(decoded: Record<string, number> | null): string {
  if (!decoded) return '';
  return Object.entries(decoded)
    .filter(([name, v]) => !(name === 'fault' && v === 0)) // a fault flag says something only when set
    .map(([name, v]) => {
      const l = LABELS[name];
      return l ? `${l[0]}=${formatNumber(v)}${l[1]}` : `${name}=${formatNumber(v)}`;
    })
    .join(', ');
}

/** `0x101`, or `0x18FF0001` for an extended id. */
export function formatId(id: number, extended = false): string {
  return `0x${id
    .toString(16)
    .toUpperCase()
    .padStart(extended ? 8 : 3, '0')}`;
}

/** `Node 1 Flower Room/front` from the node map; `Node 9` for a node it does not list; `Node ?` without one. */
export function nodeLabel(node: number | null, nodes: NodeMap | undefined): string {
  if (node === null) return 'Node ?';
  const n = nodes?.nodes.find((x) => x.node === node);
  return n ? `Node ${node} ${n.location}/${n.cluster}` : `Node ${node}`;
}

/** One line in the scanner's format, coloured by message type when the painter colours. */
export function formatFrameLine(
  f: DisplayFrame,
  nodes: NodeMap | undefined,
  p: Painter,
  o: { timeOnly?: boolean } = {},
): string {
  const time = o.timeOnly ? formatTime(f.ts).slice(11) : formatTime(f.ts);
  const head = `[${time}] [${formatId(f.canId, f.extended)}] [${nodeLabel(f.node, nodes)}]`;
  const values = f.error ? p.paint('red', f.error) : formatValues(f.decoded) || `data=${f.raw || '-'}`;
  return `${p.paint('grey', head)} ${p.paint(typeColour(f.type), `${f.type}:`)} ${values}`;
}

/** Frame counts per message type. */
export class TypeCounts {
  private readonly counts = new Map<string, number>();
  total = 0;

  add(frames: readonly DisplayFrame[]): void {
    for (const f of frames) {
      this.counts.set(f.type, (this.counts.get(f.type) ?? 0) + 1);
      this.total++;
    }
  }

  /** Most frequent first, then by name. */
  entries(): [string, number][] {
    return [...this.counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  }
}
