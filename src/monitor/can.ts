import type { Connection } from '../bus/connection.js';
import type { DbcDecoder } from '../can/dbc/index.js';
import { parseStreamFields } from '../can/frame.js';
import { MessageType } from '../can/protocol.js';
import { painter, table, type Colour, type Painter } from './screen.js';

/** One frame as the CAN monitor shows it. */
export interface MonitoredFrame {
  streamId: string;
  ts: number;
  canId: string;
  node: number;
  type: string;
  data: string;
  decoded: string;
  error?: string;
}

const TYPE_NAMES = new Map<number, string>(Object.entries(MessageType).map(([k, v]) => [v, k]));
const TYPE_COLOURS: Record<string, Colour> = {
  PT100: 'cyan',
  PRESSURE: 'blue',
  SCD30: 'green',
  WATER: 'magenta',
  LAB: 'magenta',
  STATUS: 'yellow',
};

/** Decodes one `can:raw` entry with the DBC (invalid entries are shown as such, not skipped). */
export function describeEntry(
  streamId: string,
  fields: Record<string, string>,
  dbc: DbcDecoder | undefined,
): MonitoredFrame {
  const f = parseStreamFields(fields);
  const tsFromId = Number(streamId.split('-')[0]);
  if (f instanceof Error) {
    return {
      streamId,
      ts: tsFromId,
      canId: fields.id ?? '?',
      node: -1,
      type: 'INVALID',
      data: fields.data ?? '',
      decoded: '',
      error: f.message,
    };
  }
  const type = f.extended ? 'EXTENDED' : (TYPE_NAMES.get(f.id & 0xff) ?? 'UNKNOWN');
  const msg = dbc?.decode(f);
  const decoded = msg ? msg.signals.map((s) => `${s.name}=${s.value}${s.unit ? ` ${s.unit}` : ''}`).join(' ') : '';
  return {
    streamId,
    ts: f.ts,
    canId: fields.id as string,
    node: f.extended ? -1 : f.id >> 8,
    type,
    data: fields.data as string,
    decoded,
  };
}

export interface CanMonitorState {
  /** Newest last. */
  frames: MonitoredFrame[];
  counts: Map<string, number>;
  total: number;
  length: number;
}

/** Reads the last `rows` entries and counts types over the last `window` entries (for `--once` and the first screen). */
export async function snapshotCan(
  conn: Connection,
  o: { stream: string; rows: number; window: number; dbc: DbcDecoder | undefined },
): Promise<CanMonitorState & { lastId: string }> {
  const entries =
    (await conn.run('XREVRANGE', (c) => c.xRevRange(o.stream, '+', '-', { COUNT: Math.max(o.rows, o.window) }))) ?? [];
  const frames = entries.map((e) => describeEntry(String(e.id), e.message as Record<string, string>, o.dbc)).reverse();
  const counts = new Map<string, number>();
  for (const f of frames) counts.set(f.type, (counts.get(f.type) ?? 0) + 1);
  const length = await conn.run('XLEN', (c) => c.xLen(o.stream));
  return {
    frames: frames.slice(-o.rows),
    counts,
    total: frames.length,
    length,
    lastId: entries[0] ? String(entries[0].id) : '0-0',
  };
}

/** One screen of `canopy monitor can`. */
export function renderCanScreen(
  s: CanMonitorState,
  o: { stream: string; color: boolean; now: number; windowLabel: string },
): string[] {
  const p: Painter = painter(o.color);
  const colour = (t: string): Colour => TYPE_COLOURS[t] ?? 'red';
  const lines = [
    `${p.paint('bold', 'Canopy - CAN monitor')}  ${new Date(o.now).toISOString()}  stream ${o.stream}  length ${s.length}`,
    '',
    `${p.paint('bold', 'COUNTS')} (${o.windowLabel}, ${s.total} frames)  ` +
      [...s.counts]
        .sort((a, b) => b[1] - a[1])
        .map(([t, n]) => `${p.paint(colour(t), t)} ${n}`)
        .join('  '),
    '',
  ];
  const rows = [['time', 'id', 'node', 'type', 'data', 'decoded']];
  for (const f of s.frames) {
    rows.push([
      new Date(f.ts).toISOString().slice(11, 23),
      f.canId,
      f.node >= 0 ? String(f.node) : '-',
      p.paint(colour(f.type), f.type),
      f.data,
      f.error ? p.paint('red', f.error) : f.decoded,
    ]);
  }
  lines.push(...table(rows));
  return lines;
}
