/**
 * Where `canopy monitor can` reads its frames: what the database received
 * (`can_messages`, the default) or the `can:raw` stream (`--from-stream`).
 * Both keep a cursor, so each refresh returns only the frames that arrived since.
 */
import { CAN_RAW } from '../contracts/names.js';
import type { Connection } from '../bus/connection.js';
import type { NodeMap } from '../cea/config.js';
import type { DbcDecoder } from '../can/dbc/index.js';
import { parseStreamFields } from '../can/frame.js';
import type { Store, StoredCanMessage } from '../store/index.js';
import type { DisplayFrame } from './frames.js';

export interface FrameSource {
  /** `database sqlite`, `stream can:raw`… (for the header). */
  readonly label: string;
  /** The newest `n` frames, oldest first; the cursor moves past them. */
  latest(n: number): Promise<DisplayFrame[]>;
  /** The frames after the cursor (at most `max`), oldest first; the cursor moves past them. */
  next(max: number): Promise<DisplayFrame[]>;
}

export function fromStoredMessage(m: StoredCanMessage): DisplayFrame {
  return {
    ts: m.timestamp,
    canId: m.canId,
    extended: m.canId > 0x7ff,
    node: m.nodeId,
    type: m.messageType,
    raw: m.rawData,
    decoded: m.decodedData,
  };
}

/** Options of {@link StoreFrameSource}. */
export interface StoreFrameSourceOptions {
  /**
   * On PostgreSQL, only frames whose time is at most this old are read (the
   * time index keeps each refresh cheap on a large hypertable; `can_messages`
   * has no index on its id). SQLite reads by id alone.
   * @defaultValue 3_600_000 (one hour)
   */
  lookbackMs: number;
  /** @defaultValue `Date.now` */
  now: () => number;
}

export const STORE_FRAME_SOURCE_DEFAULTS: StoreFrameSourceOptions = { lookbackMs: 3_600_000, now: Date.now };

/** The frames the worker stored, in insertion order. */
export class StoreFrameSource implements FrameSource {
  readonly label: string;
  private cursor = 0;
  private readonly opts: StoreFrameSourceOptions;

  constructor(
    private readonly store: Store,
    options: Partial<StoreFrameSourceOptions> = {},
  ) {
    this.opts = { ...STORE_FRAME_SOURCE_DEFAULTS, ...options };
    if (!Number.isFinite(this.opts.lookbackMs) || this.opts.lookbackMs <= 0) {
      throw new RangeError('lookbackMs must be a positive number of milliseconds');
    }
    this.label = `database ${store.kind}`;
  }

  private since(): number | undefined {
    return this.store.kind === 'sqlite' ? undefined : this.opts.now() - this.opts.lookbackMs;
  }

  async latest(n: number): Promise<DisplayFrame[]> {
    const rows = await this.store.messages({ limit: n, since: this.since() });
    const last = rows.at(-1);
    if (last) this.cursor = last.id;
    return rows.map(fromStoredMessage);
  }

  async next(max: number): Promise<DisplayFrame[]> {
    const rows = await this.store.messages({ afterId: this.cursor, limit: max, since: this.since() });
    const last = rows.at(-1);
    if (last) this.cursor = last.id;
    return rows.map(fromStoredMessage);
  }
}

/** Options of {@link StreamFrameSource}. */
export interface StreamFrameSourceOptions {
  /** @defaultValue `can:raw` */
  stream: string;
  /** Decodes the frames; without it they show their raw bytes. @defaultValue undefined */
  dbc: DbcDecoder | undefined;
  /** Node numbers, rooms and type names; without it the id's low byte names no type. @defaultValue undefined */
  nodes: NodeMap | undefined;
}

/** The raw frames in the Redis stream, decoded here as the worker would. */
export class StreamFrameSource implements FrameSource {
  readonly label: string;
  private cursor = '0-0';
  private readonly opts: StreamFrameSourceOptions;

  constructor(
    private readonly conn: Connection,
    options: Partial<StreamFrameSourceOptions> = {},
  ) {
    this.opts = { stream: CAN_RAW, dbc: undefined, nodes: undefined, ...options };
    this.label = `stream ${this.opts.stream}`;
  }

  /** One stream entry as a frame (an unreadable entry is shown as INVALID, not skipped). */
  describe(streamId: string, fields: Record<string, string>): DisplayFrame {
    const f = parseStreamFields(fields);
    if (f instanceof Error) {
      return {
        ts: Number(streamId.split('-')[0]),
        canId: Number.parseInt(fields.id ?? '', 16) || 0,
        node: null,
        type: 'INVALID',
        raw: fields.data ?? '',
        decoded: null,
        error: f.message,
      };
    }
    const nodes = this.opts.nodes;
    const scheme = nodes?.idScheme ?? { nodeShift: 8, typeMask: 0xff };
    const msg = this.opts.dbc?.decode(f) ?? null;
    const nodeNum = Math.floor(f.id / 2 ** scheme.nodeShift);
    const known = !f.extended && nodes?.nodes.some((n) => n.node === nodeNum);
    return {
      ts: f.ts,
      canId: f.id,
      extended: f.extended,
      node: known ? nodeNum : null,
      type: (f.extended ? undefined : nodes?.messageTypes.get(f.id & scheme.typeMask)) ?? msg?.name ?? 'UNKNOWN',
      raw: fields.data ?? '',
      decoded: msg ? Object.fromEntries(msg.signals.map((s) => [s.name, s.value])) : null,
    };
  }

  async latest(n: number): Promise<DisplayFrame[]> {
    const entries =
      (await this.conn.run('XREVRANGE', (c) => c.xRevRange(this.opts.stream, '+', '-', { COUNT: n }))) ?? [];
    if (entries[0]) this.cursor = String(entries[0].id);
    return entries.reverse().map((e) => this.describe(String(e.id), e.message as Record<string, string>));
  }

  async next(max: number): Promise<DisplayFrame[]> {
    const entries =
      (await this.conn.run('XRANGE', (c) => c.xRange(this.opts.stream, `(${this.cursor}`, '+', { COUNT: max }))) ?? [];
    const last = entries.at(-1);
    if (last) this.cursor = String(last.id);
    return entries.map((e) => this.describe(String(e.id), e.message as Record<string, string>));
  }
}
